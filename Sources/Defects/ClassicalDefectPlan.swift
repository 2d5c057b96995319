import Foundation
import TensorCore

/// Everything one classical sample was drawn with: rendering a plan needs no random number, so a sample can be
/// redrawn from its manifest record (`ClassicalDefectGenerator.regenerate(record:)`).
///
/// The plan is stored in `SyntheticDefectRecord.parameters` as strings (doubles in Swift's shortest round-trip form);
/// the good image is the record's `source_image`, the defect or mask file its `source_mask`.
public enum ClassicalDefectPlan: Sendable, Equatable {
    case cutPaste(CutPastePlan)
    case perlinTexture(mask: MaskPlan, texture: TexturePlan, beta: Double)
    case perlinIntensity(mask: MaskPlan, brightness: Double, contrast: Double)

    public var method: ClassicalMethod {
        switch self {
        case .cutPaste: return .cutPaste
        case .perlinTexture: return .perlinTexture
        case .perlinIntensity: return .perlinIntensity
        }
    }

    /// A real defect region pasted onto the good image.
    public struct CutPastePlan: Sendable, Equatable {
        public var defectImage: URL
        public var defectMask: URL
        /// Index into `DefectRegionMap(mask:).regions` of the mask (resized to the defect image when sizes differ).
        public var regionIndex: Int
        public var padding: Int
        public var scale: Double
        public var angleDegrees: Double
        /// Top-left of the unrotated crop in the good image.
        public var x: Int
        public var y: Int
        public var featherSigma: Double
        public var matchColour: Bool
    }

    /// The region a procedural method changes.
    public enum MaskPlan: Sendable, Equatable {
        case perlin(seed: UInt64, options: PerlinMaskOptions)
        /// A mask file (expert-drawn or a data set's real mask) placed as `placement` says.
        case file(URL, placement: MaskPlacement)
    }

    /// The foreign texture of `perlin_texture`.
    public enum TexturePlan: Sendable, Equatable {
        case goodPatch(URL, shiftX: Int, shiftY: Int, flipHorizontal: Bool, flipVertical: Bool)
        case noise(seed: UInt64)
    }

    /// The source mask file the record names (`source_mask`), if any.
    var sourceMask: URL? {
        switch self {
        case let .cutPaste(p): return p.defectMask
        case let .perlinTexture(m, _, _), let .perlinIntensity(m, _, _):
            if case let .file(url, _) = m { return url }
            return nil
        }
    }

    /// The plan as record parameters (without the good image and source mask, which have their own record fields).
    func parameters(alphaThreshold: Double) -> [String: String] {
        var p: [String: String] = ["alpha_threshold": "\(alphaThreshold)"]
        func mask(_ m: MaskPlan) {
            switch m {
            case let .perlin(seed, o):
                p["mask_source"] = "perlin"; p["mask_seed"] = "\(seed)"
                p["perlin_min_area"] = "\(o.minAreaFraction)"; p["perlin_max_area"] = "\(o.maxAreaFraction)"
                p["perlin_max_cells_log2"] = "\(o.maxCellsLog2)"; p["perlin_octaves"] = "\(o.octaves)"
            case let .file(_, pl):
                p["mask_source"] = "file"
                p["mask_flip_h"] = "\(pl.flipHorizontal)"; p["mask_flip_v"] = "\(pl.flipVertical)"
                p["mask_scale"] = "\(pl.scale)"; p["mask_shift_x"] = "\(pl.shiftX)"; p["mask_shift_y"] = "\(pl.shiftY)"
            }
        }
        switch self {
        case let .cutPaste(c):
            p["defect_image"] = c.defectImage.path; p["region_index"] = "\(c.regionIndex)"; p["padding"] = "\(c.padding)"
            p["scale"] = "\(c.scale)"; p["angle_deg"] = "\(c.angleDegrees)"; p["x"] = "\(c.x)"; p["y"] = "\(c.y)"
            p["feather_sigma"] = "\(c.featherSigma)"; p["match_colour"] = "\(c.matchColour)"
        case let .perlinTexture(m, t, beta):
            mask(m)
            p["beta"] = "\(beta)"
            switch t {
            case let .goodPatch(url, sx, sy, fh, fv):
                p["texture"] = "good_patch"; p["texture_image"] = url.path
                p["texture_shift_x"] = "\(sx)"; p["texture_shift_y"] = "\(sy)"
                p["texture_flip_h"] = "\(fh)"; p["texture_flip_v"] = "\(fv)"
            case let .noise(seed):
                p["texture"] = "noise"; p["texture_seed"] = "\(seed)"
            }
        case let .perlinIntensity(m, b, k):
            mask(m)
            p["brightness"] = "\(b)"; p["contrast"] = "\(k)"
        }
        return p
    }

    /// Reads a plan back from a record.
    init(record r: SyntheticDefectRecord) throws {
        func bad(_ s: String) -> DefectSynthesisError { .badRecord(id: r.id, reason: s) }
        func str(_ k: String) throws -> String {
            guard let v = r.parameters[k] else { throw bad("missing parameter \(k)") }
            return v
        }
        func num<T: LosslessStringConvertible>(_ k: String, _: T.Type) throws -> T {
            guard let v = T(try str(k)) else { throw bad("parameter \(k) = '\(r.parameters[k]!)' is not a \(T.self)") }
            return v
        }
        func sourceMask() throws -> URL {
            guard let m = r.sourceMask else { throw bad("missing source_mask") }
            return URL(fileURLWithPath: m)
        }
        func mask() throws -> MaskPlan {
            switch try str("mask_source") {
            case "perlin":
                return .perlin(seed: try num("mask_seed", UInt64.self), options: PerlinMaskOptions(
                    minAreaFraction: try num("perlin_min_area", Double.self), maxAreaFraction: try num("perlin_max_area", Double.self),
                    maxCellsLog2: try num("perlin_max_cells_log2", Int.self), octaves: try num("perlin_octaves", Int.self)))
            case "file":
                return .file(try sourceMask(), placement: MaskPlacement(
                    flipHorizontal: try num("mask_flip_h", Bool.self), flipVertical: try num("mask_flip_v", Bool.self),
                    scale: try num("mask_scale", Double.self),
                    shiftX: try num("mask_shift_x", Int.self), shiftY: try num("mask_shift_y", Int.self)))
            case let other: throw bad("mask_source '\(other)' is not perlin or file")
            }
        }
        guard let name = r.method, let method = ClassicalMethod(rawValue: name) else {
            throw bad("method '\(r.method ?? "")' is not one of \(ClassicalMethod.allCases.map(\.rawValue))")
        }
        switch method {
        case .cutPaste:
            self = .cutPaste(CutPastePlan(
                defectImage: URL(fileURLWithPath: try str("defect_image")), defectMask: try sourceMask(),
                regionIndex: try num("region_index", Int.self), padding: try num("padding", Int.self),
                scale: try num("scale", Double.self), angleDegrees: try num("angle_deg", Double.self),
                x: try num("x", Int.self), y: try num("y", Int.self),
                featherSigma: try num("feather_sigma", Double.self), matchColour: try num("match_colour", Bool.self)))
        case .perlinTexture:
            let texture: TexturePlan
            switch try str("texture") {
            case "good_patch":
                texture = .goodPatch(URL(fileURLWithPath: try str("texture_image")),
                                     shiftX: try num("texture_shift_x", Int.self), shiftY: try num("texture_shift_y", Int.self),
                                     flipHorizontal: try num("texture_flip_h", Bool.self), flipVertical: try num("texture_flip_v", Bool.self))
            case "noise": texture = .noise(seed: try num("texture_seed", UInt64.self))
            case let other: throw bad("texture '\(other)' is not good_patch or noise")
            }
            self = .perlinTexture(mask: try mask(), texture: texture, beta: try num("beta", Double.self))
        case .perlinIntensity:
            self = .perlinIntensity(mask: try mask(), brightness: try num("brightness", Double.self),
                                    contrast: try num("contrast", Double.self))
        }
        try validate(id: r.id)
    }

    /// Checks every replayed number against the range the generator draws it from (the options' own limits), so a
    /// hand-edited or hostile manifest record cannot ask for a NaN scale, a 10^9-pixel shift or a huge padding.
    /// Throws `DefectSynthesisError.badRecord` naming the record and the parameter.
    func validate(id: String) throws {
        func check(_ name: String, _ value: Double, _ range: ClosedRange<Double>, open lower: Bool = false) throws {
            guard value.isFinite, range.contains(value), !(lower && value == range.lowerBound) else {
                throw DefectSynthesisError.badRecord(
                    id: id, reason: "parameter \(name) = \(value) is out of range (expected a finite number in "
                        + "\(lower ? "(" : "[")\(range.lowerBound), \(range.upperBound)])")
            }
        }
        func check(_ name: String, _ value: Int, _ range: ClosedRange<Int>) throws {
            guard range.contains(value) else {
                throw DefectSynthesisError.badRecord(
                    id: id, reason: "parameter \(name) = \(value) is out of range (expected \(range.lowerBound)...\(range.upperBound))")
            }
        }
        let side = Double(InputLimits.current.maxImageSide), sideInt = InputLimits.current.maxImageSide
        func checkMask(_ m: MaskPlan) throws {
            switch m {
            case let .perlin(_, o):
                do { try o.validate() } catch let DefectSynthesisError.invalidArgument(reason) {
                    throw DefectSynthesisError.badRecord(id: id, reason: reason)
                }
            case let .file(_, pl):
                try check("mask_scale", pl.scale, 0...10, open: true)
                try check("mask_shift_x", pl.shiftX, -sideInt...sideInt)
                try check("mask_shift_y", pl.shiftY, -sideInt...sideInt)
            }
        }
        switch self {
        case let .cutPaste(c):
            try check("region_index", c.regionIndex, 0...(1 << 24))
            try check("padding", c.padding, 0...256)
            try check("scale", c.scale, 0...10, open: true)
            try check("angle_deg", c.angleDegrees, -3600...3600)
            try check("x", Double(c.x), -side...side)
            try check("y", Double(c.y), -side...side)
            try check("feather_sigma", c.featherSigma, 0...50)
        case let .perlinTexture(m, t, beta):
            try checkMask(m)
            if case let .goodPatch(_, sx, sy, _, _) = t {
                try check("texture_shift_x", sx, -sideInt...sideInt)
                try check("texture_shift_y", sy, -sideInt...sideInt)
            }
            try check("beta", beta, 0...1)
        case let .perlinIntensity(m, b, k):
            try checkMask(m)
            try check("brightness", b, -255...255)
            try check("contrast", k, 0...10)
        }
    }
}
