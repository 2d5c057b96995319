import Foundation

/// The classical (non-diffusion) ways of making a defect.
public enum ClassicalMethod: String, Sendable, Codable, CaseIterable {
    /// A real defect region cropped from a defective image, rotated / scaled, alpha-blended onto a good image (CutPaste
    /// with real defects instead of random good patches).
    case cutPaste = "cut_paste"
    /// A mask whose inside blends the image with another texture (DRAEM's anomaly source).
    case perlinTexture = "perlin_texture"
    /// A brightness / contrast change inside a mask.
    case perlinIntensity = "perlin_intensity"

    /// True for the methods that need no real defect (they can run on good images alone).
    public var isProcedural: Bool { self != .cutPaste }

    /// Parses `cut_paste,perlin_texture` (comma-separated, spaces ignored).
    public static func parseList(_ text: String) throws -> [ClassicalMethod] {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else {
            throw DefectSynthesisError.invalidArgument("no method given; choose from \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var out: [ClassicalMethod] = []
        for name in names {
            guard let m = ClassicalMethod(rawValue: name) else {
                throw DefectSynthesisError.invalidArgument(
                    "unknown method '\(name)'; choose from \(allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if !out.contains(m) { out.append(m) }
        }
        return out
    }
}

/// Settings of `ClassicalDefectGenerator`. The values a sample used are written into its manifest record, so a
/// later change of defaults does not change how a recorded sample regenerates.
///
/// ```swift
/// var options = ClassicalGeneratorOptions()
/// options.methods = [.perlinTexture, .perlinIntensity]
/// options.angleRange = 0...0
/// ```
public struct ClassicalGeneratorOptions: Sendable, Codable, Equatable {
    /// Methods to draw from, uniformly per sample. `nil`: every method the inputs allow (`cut_paste` only when real
    /// defect images are available).
    public var methods: [ClassicalMethod]?

    // cut_paste
    /// Pixels of context kept around a defect region's bounding box when cropping it.
    public var cropPadding: Int = 4
    /// Scale of the pasted crop (reduced when the crop would not fit the good image).
    public var scaleRange: ClosedRange<Double> = 0.75...1.25
    /// Rotation in degrees.
    public var angleRange: ClosedRange<Double> = 0...360
    /// Sigma (pixels, crop scale) of the Gaussian feather of the region mask used as alpha; 0 = hard edge.
    public var featherSigma: Double = 1.0
    /// Shift the crop's colours by (mean of the good image under the paste) - (mean of the crop's context around the
    /// defect), per channel: the defect keeps its contrast to its surroundings while its background level follows the
    /// target surface. A mean shift only (no Poisson blending).
    public var matchColour: Bool = true
    /// Defect regions smaller than this many pixels are not chosen while larger ones exist.
    public var minRegionArea: Int = 4

    // perlin_texture / perlin_intensity
    public var perlin: PerlinMaskOptions = .init()
    /// When masks are given (files or a data set), the chance that a procedural method paints inside one of them
    /// (augmented) instead of a Perlin mask.
    public var givenMaskProbability: Double = 0.5
    /// DRAEM's beta: inside the mask, output = beta * image + (1 - beta) * texture.
    public var betaRange: ClosedRange<Double> = 0...0.8
    /// Chance of a procedural noise texture instead of a patch of another good image.
    public var noiseTextureProbability: Double = 0.5
    /// Magnitude of the brightness change in 8-bit levels (the sign is drawn).
    public var brightnessRange: ClosedRange<Double> = 20...60
    /// Contrast factor about the mask's mean.
    public var contrastRange: ClosedRange<Double> = 0.6...1.4

    /// Pixels whose blend weight is at most this are left untouched and are outside the output mask.
    public var alphaThreshold: Double = 0.05

    public init() {}

    /// Reads options from JSON (e.g. a saved run's settings), then `validate()`s them; errors name `file` and the
    /// field ("field perlin.octaves: expected a non-negative integer", "feather sigma nan must be in 0...50").
    public init(json data: Data, file: String) throws {
        do { self = try JSONDecoder().decode(ClassicalGeneratorOptions.self, from: data) } catch {
            throw DefectSynthesisError.unreadable(file: file, reason: SyntheticDefectSet.describe(error)
                .replacingOccurrences(of: "a non-negative integer", with: "a number"))
        }
        do { try validate() } catch let DefectSynthesisError.invalidArgument(reason) {
            throw DefectSynthesisError.invalidArgument("\(file): \(reason)")
        }
    }

    public func validate() throws {
        func fail(_ s: String) -> DefectSynthesisError { .invalidArgument(s) }
        if let methods, methods.isEmpty { throw fail("methods: give at least one of \(ClassicalMethod.allCases.map(\.rawValue))") }
        guard (0...256).contains(cropPadding) else { throw fail("crop padding \(cropPadding) must be in 0...256") }
        guard scaleRange.lowerBound > 0, scaleRange.upperBound <= 10 else { throw fail("scale range \(scaleRange) must lie in (0, 10]") }
        guard angleRange.lowerBound.isFinite, angleRange.upperBound.isFinite,
              angleRange.lowerBound >= -3600, angleRange.upperBound <= 3600 else {
            throw fail("angle range \(angleRange) must lie in [-3600, 3600] degrees")
        }
        guard (0...50).contains(featherSigma) else { throw fail("feather sigma \(featherSigma) must be in 0...50") }
        guard minRegionArea >= 1 else { throw fail("minimum region area \(minRegionArea) must be >= 1") }
        guard (0...1).contains(givenMaskProbability) else {
            throw fail("given mask probability must be in [0, 1], got \(givenMaskProbability)")
        }
        guard (0...1).contains(noiseTextureProbability) else {
            throw fail("noise texture probability must be in [0, 1], got \(noiseTextureProbability)")
        }
        guard betaRange.lowerBound >= 0, betaRange.upperBound < 1 else { throw fail("beta range \(betaRange) must lie in [0, 1)") }
        guard brightnessRange.lowerBound >= 0, brightnessRange.upperBound <= 255 else {
            throw fail("brightness range \(brightnessRange) must lie in [0, 255]")
        }
        guard contrastRange.lowerBound >= 0, contrastRange.upperBound <= 10 else { throw fail("contrast range \(contrastRange) must lie in [0, 10]") }
        guard alphaThreshold >= 0, alphaThreshold < 1 else { throw fail("alpha threshold \(alphaThreshold) must be in [0, 1)") }
        try perlin.validate()
    }
}
