import Foundation
import ImageIO

/// How images become model inputs.
public enum InputTransform: Sendable, Codable, Equatable, CustomStringConvertible {
    /// torchvision `Resize(resize)` (shorter side) then `CenterCrop(crop)`: the PatchCore paper's protocol.
    case resizeCrop(resize: Int, crop: Int)
    /// Plain resize to width x height, for parts whose aspect ratio matters (`--size WxH`).
    case resize(width: Int, height: Int)

    public var inputSize: (width: Int, height: Int) {
        switch self {
        case let .resizeCrop(_, crop): return (crop, crop)
        case let .resize(w, h): return (w, h)
        }
    }

    public var description: String {
        switch self {
        case let .resizeCrop(r, c): return "resize \(r) + centre crop \(c)"
        case let .resize(w, h): return "resize \(w)x\(h)"
        }
    }

    /// Where, in the pixels of a `width` x `height` source image, the model input comes from: the centre crop's
    /// rectangle mapped back through the resize (the whole image for a plain resize). Heatmaps use it to put the
    /// anomaly map back onto the image the camera took.
    public func sourceRegion(width: Int, height: Int) -> (x: Double, y: Double, width: Double, height: Double) {
        switch self {
        case .resize:
            return (0, 0, Double(width), Double(height))
        case let .resizeCrop(resize, crop):
            let resized = Image.resizedSize(width: width, height: height, shorterSide: resize)
            let origin = Image.centerCropOrigin(width: resized.width, height: resized.height, cropWidth: crop, cropHeight: crop)
            let sx = Double(width) / Double(resized.width), sy = Double(height) / Double(resized.height)
            return (Double(origin.x) * sx, Double(origin.y) * sy, Double(crop) * sx, Double(crop) * sy)
        }
    }

    /// Parses `WxH` (e.g. `224x224`).
    public static func parseSize(_ text: String) -> InputTransform? {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w >= 32, h >= 32, w <= 4096, h <= 4096 else { return nil }
        return .resize(width: w, height: h)
    }
}

/// Everything that defines a PatchCore model before fitting. Stored verbatim in the model file.
public struct PatchCoreConfig: Sendable, Codable, Equatable {
    public var backbone: String
    public var taps: [String]
    public var transform: InputTransform
    public var mean: [Float]
    public var std: [Float]
    /// Fraction of training patches kept by the greedy coreset (1.0 keeps all).
    public var coresetRatio: Double
    /// Random projection dimension used only while selecting the coreset.
    public var projectionDimension: Int
    /// Optional reduction of patch features to this many channels (adaptive average pooling); nil keeps all.
    public var featureDimension: Int?
    /// Bank neighbourhood size for the image-score reweighting (PatchCore Eq. 7); 1 disables reweighting.
    public var reweightNeighbours: Int
    /// Gaussian sigma (pixels at input resolution) applied to anomaly maps.
    public var blurSigma: Float
    public var seed: UInt64

    public init(backbone: String, taps: [String], transform: InputTransform = .resizeCrop(resize: 256, crop: 224),
                mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225],
                coresetRatio: Double = 0.1, projectionDimension: Int = 128, featureDimension: Int? = nil,
                reweightNeighbours: Int = 9, blurSigma: Float = 4, seed: UInt64 = 0) {
        self.backbone = backbone; self.taps = taps; self.transform = transform; self.mean = mean; self.std = std
        self.coresetRatio = coresetRatio; self.projectionDimension = projectionDimension
        self.featureDimension = featureDimension; self.reweightNeighbours = reweightNeighbours
        self.blurSigma = blurSigma; self.seed = seed
    }

    enum CodingKeys: String, CodingKey {
        case backbone, taps, transform, mean, std, seed
        case coresetRatio = "coreset_ratio"
        case projectionDimension = "projection_dimension"
        case featureDimension = "feature_dimension"
        case reweightNeighbours = "reweight_neighbours"
        case blurSigma = "blur_sigma"
    }

    /// Whether both configurations turn an image into the same patch features (backbone, taps, input transform,
    /// normalisation, reduction), whatever their bank and scoring settings.
    public func extractsSameFeatures(as other: PatchCoreConfig) -> Bool {
        backbone == other.backbone && taps == other.taps && transform == other.transform && mean == other.mean
            && std == other.std && featureDimension == other.featureDimension
    }

    /// Checks values a user can set, with a message that says how to fix them.
    public func validate() throws {
        func bad(_ s: String) -> PatchCoreError { .invalidConfiguration(s) }
        guard coresetRatio > 0, coresetRatio <= 1 else { throw bad("coreset ratio must be in (0, 1], got \(coresetRatio)") }
        guard !taps.isEmpty else { throw bad("taps: need at least one layer name") }
        guard reweightNeighbours >= 1 else { throw bad("reweight neighbours must be >= 1, got \(reweightNeighbours)") }
        guard blurSigma >= 0 else { throw bad("blur sigma must be >= 0, got \(blurSigma)") }
        guard mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 }) else { throw bad("mean/std need 3 positive-std values") }
        if let d = featureDimension, d < 1 { throw bad("feature dimension must be >= 1, got \(d)") }
        switch transform {
        case let .resizeCrop(r, c): guard c >= 32, r >= c else { throw bad("resize \(r) must be >= crop \(c) >= 32") }
        case let .resize(w, h): guard w >= 32, h >= 32 else { throw bad("input size must be at least 32x32, got \(w)x\(h)") }
        }
    }
}

/// Errors of the PatchCore pipeline that are not about one file format.
public enum PatchCoreError: Error, CustomStringConvertible {
    case invalidConfiguration(String)
    case emptyTrainingSet(String)
    case modelFile(file: String, reason: String)
    case incompatibleModel(file: String, reason: String)
    case badImages([String])

    public var description: String {
        switch self {
        case let .invalidConfiguration(s): return "invalid configuration: \(s)"
        case let .emptyTrainingSet(s): return "no training images: \(s)"
        case let .modelFile(f, r): return "\(f): not a usable model file: \(r)"
        case let .incompatibleModel(f, r): return "\(f): \(r)"
        case let .badImages(list): return "\(list.count) unreadable image(s):\n  " + list.joined(separator: "\n  ")
        }
    }
}
