import Backbones
import Checkpoints
import Datasets
import Foundation
import ImageIO
import PatchFeatures
import TensorCore

/// Images to patch features: preprocessing, backbone taps, k x k aggregation (`patchSize`, 3 by default) onto the
/// finest tap grid.
///
/// ```swift
/// let extractor = try FeatureExtractor(config: config, weights: url)
/// let input = try extractor.prepare(image)             // RGB at the model input size
/// let set = try extractor.patchFeatures([input])       // (h*w, D) rows in (y, x) order
/// ```
public final class FeatureExtractor: Sendable {
    public let config: PatchCoreConfig
    public let backbone: any Backbone
    /// SHA-256 of the weights file, recorded in models so they are never scored with other weights.
    public let weightsSHA256: String
    private let aggregator: PatchFeatureAggregator
    /// Taps ordered finest grid first (the aggregator resizes the others onto it).
    private let orderedTaps: [String]
    /// Input pixels per cell of the finest tap (8 for MobileNetV2's default taps).
    public let finestStride: Int

    public init(config: PatchCoreConfig, weights: URL) throws {
        try config.validate()
        self.config = config
        guard FileManager.default.fileExists(atPath: weights.path) else {
            throw PatchCoreError.invalidConfiguration("weights file \(weights.path) does not exist")
        }
        // Refused by type first: hashing a FIFO would block.
        try InputFile.checkRegularFile(weights)
        weightsSHA256 = try WeightsCatalog.sha256Hex(of: weights)
        let stateDict = try CheckpointLoader.load(weights)
        let backbone = try BackboneRegistry.make(config.backbone, weights: stateDict)
        self.backbone = backbone
        let unknown = config.taps.filter { !backbone.tapNames.contains($0) }
        guard unknown.isEmpty else {
            throw PatchCoreError.invalidConfiguration("unknown tap(s) \(unknown.joined(separator: ", ")) for \(config.backbone); valid taps: \(backbone.tapNames.joined(separator: ", "))")
        }
        // Optional reduction as in the PatchCore paper: adaptive average pooling of each tap, then of the concatenation.
        aggregator = PatchFeatureAggregator(patchSize: config.effectivePatchSize, reduction: config.featureDimension.map {
            ChannelReduction(pretrainDimension: $0, targetDimension: $0)
        })
        // Probe once with a small input to learn each tap's stride, so taps can be given in any order.
        let probe = Tensor(zeros: [1, 3, 64, 64])
        let maps = try backbone.features(probe, taps: config.taps)
        orderedTaps = config.taps.enumerated().sorted { a, b in
            let ha = maps[a.element]!.shape[2], hb = maps[b.element]!.shape[2]
            return ha != hb ? ha > hb : a.offset < b.offset
        }.map(\.element)
        finestStride = 64 / max(1, maps[orderedTaps[0]]!.shape[2])
        let coarsest = 64 / max(1, maps[orderedTaps.last!]!.shape[2])
        if config.tile != nil, TileSpec.alignment % coarsest != 0 || TileSpec.alignment < coarsest {
            throw PatchCoreError.invalidConfiguration("tiling needs taps of stride at most \(TileSpec.alignment); \(orderedTaps.last!) has stride \(coarsest)")
        }
    }

    /// The model input size of a `width` x `height` image (`InputTransform.inputSize(forWidth:height:)`).
    public func inputSize(forWidth width: Int, height: Int) -> (width: Int, height: Int) {
        config.transform.inputSize(forWidth: width, height: height)
    }

    /// Colour image at the model's input geometry (resize + centre crop, plain resize, short side, native). Every
    /// step's result is checked against `InputLimits` before it is allocated (a 1 x 65,500 image resized to 256 on its
    /// short side would ask for 16.8 M x 256 pixels); an input outside 32...`maxInputSide` per side (possible only with
    /// the aspect-keeping geometries) is refused naming the minimum or maximum. Errors name `file`.
    public func prepare(_ image: Image, file: String = "image") throws -> Image {
        let rgb = image.channels == 3 ? image : image.toRGB()
        try checkInputSize(of: image, file: file)
        switch config.transform {
        case let .resizeCrop(resize, crop):
            return try rgb.resized(shorterSide: resize, nearest: false, file: file).centerCropped(width: crop, height: crop, file: file)
        case let .resize(w, h):
            return try rgb.resized(width: w, height: h, file: file)
        case let .shortSide(side: side):
            return try rgb.resized(shorterSide: side, nearest: false, file: file)
        case .native:
            let size = inputSize(forWidth: image.width, height: image.height)
            let input = size == (image.width, image.height) ? rgb : try rgb.resized(width: size.width, height: size.height, file: file)
            return config.pad == true ? Self.paddedToMinimum(input, repeatEdges: true) : input
        }
    }

    /// `image` grown to at least `InputTransform.minimumSide` a side, content at the top left; the new pixels repeat
    /// the last column and row (`repeatEdges`, for images) or are 0 (masks).
    static func paddedToMinimum(_ image: Image, repeatEdges: Bool) -> Image {
        let least = InputTransform.minimumSide
        let (w, h, c) = (image.width, image.height, image.channels)
        guard w < least || h < least else { return image }
        let (pw, ph) = (max(w, least), max(h, least))
        var pixels = [UInt8](repeating: 0, count: pw * ph * c)
        for y in 0..<ph {
            let sy = min(y, h - 1)
            guard repeatEdges || y < h else { continue }
            for x in 0..<pw where repeatEdges || x < w {
                let sx = min(x, w - 1)
                for k in 0..<c { pixels[(y * pw + x) * c + k] = image.pixels[(sy * w + sx) * c + k] }
            }
        }
        return Image(width: pw, height: ph, channels: c, pixels: pixels)
    }

    /// A ground-truth mask brought to the model input geometry (nearest-neighbour, like torchvision v2 masks).
    public func prepareMask(_ mask: Image, file: String = "mask") throws -> Image {
        let gray = mask.channels == 1 ? mask : mask.toGray()
        switch config.transform {
        case let .resizeCrop(resize, crop):
            return try gray.resized(shorterSide: resize, nearest: true, file: file).centerCropped(width: crop, height: crop, file: file)
        case let .resize(w, h):
            return try gray.resizedNearest(width: w, height: h, file: file)
        case let .shortSide(side: side):
            return try gray.resized(shorterSide: side, nearest: true, file: file)
        case .native:
            let size = inputSize(forWidth: mask.width, height: mask.height)
            let input = try gray.resizedNearest(width: size.width, height: size.height, file: file)
            return config.pad == true ? Self.paddedToMinimum(input, repeatEdges: false) : input
        }
    }

    /// The aspect-keeping geometries give each image its own input size: it must stay within what the backbone
    /// can run (`InputTransform.minimumSide`) and what one pass may take (`PatchCoreConfig.maxInputSide`).
    private func checkInputSize(of image: Image, file: String) throws {
        guard config.transform.fixedInputSize == nil else { return }
        let size = inputSize(forWidth: image.width, height: image.height)
        let least = InputTransform.minimumSide, most = PatchCoreConfig.maxInputSide
        guard min(size.width, size.height) >= least || (config.pad == true && min(size.width, size.height) >= 1) else {
            throw ImageError.unsupported(file: file, reason: "\(image.width)x\(image.height) becomes \(size.width)x\(size.height) at the model input (\(config.transform)), below the network's minimum of \(least) pixels per side (--pad pads it)")
        }
        // Tiled passes are bounded by the tile; the decoded size is bounded by `InputLimits`.
        guard config.tile != nil || max(size.width, size.height) <= most else {
            throw ImageError.unsupported(file: file, reason: "\(image.width)x\(image.height) becomes \(size.width)x\(size.height) at the model input (\(config.transform)), above the largest input side \(most); use a smaller --scale or --short-side")
        }
    }

    /// Patch features of prepared images (all at the input size): (N*h*w, D), rows (n, y, x). With `config.tile`,
    /// each image larger than a tile is computed tile by tile (`tiledPatchFeatures`).
    public func patchFeatures(_ images: [Image]) throws -> PatchFeatureSet {
        if let tile = config.tile, images.contains(where: { $0.width > tile.width || $0.height > tile.height }) {
            let sets = try images.map { try tiledPatchFeatures($0, tile: tile) }
            guard sets.count > 1 else { return sets[0] }
            var grid = sets[0].grid
            grid.batch = sets.count
            return PatchFeatureSet(features: Tensor(shape: [sets.count * grid.patchesPerImage, sets[0].dimension],
                                                    scalars: sets.flatMap(\.features.scalars)), grid: grid)
        }
        return try wholePatchFeatures(images)
    }

    private func wholePatchFeatures(_ images: [Image]) throws -> PatchFeatureSet {
        let batch = try Image.batchTensor(images, mean: config.mean, std: config.std)
        let maps = try backbone.features(batch, taps: orderedTaps)
        return try aggregator.aggregate(orderedTaps.map { maps[$0]! }, inputHeight: batch.shape[2], inputWidth: batch.shape[3])
    }

    /// One image's patch features tile by tile, stitched into the whole-image grid. Each pass covers a tile plus
    /// `tile.overlap` pixels on every side (clipped at the image border, where the whole-image pass pads alike); its
    /// cells inside the tile are kept. Cells agree with a whole-image pass up to the receptive field that reaches past
    /// the overlap and the coarse taps' resize onto the finest grid (exact when the image sides are multiples of the
    /// largest stride); `InputGeometryTests` measures the difference.
    public func tiledPatchFeatures(_ image: Image, tile: TileSpec) throws -> PatchFeatureSet {
        let (w, h) = (image.width, image.height)
        let stride = finestStride
        let (gridH, gridW) = ((h + stride - 1) / stride, (w + stride - 1) / stride)
        var out: [Float] = []
        var d = 0
        for y0 in Swift.stride(from: 0, to: h, by: tile.height) {
            for x0 in Swift.stride(from: 0, to: w, by: tile.width) {
                try Task.checkCancellation()
                let (x1, y1) = (min(x0 + tile.width, w), min(y0 + tile.height, h))
                let (cx0, cy0) = (max(0, x0 - tile.overlap), max(0, y0 - tile.overlap))
                let (cx1, cy1) = (min(w, x1 + tile.overlap), min(h, y1 + tile.overlap))
                let set = try wholePatchFeatures([image.cropped(x: cx0, y: cy0, width: cx1 - cx0, height: cy1 - cy0)])
                if out.isEmpty {
                    d = set.dimension
                    out = [Float](repeating: 0, count: gridH * gridW * d)
                }
                // Cells of this tile in whole-image coordinates, and where they sit in the pass's grid.
                let (gx1, gy1) = (min(gridW, (x1 + stride - 1) / stride), min(gridH, (y1 + stride - 1) / stride))
                let (ox, oy) = (cx0 / stride, cy0 / stride)
                set.features.withUnsafeBufferPointer { src in
                    out.withUnsafeMutableBufferPointer { dst in
                        for gy in (y0 / stride)..<gy1 where gy - oy < set.grid.height {
                            for gx in (x0 / stride)..<gx1 where gx - ox < set.grid.width {
                                let from = ((gy - oy) * set.grid.width + (gx - ox)) * d, to = (gy * gridW + gx) * d
                                for c in 0..<d { dst[to + c] = src[from + c] }
                            }
                        }
                    }
                }
            }
        }
        let rows = Tensor(shape: [gridH * gridW, d], scalars: out)
        return PatchFeatureSet(features: rows, grid: PatchGrid(batch: 1, height: gridH, width: gridW, inputHeight: h, inputWidth: w))
    }
}

extension FeatureExtractor {
    /// A test image and, when it has one, its mask prepared like the image (`prepareMask`); the mask must have the
    /// image's size. Shared by `PatchCoreEvaluator` and the ablation so both read test data identically.
    public func readTestSample(_ item: LabelledImage) throws -> (image: Image, mask: Image?) {
        let read = try readTestSampleAtBothResolutions(item)
        return (read.image, read.mask)
    }

    /// `readTestSample` that also returns the mask as it was read (the ground truth's own resolution).
    public func readTestSampleAtBothResolutions(_ item: LabelledImage) throws -> (image: Image, raw: Image?, mask: Image?) {
        let image = try item.image.load()
        guard let m = item.mask else { return (image, nil, nil) }
        let raw = try m.load()
        guard raw.width == image.width, raw.height == image.height else {
            throw ImageError.sizeMismatch(file: m.name, expected: "its image \(image.width)x\(image.height)",
                                          actual: "\(raw.width)x\(raw.height)")
        }
        return (image, raw, try prepareMask(raw, file: m.name))
    }

    public func readTestSample(_ sample: Sample) throws -> (image: Image, mask: Image?) {
        try readTestSample(LabelledImage(sample))
    }
}
