import Foundation
import ImageIO
import Datasets
import TensorCore

/// Random flip / scale / shift applied to a mask drawn from files or a data set (DIAG samples real masks this way).
public struct MaskAugmentation: Sendable, Codable, Equatable {
    public var flipHorizontal: Bool
    public var flipVertical: Bool
    /// Scale about the image centre, drawn uniformly.
    public var scaleRange: ClosedRange<Double>
    /// Largest shift as a fraction of the image side; the shift is also limited so the mask stays inside the image.
    public var maxShift: Double

    public init(flipHorizontal: Bool = true, flipVertical: Bool = true, scaleRange: ClosedRange<Double> = 0.8...1.2,
                maxShift: Double = 0.25) {
        self.flipHorizontal = flipHorizontal; self.flipVertical = flipVertical
        self.scaleRange = scaleRange; self.maxShift = maxShift
    }

    /// Masks used as they are (only resized to the target).
    public static let none = MaskAugmentation(flipHorizontal: false, flipVertical: false, scaleRange: 1...1, maxShift: 0)

    public func validate() throws {
        guard scaleRange.lowerBound > 0, scaleRange.upperBound <= 10, (0...1).contains(maxShift) else {
            throw DefectSynthesisError.invalidArgument(
                "mask augmentation: scale range \(scaleRange) must lie in (0, 10] and max shift \(maxShift) in [0, 1]")
        }
    }
}

/// How one mask was put onto the target: enough to redraw it exactly (`DefectMaskSampler.place`).
public struct MaskPlacement: Sendable, Codable, Equatable {
    public var flipHorizontal: Bool
    public var flipVertical: Bool
    public var scale: Double
    /// Shift in target pixels, applied last.
    public var shiftX: Int
    public var shiftY: Int

    public init(flipHorizontal: Bool = false, flipVertical: Bool = false, scale: Double = 1, shiftX: Int = 0, shiftY: Int = 0) {
        self.flipHorizontal = flipHorizontal; self.flipVertical = flipVertical
        self.scale = scale; self.shiftX = shiftX; self.shiftY = shiftY
    }

    public static let identity = MaskPlacement()
}

/// A mask file left out, and why (empty, unreadable, ...).
public struct SkippedMask: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var reason: String
    public init(file: String, reason: String) { self.file = file; self.reason = reason }
    public var description: String { "\(file): \(reason)" }
}

/// Masks for synthesis: expert-drawn mask files or a data set's real defect masks, each drawn at random, optionally
/// flipped / scaled / shifted, and resized (nearest) to the target image; or, with no files, procedural Perlin masks
/// (`PerlinMask`). Empty or unreadable masks are left out at load time and listed in `skipped`.
///
/// ```swift
/// let sampler = try DefectMaskSampler(maskFolder: URL(fileURLWithPath: "masks/"))
/// for s in sampler.skipped { log("skipped \(s)") }
/// var rng = SplitMix64(seed: 1)
/// let drawn = try sampler.sample(width: 256, height: 256, rng: &rng)   // drawn.mask: 1 channel, 0/255
/// ```
public struct DefectMaskSampler: Sendable {
    /// One usable mask.
    public struct Entry: Sendable {
        public let maskFile: URL
        /// The defective image the mask belongs to (data-set masks), which `cut_paste` crops; nil for mask files.
        public let image: URL?
        /// 1 channel, 0/255, at the mask file's size.
        public let mask: Image
        /// Its connected regions (non-empty).
        public let regions: DefectRegionMap
    }

    /// A drawn mask and where it came from.
    public struct Drawn: Sendable {
        public var entryIndex: Int
        public var placement: MaskPlacement
        /// 1 channel, 0/255, at the requested size, non-empty.
        public var mask: Image
    }

    public let entries: [Entry]
    public let skipped: [SkippedMask]
    public var augmentation: MaskAugmentation
    /// Where the masks came from, for messages and records.
    public let source: String

    public var isEmpty: Bool { entries.isEmpty }
    /// True when the entries carry their defective images (`cut_paste` can use them).
    public var hasDefectImages: Bool { entries.contains { $0.image != nil } }

    /// A sampler over given entries (e.g. built by hand in tests).
    public init(entries: [Entry], skipped: [SkippedMask] = [], augmentation: MaskAugmentation = .init(), source: String) {
        self.entries = entries; self.skipped = skipped; self.augmentation = augmentation; self.source = source
    }

    /// Every PNG/JPEG in `maskFolder` (not recursive). A pixel is foreground when its first channel is above 127.
    /// - Throws: `DefectSynthesisError.noMasks` when the folder is missing or holds no usable mask.
    public init(maskFolder: URL, augmentation: MaskAugmentation = .init()) throws {
        guard FileListing.isDirectory(maskFolder) else {
            throw DefectSynthesisError.noMasks(source: maskFolder.path, reason: "not a folder")
        }
        var entries: [Entry] = [], skipped: [SkippedMask] = []
        for file in try FileListing.images(in: maskFolder) {
            switch DefectMaskSampler.loadMask(file) {
            case let .usable(mask, regions): entries.append(Entry(maskFile: file, image: nil, mask: mask, regions: regions))
            case let .skipped(s): skipped.append(s)
            }
        }
        guard !entries.isEmpty else {
            throw DefectSynthesisError.noMasks(source: maskFolder.path, reason: skipped.isEmpty
                ? "no .png/.jpg/.jpeg files" : "all \(skipped.count) mask files skipped (first: \(skipped[0]))")
        }
        self.init(entries: entries, skipped: skipped, augmentation: augmentation, source: maskFolder.path)
    }

    /// Given mask files, each with the defect image it belongs to when known (`cut_paste` crops those), e.g. the
    /// defect set of a service's product. Empty or unreadable masks are skipped and listed.
    /// - Throws: `DefectSynthesisError.noMasks` when no usable mask remains.
    public init(masks: [(mask: URL, image: URL?)], augmentation: MaskAugmentation = .init(), source: String) throws {
        var entries: [Entry] = [], skipped: [SkippedMask] = []
        for given in masks {
            switch DefectMaskSampler.loadMask(given.mask) {
            case let .usable(mask, regions):
                entries.append(Entry(maskFile: given.mask, image: given.image, mask: mask, regions: regions))
            case let .skipped(s): skipped.append(s)
            }
        }
        guard !entries.isEmpty else {
            throw DefectSynthesisError.noMasks(source: source, reason: skipped.isEmpty
                ? "no masks given" : "all \(skipped.count) masks skipped (first: \(skipped[0]))")
        }
        self.init(entries: entries, skipped: skipped, augmentation: augmentation, source: source)
    }

    /// The real defect masks of a data set: samples with `label == .defect` and a mask, from the training split, and
    /// from the test split too only when `includeTest` (off by default: test masks would leak into evaluation).
    /// - Throws: `DefectSynthesisError.noMasks` when no usable mask remains.
    public init(dataset: Dataset, includeTest: Bool = false, augmentation: MaskAugmentation = .init()) throws {
        let splits: Set<Split> = includeTest ? [.train, .test] : [.train]
        let candidates = dataset.samples.filter { $0.label == .defect && splits.contains($0.split) }
        var entries: [Entry] = [], skipped: [SkippedMask] = []
        for sample in candidates {
            guard let maskURL = sample.mask else {
                skipped.append(SkippedMask(file: sample.image.path, reason: "defect image without a mask"))
                continue
            }
            switch DefectMaskSampler.loadMask(maskURL) {
            case let .usable(mask, regions):
                entries.append(Entry(maskFile: maskURL, image: sample.image, mask: mask, regions: regions))
            case let .skipped(s): skipped.append(s)
            }
        }
        guard !entries.isEmpty else {
            let testDefects = dataset.samples.filter { $0.label == .defect && $0.split == .test && $0.mask != nil }.count
            var reason = "\(candidates.count) defect image(s) in the \(includeTest ? "train and test splits" : "train split")"
            if !skipped.isEmpty { reason += ", \(skipped.count) skipped (first: \(skipped[0]))" }
            if !includeTest && testDefects > 0 {
                reason += "; the test split holds \(testDefects) defect mask(s): include them explicitly (includeTest, " +
                    "CLI --include-test-defects; they then leak into evaluation), or use the procedural methods only"
            }
            throw DefectSynthesisError.noMasks(source: dataset.root.path, reason: reason)
        }
        self.init(entries: entries, skipped: skipped, augmentation: augmentation, source: dataset.root.path)
    }

    /// Reads one mask file as 0/255 single channel; empty or unreadable masks come back as the reason to skip them.
    enum Loaded { case usable(Image, DefectRegionMap), skipped(SkippedMask) }

    static func loadMask(_ url: URL) -> Loaded {
        let image: Image
        do { image = try ImageFile.read(url) } catch {
            return .skipped(SkippedMask(file: url.path, reason: "unreadable: \(error)"))
        }
        let mask = binarized(image)
        let regions = DefectRegionMap(mask: mask)
        if regions.isEmpty { return .skipped(SkippedMask(file: url.path, reason: "empty mask (no pixel above 127)")) }
        return .usable(mask, regions)
    }

    /// First channel > 127 -> 255, else 0; one channel.
    static func binarized(_ image: Image) -> Image {
        let c = image.channels
        var pixels = [UInt8](repeating: 0, count: image.width * image.height)
        for i in pixels.indices where image.pixels[i * c] > 127 { pixels[i] = 255 }
        return Image(width: image.width, height: image.height, channels: 1, pixels: pixels)
    }

    /// Draws an entry and a placement (flips, scale, then a shift that keeps the mask inside the target) and renders
    /// it at `width` x `height`. An entry that vanishes at this size (a thin line under nearest downsizing) is tried
    /// without augmentation, then another entry is drawn.
    /// - Throws: `DefectSynthesisError.noMasks` when the sampler is empty or no entry survives resizing.
    public func sample(width: Int, height: Int, rng: inout SplitMix64) throws -> Drawn {
        guard !entries.isEmpty else { throw DefectSynthesisError.noMasks(source: source, reason: "no entries") }
        for _ in 0..<max(8, entries.count) {
            let index = rng.index(entries.count)
            let a = augmentation
            var placement = MaskPlacement(flipHorizontal: a.flipHorizontal && rng.chance(0.5),
                                          flipVertical: a.flipVertical && rng.chance(0.5),
                                          scale: rng.uniform(a.scaleRange))
            var unshifted = DefectMaskSampler.place(entries[index].mask, placement, width: width, height: height)
            var box = DefectMaskSampler.foregroundBox(unshifted)
            if box == nil {
                placement = .identity
                unshifted = DefectMaskSampler.place(entries[index].mask, placement, width: width, height: height)
                box = DefectMaskSampler.foregroundBox(unshifted)
            }
            guard let box else { continue }
            // Shift range: at most maxShift of the side, and never pushing foreground out of the image.
            let mx = Int(a.maxShift * Double(width)), my = Int(a.maxShift * Double(height))
            let xr = max(-mx, -box.x0)...max(max(-mx, -box.x0), min(mx, width - box.x1))
            let yr = max(-my, -box.y0)...max(max(-my, -box.y0), min(my, height - box.y1))
            placement.shiftX = rng.int(xr)
            placement.shiftY = rng.int(yr)
            let mask = DefectMaskSampler.shifted(unshifted, dx: placement.shiftX, dy: placement.shiftY)
            return Drawn(entryIndex: index, placement: placement, mask: mask)
        }
        throw DefectSynthesisError.noMasks(source: source, reason: "no mask keeps a foreground pixel at \(width)x\(height)")
    }

    /// `mask` resized (nearest) to `width` x `height`, then flipped, scaled about the centre (nearest) and shifted as
    /// `placement` says. Output pixel x reads resized pixel floor((x - shiftX + 0.5 - W/2) / scale + W/2), mirrored
    /// when flipped (same along y).
    public static func place(_ mask: Image, _ placement: MaskPlacement, width: Int, height: Int) -> Image {
        let base = mask.channels == 1 ? mask : binarized(mask)
        let resized = base.resizedNearest(width: width, height: height)
        let xs = (0..<width).map { x -> Int? in
            let u = Int(((Double(x) + 0.5 - Double(width) / 2) / placement.scale + Double(width) / 2).rounded(.down))
            guard u >= 0 && u < width else { return nil }
            return placement.flipHorizontal ? width - 1 - u : u
        }
        let ys = (0..<height).map { y -> Int? in
            let v = Int(((Double(y) + 0.5 - Double(height) / 2) / placement.scale + Double(height) / 2).rounded(.down))
            guard v >= 0 && v < height else { return nil }
            return placement.flipVertical ? height - 1 - v : v
        }
        var pixels = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height {
            guard let sy = ys[y] else { continue }
            for x in 0..<width {
                guard let sx = xs[x] else { continue }
                pixels[y * width + x] = resized.pixels[sy * width + sx]
            }
        }
        return shifted(Image(width: width, height: height, channels: 1, pixels: pixels), dx: placement.shiftX, dy: placement.shiftY)
    }

    /// A one-channel image moved by (dx, dy), zero-filled.
    static func shifted(_ m: Image, dx: Int, dy: Int) -> Image {
        if dx == 0 && dy == 0 { return m }
        let w = m.width, h = m.height
        var pixels = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h {
            let sy = y - dy
            guard sy >= 0 && sy < h else { continue }
            for x in 0..<w {
                let sx = x - dx
                guard sx >= 0 && sx < w else { continue }
                pixels[y * w + x] = m.pixels[sy * w + sx]
            }
        }
        return Image(width: w, height: h, channels: 1, pixels: pixels)
    }

    /// Bounding box of the pixels above 127 (one channel), nil when there are none.
    static func foregroundBox(_ m: Image) -> PixelBox? {
        var box = PixelBox(x0: m.width, y0: m.height, x1: 0, y1: 0)
        for y in 0..<m.height {
            for x in 0..<m.width where m.pixels[y * m.width + x] > 127 {
                box.x0 = min(box.x0, x); box.x1 = max(box.x1, x + 1)
                box.y0 = min(box.y0, y); box.y1 = max(box.y1, y + 1)
            }
        }
        return box.x1 > box.x0 ? box : nil
    }
}
