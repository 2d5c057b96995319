import TensorCore

/// Optional reduction of the concatenated channel dimension, as patchcore-inspection's
/// `Preprocessing`/`MeanMapper` + `Aggregator` (src/patchcore/common.py):
/// 1. per tap, `adaptive_avg_pool1d` over that tap's channels down (or up) to `pretrainDimension`;
/// 2. the taps' reduced vectors are concatenated (T * pretrainDimension) and pooled again to
///    `targetDimension`.
///
/// Difference from patchcore-inspection, on purpose: there step 1 pools the *unfolded* 3x3 patch
/// (C * 9 values in (c, ky, kx) order, zero padded), so a bin can mix spatial offsets of
/// neighbouring channels; here the 3x3 neighbourhood is first averaged (AvgPool2d, as anomalib
/// and the paper) and step 1 pools the C averaged channels. The two agree when every bin of step 1
/// covers whole channels (C*9 divisible by pretrainDimension with 9 | bin width).
public struct ChannelReduction: Sendable, Codable, Equatable {
    /// Per-tap dimension after step 1 (patchcore-inspection `pretrain_embed_dimension`, e.g. 1024).
    public var pretrainDimension: Int
    /// Final patch feature dimension D (patchcore-inspection `target_embed_dimension`, e.g. 1024).
    public var targetDimension: Int

    public init(pretrainDimension: Int, targetDimension: Int) {
        self.pretrainDimension = pretrainDimension
        self.targetDimension = targetDimension
    }

    enum CodingKeys: String, CodingKey {
        case pretrainDimension = "pretrain_dimension"
        case targetDimension = "target_dimension"
    }
}

/// Patch features of a batch: one row per grid cell, rows ordered (n, y, x).
public struct PatchFeatureSet: Sendable {
    /// (N * H0 * W0, D).
    public var features: Tensor
    public var grid: PatchGrid
    public var dimension: Int { features.shape[1] }

    public init(features: Tensor, grid: PatchGrid) { self.features = features; self.grid = grid }
}

/// Turns backbone feature maps into PatchCore patch features (paper Sec. 3.1, "locally aware
/// patch features"; anomalib `PatchcoreModel.generate_embedding` + `reshape_embedding`).
///
/// For taps [(N,C_i,H_i,W_i)], finest first:
/// 1. each tap: AvgPool2d(k, stride 1, padding k/2, count_include_pad) — the local k x k
///    neighbourhood aggregation (k = `patchSize`, 3 by default);
/// 2. taps other than the first: bilinear resize (align_corners=False) to the first tap's (H0,W0);
/// 3. channels concatenated in tap order -> (N, sum C_i, H0, W0);
/// 4. optionally `ChannelReduction` (default off);
/// 5. rows (n, y, x): (N*H0*W0, D).
///
/// ```swift
/// let aggregator = PatchFeatureAggregator()
/// let set = try aggregator.aggregate([layer2 /*(1,32,28,28)*/, layer3 /*(1,96,14,14)*/], inputHeight: 224, inputWidth: 224)
/// set.features.shape   // [784, 128]
/// set.grid.stride      // (8.0, 8.0)
/// ```
public struct PatchFeatureAggregator: Sendable, Codable, Equatable {
    /// Neighbourhood size k of the average pooling (odd; 1 disables it).
    public var patchSize: Int
    public var reduction: ChannelReduction?

    /// The paper's neighbourhood side.
    public static let defaultPatchSize = 3

    public init(patchSize: Int = defaultPatchSize, reduction: ChannelReduction? = nil) {
        self.patchSize = patchSize
        self.reduction = reduction
    }

    enum CodingKeys: String, CodingKey {
        case patchSize = "patch_size"
        case reduction
    }

    /// Feature dimension D produced for taps with `channels` channels each.
    public func outputDimension(channels: [Int]) -> Int {
        reduction?.targetDimension ?? channels.reduce(0, +)
    }

    /// Patch features of `taps` (finest first). `inputHeight`/`inputWidth` (the model input size) only
    /// set the grid's stride.
    public func aggregate(_ taps: [Tensor], inputHeight: Int, inputWidth: Int) throws -> PatchFeatureSet {
        let (n, h0, w0) = try validate(taps)
        let plane = h0 * w0
        if let reduction {
            // 1-2 per tap, 4. channel reduction on whole planes (per tap, then across the concatenated taps).
            let perTap = taps.enumerated().map { i, tap in
                reducePlanes(pooledAndResized(tap, index: i, h0: h0, w0: w0), n: n, plane: plane,
                             outputSize: reduction.pretrainDimension)
            }
            let reduced = reducePlanes(concatenateChannels(perTap, n: n, plane: plane), n: n, plane: plane,
                                       outputSize: reduction.targetDimension)
            var features = Tensor(zeros: [n * plane, reduction.targetDimension])
            for b in 0..<n {
                transposeIntoRows(reduced, image: b, plane: plane, rows: &features, rowOffset: b * plane, columnOffset: 0)
            }
            return PatchFeatureSet(features: features, grid: PatchGrid(batch: n, height: h0, width: w0,
                                                                       inputHeight: inputHeight, inputWidth: inputWidth))
        }
        // 1-3, 5 fused per (image, block of channels) so intermediates stay small and in cache:
        // pool, resize, and write the block transposed into its columns of the output rows.
        let d = taps.reduce(0) { $0 + $1.shape[1] }
        var features = Tensor(zeros: [n * plane, d])
        var offset = 0
        for (i, tap) in taps.enumerated() {
            let (c, h, w) = (tap.shape[1], tap.shape[2], tap.shape[3])
            for b in 0..<n {
                for c0 in stride(from: 0, to: c, by: Self.channelBlock) {
                    let cb = min(Self.channelBlock, c - c0)
                    let start = (b * c + c0) * h * w
                    let block = Tensor(shape: [1, cb, h, w], scalars: Array(tap.scalars[start..<(start + cb * h * w)]))
                    let map = pooledAndResized(block, index: i, h0: h0, w0: w0)
                    transposeIntoRows(map, image: 0, plane: plane, rows: &features, rowOffset: b * plane, columnOffset: offset + c0)
                }
            }
            offset += c
        }
        let grid = PatchGrid(batch: n, height: h0, width: w0, inputHeight: inputHeight, inputWidth: inputWidth)
        return PatchFeatureSet(features: features, grid: grid)
    }

    /// Same result as `aggregate`, computed per patch with the naive TensorCore kernels and
    /// per-vector adaptive pooling; reference for tests.
    public func aggregateNaive(_ taps: [Tensor], inputHeight: Int, inputWidth: Int) throws -> PatchFeatureSet {
        let (n, h0, w0) = try validate(taps)
        let maps: [Tensor] = taps.enumerated().map { i, tap in
            var m = patchSize > 1 ? avgPool2dNaive(tap, kernel: patchSize, stride: 1, padding: patchSize / 2) : tap
            if i > 0 && (m.shape[2] != h0 || m.shape[3] != w0) { m = resizeBilinearNaive(m, height: h0, width: w0) }
            return m
        }
        var rows: [Float] = []
        for b in 0..<n { for y in 0..<h0 { for x in 0..<w0 {
            var parts: [[Float]] = maps.map { m in (0..<m.shape[1]).map { m[b, $0, y, x] } }
            if let reduction {
                parts = [adaptiveAveragePool1d(parts.flatMap { adaptiveAveragePool1d($0, outputSize: reduction.pretrainDimension) },
                                               outputSize: reduction.targetDimension)]
            }
            rows += parts.flatMap { $0 }
        } } }
        let d = rows.count / (n * h0 * w0)
        return PatchFeatureSet(features: Tensor(shape: [n * h0 * w0, d], scalars: rows),
                               grid: PatchGrid(batch: n, height: h0, width: w0, inputHeight: inputHeight, inputWidth: inputWidth))
    }

    private func validate(_ taps: [Tensor]) throws -> (Int, Int, Int) {
        guard let first = taps.first else { throw PatchFeatureError.noTaps }
        guard patchSize >= 1 && patchSize % 2 == 1 else {
            throw PatchFeatureError.badPatchSize(patchSize)
        }
        if let reduction, reduction.pretrainDimension <= 0 || reduction.targetDimension <= 0 {
            throw PatchFeatureError.badReduction(pretrainDimension: reduction.pretrainDimension,
                                                 targetDimension: reduction.targetDimension)
        }
        for (i, tap) in taps.enumerated() {
            guard tap.rank == 4, tap.shape.allSatisfy({ $0 > 0 }) else {
                throw PatchFeatureError.badTapShape(tap: i, shape: tap.shape)
            }
            guard tap.shape[0] == first.shape[0] else {
                throw PatchFeatureError.batchMismatch(tap: i, expected: first.shape[0], actual: tap.shape[0])
            }
        }
        return (first.shape[0], first.shape[2], first.shape[3])
    }

    /// Channels per block of the fused fast path.
    static let channelBlock = 32

    /// Steps 1-2 for tap `index`: pooled, and resized to (H0, W0) unless it is the first tap.
    private func pooledAndResized(_ tap: Tensor, index: Int, h0: Int, w0: Int) -> Tensor {
        var m = patchSize > 1 ? avgPool2d(tap, kernel: patchSize, stride: 1, padding: patchSize / 2) : tap
        if index > 0 && (m.shape[2] != h0 || m.shape[3] != w0) { m = resizeBilinear(m, height: h0, width: w0) }
        return m
    }
}

/// rows[rowOffset + p, columnOffset + c] = x[image, c, p] for x (N, C, P), rows (R, D); tiled 16 x 16
/// so each tile's source lines stay in L1 and each destination row segment is written contiguously
/// (D is often a power of two, where untiled column writes would thrash one cache set).
private func transposeIntoRows(_ x: Tensor, image: Int, plane: Int, rows: inout Tensor, rowOffset: Int, columnOffset: Int) {
    let c = x.shape[1], d = rows.shape[1]
    let tile = 16
    x.withUnsafeBufferPointer { px in
        rows.withUnsafeMutableBufferPointer { pr in
            let src = px.baseAddress! + image * c * plane
            let dst = pr.baseAddress! + rowOffset * d + columnOffset
            for p0 in stride(from: 0, to: plane, by: tile) {
                let p1 = min(p0 + tile, plane)
                for c0 in stride(from: 0, to: c, by: tile) {
                    let c1 = min(c0 + tile, c)
                    for p in p0..<p1 {
                        let out = dst + p * d
                        for ch in c0..<c1 { out[ch] = src[ch * plane + p] }
                    }
                }
            }
        }
    }
}

/// Channel concatenation of (N, C_i, ...plane) tensors with `plane` scalars per channel -> (N, sum C_i, plane).
private func concatenateChannels(_ parts: [Tensor], n: Int, plane: Int) -> Tensor {
    let channels = parts.map { $0.shape[1] }
    let total = channels.reduce(0, +)
    var out = Tensor(zeros: [n, total, plane])
    out.withUnsafeMutableBufferPointer { po in
        var offset = 0
        for (part, c) in zip(parts, channels) {
            part.withUnsafeBufferPointer { pp in
                for b in 0..<n {
                    (po.baseAddress! + (b * total + offset) * plane)
                        .update(from: pp.baseAddress! + b * c * plane, count: c * plane)
                }
            }
            offset += c
        }
    }
    return out
}

/// adaptive_avg_pool1d over the channels of x (N, C, ...plane), applied to every position: (N, outputSize, plane).
private func reducePlanes(_ x: Tensor, n: Int, plane: Int, outputSize: Int) -> Tensor {
    let c = x.shape[1]
    let bins = adaptiveAveragePoolingBins(length: c, outputSize: outputSize)
    var out = Tensor(zeros: [n, outputSize, plane])
    x.withUnsafeBufferPointer { px in
        out.withUnsafeMutableBufferPointer { po in
            for b in 0..<n {
                for (i, bin) in bins.enumerated() {
                    let o = po.baseAddress! + (b * outputSize + i) * plane
                    for ch in bin {
                        let s = px.baseAddress! + (b * c + ch) * plane
                        for p in 0..<plane { o[p] += s[p] }
                    }
                    let scale = 1 / Float(bin.count)
                    for p in 0..<plane { o[p] *= scale }
                }
            }
        }
    }
    return out
}
