import Foundation
import PatchCore

/// The isolations the ablation compares: `fit --dual`'s two modes (`DefectIsolationMode`) at its two scales
/// (`DefectScale`). `crop` is the thesis' setting (every patch of a crop around the region, resized to the input
/// size); `image_scale_mask_overlap` is `fit --dual`'s default (the patches over the mask, with the defect seen at the
/// scale of the test images).
public enum AblationIsolation: String, Sendable, Codable, CaseIterable, Hashable {
    case crop
    case maskOverlap = "mask_overlap"
    case imageScaleCrop = "image_scale_crop"
    case imageScaleMaskOverlap = "image_scale_mask_overlap"

    public var mode: DefectIsolationMode {
        switch self {
        case .crop, .imageScaleCrop: return .crop
        case .maskOverlap, .imageScaleMaskOverlap: return .maskOverlap
        }
    }

    public var scale: DefectScale {
        switch self {
        case .crop, .maskOverlap: return .resizedCrop
        case .imageScaleCrop, .imageScaleMaskOverlap: return .imageScale
        }
    }

    /// The `fit --dual` isolation with this mode and scale.
    public func isolation(padding: Double) -> DefectIsolation { DefectIsolation(mode: mode, scale: scale, padding: padding) }

    /// The case matching `fit --dual`'s default isolation.
    public static var fitDefault: AblationIsolation? {
        let d = DefectIsolation()
        return allCases.first { $0.mode == d.mode && $0.scale == d.scale }
    }

    public static var choices: String { allCases.map(\.rawValue).joined(separator: "|") }
}

/// Isolated defect patches of the ablation's positive examples for each isolation, through the same
/// `PositivePatchExtractor` as `fit --dual` (so every row is exactly what fitting with that isolation would build).
///
/// ```swift
/// let p = try AblationPositives.extract(extractor: extractor, examples: real + synthetic, padding: 0.07)
/// let rows = p.patches[.crop]!.rows { real.contains($0) }
/// ```
public struct AblationPositives: Sendable {
    /// Per isolation: the kept patches of every example (examples without a usable region are left out).
    public var patches: [AblationIsolation: PositivePatches]
    /// Feature seconds per used example for each isolation (its extraction time shared evenly), for the fit time of a subset.
    public var seconds: [AblationIsolation: Double]
    public var warnings: [SkippedImage]

    public static func extract(extractor: FeatureExtractor, examples: [PositiveExample], padding: Double,
                               isolations: [AblationIsolation] = AblationIsolation.allCases, skipBad: Bool = false,
                               progress: ProgressHandler? = nil) throws -> AblationPositives {
        var patches: [AblationIsolation: PositivePatches] = [:]
        var seconds: [AblationIsolation: Double] = [:]
        var warnings: [SkippedImage] = []
        for isolation in isolations {
            let start = Date()
            let p = try PositivePatchExtractor.extract(extractor: extractor, examples: examples,
                                                       isolation: isolation.isolation(padding: padding),
                                                       skipBad: skipBad, progress: progress)
            seconds[isolation] = Date().timeIntervalSince(start) / Double(max(1, p.examples.count))
            patches[isolation] = p
            // The notes (empty masks, resized masks) repeat per isolation; keep each once.
            for w in p.warnings where !warnings.contains(w) { warnings.append(w) }
        }
        return AblationPositives(patches: patches, seconds: seconds, warnings: warnings)
    }
}
