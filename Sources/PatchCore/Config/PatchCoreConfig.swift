import Backbones
import Foundation
import ImageIO
import PatchFeatures

/// How images become model inputs: the input geometry, recorded in the model file and applied identically at fit and
/// at scoring. The first two give every image the same input size; the last two keep each image's aspect ratio, so
/// images of different sizes give feature grids (and anomaly maps) of different sizes.
public enum InputTransform: Sendable, Codable, Equatable, CustomStringConvertible {
    /// torchvision `Resize(resize)` (shorter side) then `CenterCrop(crop)`: the PatchCore paper's protocol.
    case resizeCrop(resize: Int, crop: Int)
    /// Plain resize to width x height, for parts whose aspect ratio matters (`--size WxH`).
    case resize(width: Int, height: Int)
    /// torchvision `Resize(side)` without a crop: the shorter side becomes `side`, the aspect ratio is kept
    /// (`--short-side N`).
    case shortSide(side: Int)
    /// Each image at its own size times `scale` (1 = the camera's pixels), no distortion (`--native [--scale S]`).
    case native(scale: Double)

    /// Smallest model input side: below it the coarsest taps of the backbones (stride 16-32) have no cell left.
    public static let minimumSide = 32
    /// Range of `native(scale:)`.
    public static let scaleRange: ClosedRange<Double> = 0.05...4

    /// The input size every image gets, or nil when it depends on the image (`shortSide`, `native`).
    public var fixedInputSize: (width: Int, height: Int)? {
        switch self {
        case let .resizeCrop(_, crop): return (crop, crop)
        case let .resize(w, h): return (w, h)
        case .shortSide, .native: return nil
        }
    }

    /// The model input size of a `width` x `height` image (before any limit or minimum is checked).
    public func inputSize(forWidth width: Int, height: Int) -> (width: Int, height: Int) {
        switch self {
        case let .resizeCrop(_, crop): return (crop, crop)
        case let .resize(w, h): return (w, h)
        case let .shortSide(side: side): return Image.resizedSize(width: width, height: height, shorterSide: side)
        case let .native(scale):
            guard scale != 1 else { return (width, height) }
            return (max(1, Int((Double(width) * scale).rounded())), max(1, Int((Double(height) * scale).rounded())))
        }
    }

    /// The size defect crops are brought to when positives are isolated as resized crops: the input size, or for
    /// geometries without one a square of the short side (`shortSide`) or of 224 pixels times the scale (`native`).
    public var cropInputSize: (width: Int, height: Int) {
        switch self {
        case let .shortSide(side: side): return (side, side)
        case let .native(scale):
            let side = max(Self.minimumSide, Int((224 * scale).rounded()))
            return (side, side)
        default: return fixedInputSize!
        }
    }

    public var description: String {
        switch self {
        case let .resizeCrop(r, c): return "resize \(r) + centre crop \(c)"
        case let .resize(w, h): return "resize \(w)x\(h)"
        case let .shortSide(side: s): return "short side \(s) (aspect kept)"
        case let .native(scale): return scale == 1 ? "native (each image at its own size)" : "native x\(scale) (aspect kept)"
        }
    }

    /// Where, in the pixels of a `width` x `height` source image, the model input comes from: the centre crop's
    /// rectangle mapped back through the resize (the whole image otherwise). Heatmaps use it to put the
    /// anomaly map back onto the image the camera took.
    public func sourceRegion(width: Int, height: Int) -> (x: Double, y: Double, width: Double, height: Double) {
        switch self {
        case .resize, .shortSide, .native:
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
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w >= minimumSide, h >= minimumSide,
              w <= PatchCoreConfig.maxInputSide, h <= PatchCoreConfig.maxInputSide else { return nil }
        return .resize(width: w, height: h)
    }

    /// Parses the one-word form used by the service and reports: `WxH`, `resize:R:crop:C`, `short-side:N`,
    /// `native` or `native:S`. nil when the text is none of them (ranges are checked by `PatchCoreConfig.validate`).
    public static func parse(_ text: String) -> InputTransform? {
        let t = text.lowercased().trimmingCharacters(in: .whitespaces)
        if t == "native" { return .native(scale: 1) }
        let parts = t.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.first {
        case "native" where parts.count == 2:
            guard let s = Double(parts[1]), s.isFinite else { return nil }
            return .native(scale: s)
        case "short-side" where parts.count == 2:
            return Int(parts[1]).map { .shortSide(side: $0) }
        case "resize" where parts.count == 4 && parts[2] == "crop":
            guard let r = Int(parts[1]), let c = Int(parts[3]) else { return nil }
            return .resizeCrop(resize: r, crop: c)
        default:
            return parts.count == 1 ? parseSize(t) : nil
        }
    }

    /// The form `parse` reads back.
    public var token: String {
        switch self {
        case let .resizeCrop(r, c): return "resize:\(r):crop:\(c)"
        case let .resize(w, h): return "\(w)x\(h)"
        case let .shortSide(side: s): return "short-side:\(s)"
        case let .native(scale): return scale == 1 ? "native" : "native:\(scale)"
        }
    }
}

/// Tiled feature extraction (`--tile WxH --tile-overlap P`): the prepared input is cut into tiles of `width` x
/// `height` input pixels; each tile's backbone pass also sees `overlap` pixels of its neighbours on every side (the
/// halo), and only the tile's own cells are kept, so the stitched grid is the whole-image grid. Sides and overlap are
/// multiples of `alignment`, the largest tap stride, so every tile's cells line up with the whole image's. Memory of
/// one pass is bounded by (tile + 2 overlap)^2 whatever the image size; an input no larger than one tile is one pass.
public struct TileSpec: Sendable, Codable, Equatable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public var overlap: Int

    public static let alignment = 32
    public static let maxSide = 4096

    public init(width: Int, height: Int, overlap: Int = 128) {
        self.width = width; self.height = height; self.overlap = overlap
    }

    public var description: String { "tiles \(width)x\(height), overlap \(overlap)" }

    /// `WxH` (as `--tile 512x512`) with the given overlap; nil unless the text is two integers around an `x`
    /// (the ranges are `validate()`'s to check and name).
    public static func parse(_ text: String, overlap: Int = 128) -> TileSpec? {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]) else { return nil }
        return TileSpec(width: w, height: h, overlap: overlap)
    }

    /// Checks sides and overlap, naming the value.
    public func validate() throws {
        let a = Self.alignment
        guard width >= a, height >= a, width <= Self.maxSide, height <= Self.maxSide, width % a == 0, height % a == 0 else {
            throw PatchCoreError.invalidConfiguration("tile: sides must be multiples of \(a) in \(a)...\(Self.maxSide), got \(width)x\(height)")
        }
        guard overlap >= 0, overlap <= Self.maxSide, overlap % a == 0 else {
            throw PatchCoreError.invalidConfiguration("tile overlap must be a multiple of \(a) in 0...\(Self.maxSide) pixels, got \(overlap)")
        }
    }
}

/// Where a single-bank model's image score comes from.
public enum ImageScoreSource: String, Sendable, Codable, CaseIterable {
    /// The patch scores: the largest, reweighted by its bank neighbourhood (PatchCore Eq. 7; `reweightNeighbours`).
    case patch
    /// The anomaly map's largest value, after its blur (`blurSigma`): the hottest pixel the operator sees, and less
    /// moved by one stray patch (bench/RESULTS.md, Magnetic Tile).
    case mapMax = "map_max"
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
    /// Tiled feature extraction for large inputs; nil: one backbone pass per image.
    public var tile: TileSpec?
    /// With `native`: inputs below `InputTransform.minimumSide` a side are padded (edge pixels repeated, the map
    /// cropped back) instead of refused. nil or false: refused, naming the file.
    public var pad: Bool?
    /// Image score of a single-bank model; nil means `.patch` (files written before the setting existed). Dual
    /// models score by their `DualScoring` rule.
    public var imageScore: ImageScoreSource?
    /// Side k of the local neighbourhood each tap is averaged over before the taps are joined (PatchCore's
    /// `patchsize`, odd); nil means 3, the paper's (files written before the setting existed).
    public var patchSize: Int?

    /// The neighbourhood side in effect (`patchSize`, 3 when unset).
    public var effectivePatchSize: Int { patchSize ?? Self.defaultPatchSize }
    /// The paper's neighbourhood side, used when `patchSize` is unset.
    public static let defaultPatchSize = PatchFeatureAggregator.defaultPatchSize

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
        case tile, pad
        case imageScore = "image_score"
        case patchSize = "patch_size"
    }

    /// The image score under `imageScore`: the patch scores' (`patchScore`) or the blurred map's largest value (NaN
    /// values of the map, if any, are left out). A dual model keeps its own rule's score.
    public func imageScore(patchScore: Float, map: [Float], dual: Bool) -> Float {
        guard imageScore == .mapMax, !dual else { return patchScore }
        return map.reduce(-Float.infinity) { $1.isNaN ? $0 : max($0, $1) }
    }

    /// Whether both configurations turn an image into the same patch features (backbone, taps, input transform,
    /// normalisation, reduction), whatever their bank and scoring settings.
    public func extractsSameFeatures(as other: PatchCoreConfig) -> Bool {
        backbone == other.backbone && taps == other.taps && transform == other.transform && mean == other.mean
            && std == other.std && featureDimension == other.featureDimension && tile == other.tile
            && (pad ?? false) == (other.pad ?? false) && effectivePatchSize == other.effectivePatchSize
    }

    /// Largest model input side. Images are decoded at any size (within `InputLimits`), but the backbone runs on
    /// this; larger inputs would need a tiled pipeline.
    public static let maxInputSide = 4096
    /// Largest patch feature dimension (WideResNet-101's layer2 + layer3 concatenation is 1536).
    public static let maxFeatureDimension = 65_536
    /// Largest anomaly-map blur sigma in input pixels (the paper uses 4; a kernel of 8 sigma is then 512 pixels wide).
    public static let maxBlurSigma: Float = 64
    /// Largest local neighbourhood side (`patchSize`): 15 cells of a stride-8 tap already span 120 input pixels.
    public static let maxPatchSize = 15
    /// Largest neighbourhood of the image-score reweighting.
    public static let maxReweightNeighbours = 1_000

    /// Checks every value, whether a user set it or a file held it, with a message that names the field, the value
    /// and the allowed range.
    public func validate() throws {
        func bad(_ s: String) -> PatchCoreError { .invalidConfiguration(s) }
        guard BackboneRegistry.names.contains(backbone) else {
            throw bad("unknown backbone '\(backbone.prefix(80))'; known: \(BackboneRegistry.names.joined(separator: ", "))")
        }
        guard coresetRatio > 0, coresetRatio <= 1 else { throw bad("coreset_ratio must be in (0, 1], got \(coresetRatio)") }
        guard !taps.isEmpty, taps.count <= 8 else { throw bad("taps: need 1...8 layer names, got \(taps.count)") }
        if let tap = taps.first(where: { $0.isEmpty || $0.count > 64 }) {
            throw bad("taps: layer names must have 1...64 characters, got '\(tap.prefix(80))'")
        }
        guard (1...Self.maxReweightNeighbours).contains(reweightNeighbours) else {
            throw bad("reweight_neighbours must be in 1...\(Self.maxReweightNeighbours), got \(reweightNeighbours)")
        }
        guard blurSigma >= 0, blurSigma <= Self.maxBlurSigma else {
            throw bad("blur_sigma must be in 0...\(Self.maxBlurSigma) (input pixels), got \(blurSigma)")
        }
        guard (1...Self.maxFeatureDimension).contains(projectionDimension) else {
            throw bad("projection_dimension must be in 1...\(Self.maxFeatureDimension), got \(projectionDimension)")
        }
        guard mean.count == 3, std.count == 3 else { throw bad("mean and std need 3 values each, got \(mean.count) and \(std.count)") }
        guard mean.allSatisfy({ $0.isFinite && abs($0) <= 1000 }), std.allSatisfy({ $0.isFinite && $0 > 0 && $0 <= 1000 }) else {
            throw bad("mean must be finite and std in (0, 1000], got mean \(mean), std \(std)")
        }
        if let k = patchSize, !(1...Self.maxPatchSize).contains(k) || k % 2 == 0 {
            throw bad("patch_size must be odd in 1...\(Self.maxPatchSize), got \(k)")
        }
        if let d = featureDimension, !(1...Self.maxFeatureDimension).contains(d) {
            throw bad("feature_dimension must be in 1...\(Self.maxFeatureDimension), got \(d)")
        }
        try tile?.validate()
        let side = Self.maxInputSide
        switch transform {
        case let .resizeCrop(r, c):
            guard c >= 32, c <= side, r >= c, r <= side else {
                throw bad("transform: need 32 <= crop <= resize <= \(side), got resize \(r), crop \(c)")
            }
        case let .resize(w, h):
            guard (32...side).contains(w), (32...side).contains(h) else {
                throw bad("transform: input size must be within 32x32...\(side)x\(side), got \(w)x\(h)")
            }
        case let .shortSide(side: s):
            guard (32...side).contains(s) else { throw bad("transform: short side must be in 32...\(side), got \(s)") }
        case let .native(scale):
            guard scale.isFinite, InputTransform.scaleRange.contains(scale) else {
                throw bad("transform: native scale must be in \(InputTransform.scaleRange.lowerBound)...\(InputTransform.scaleRange.upperBound), got \(scale)")
            }
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
