import Foundation

/// Multi-head scaled dot-product attention on token-major tensors, as
/// torch.nn.functional.scaled_dot_product_attention after splitting heads (the layout diffusers' and CLIP's
/// attention modules produce with their q/k/v projections).
///
/// `query` (B, Lq, H*D), `key` and `value` (B, Lk, H*D) -> (B, Lq, H*D); head h owns features [h*D, (h+1)*D).
/// Heads are read and written in place through GEMM leading dimensions, so no transpose is materialised.
/// `causal` masks key j > query i (CLIP's text encoder). `scale` defaults to 1/sqrt(D).
///
/// Work is split into items of (batch, head, block of query rows); each worker of `Parallel` takes a contiguous
/// run of items and does all of an item's work itself with single-threaded GEMMs, so a block's scores stay in
/// that core's cache from the first GEMM to the second and no GEMM pays OpenBLAS's fork/join (the K = 40..64
/// GEMMs of a head are too small to split well). Per item:
/// S = scale Q K^T (sgemm), P~ = exp(S - rowmax) with the vectorised `fastExpShiftedRow`, O = P~ V (sgemm),
/// then O's rows are divided by the row sums (D per row instead of Lk). A block holds about 512k scores (2 MiB,
/// one core's L2), at least 128 rows, as thinner single-threaded GEMMs run well below full speed; see
/// bench/DESIGN_NOTES.md#attention-blocks.
/// With `causal`, a block of queries [q0, q0 + rows) only multiplies the first q0 + rows keys. `blockRows`
/// overrides the block (tests).
/// The Double reference is `scaledDotProductAttentionReference` below.
///
/// ```swift
/// let o = scaledDotProductAttention(query: q, key: k, value: v, heads: 8)   // (2, 4096, 320)
/// ```
public func scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int,
                                      causal: Bool = false, scale: Float? = nil, blockRows: Int? = nil) -> Tensor {
    precondition(query.rank == 3 && key.rank == 3 && value.rank == 3,
                 "attention: query/key/value must be (B, L, H*D), got \(query.shape) \(key.shape) \(value.shape)")
    let b = query.shape[0], lq = query.shape[1], width = query.shape[2]
    let lk = key.shape[1]
    precondition(key.shape == [b, lk, width] && value.shape == [b, lk, width],
                 "attention: key \(key.shape) / value \(value.shape) do not match query \(query.shape)")
    precondition(heads > 0 && width % heads == 0, "attention: width \(width) not divisible by \(heads) heads")
    let d = width / heads
    let alpha = scale ?? 1 / Float(d).squareRoot()
    let count = b * lq * width
    if count == 0 || lk == 0 { return Tensor(zeros: [b, lq, width]) }
    let block = Swift.max(1, Swift.min(lq, blockRows ?? Swift.max(128, (1 << 19) / lk)))
    let blocksPerHead = (lq + block - 1) / block
    let items = b * heads * blocksPerHead
    let workers = Swift.min(Parallel.workers, items)
    let out = [Float](unsafeUninitializedCapacity: count) { po, initialized in
        query.withUnsafeBufferPointer { pq in
            key.withUnsafeBufferPointer { pk in
                value.withUnsafeBufferPointer { pv in
                    let (q, k, v, o) = (pq.baseAddress!, pk.baseAddress!, pv.baseAddress!, po.baseAddress!)
                    ComputeThreads.withSingleThreadedBLAS {
                        Parallel.forEach(iterations: workers) { worker in
                            let scores = UnsafeMutablePointer<Float>.allocate(capacity: block * lk)
                            let inverseSums = UnsafeMutablePointer<Float>.allocate(capacity: block)
                            defer { scores.deallocate(); inverseSums.deallocate() }
                            for item in (items * worker / workers)..<(items * (worker + 1) / workers) {
                                let unit = item / blocksPerHead, batch = unit / heads, h = unit % heads
                                let q0 = (item % blocksPerHead) * block, rows = Swift.min(block, lq - q0)
                                let head = batch * lk * width + h * d   // K_h, V_h start
                                let queries = batch * lq * width + q0 * width + h * d
                                // Keys this block can see: all, or the first q0 + rows when causal.
                                let keys = causal ? Swift.min(lk, q0 + rows) : lk
                                // S (rows, keys) = alpha * Q_h K_h^T
                                sgemm(transposeB: true, m: rows, n: keys, k: d, alpha: alpha,
                                      a: q + queries, lda: width, b: k + head, ldb: width, c: scores, ldc: keys)
                                // P~ = exp(S - rowmax), 1 / rowsum kept aside
                                for i in 0..<rows {
                                    let row = scores + i * keys
                                    if causal {
                                        let visible = Swift.min(keys, q0 + i + 1)
                                        for j in visible..<keys { row[j] = -.infinity }
                                    }
                                    inverseSums[i] = fastExpShiftedRow(row, count: keys)
                                }
                                // O_h (rows, D) = diag(1 / rowsum) P~ V_h
                                let oBlock = o + queries
                                sgemm(m: rows, n: d, k: keys, a: scores, lda: keys, b: v + head, ldb: width,
                                      c: oBlock, ldc: width)
                                for i in 0..<rows {
                                    let row = oBlock + i * width, f = inverseSums[i]
                                    for t in 0..<d { row[t] *= f }
                                }
                            }
                        }
                    }
                }
            }
        }
        initialized = count
    }
    return Tensor(shape: [b, lq, width], scalars: out)
}

/// Plain triple-loop attention in Double, the reference the GEMM version is tested against.
public func scaledDotProductAttentionReference(query: Tensor, key: Tensor, value: Tensor, heads: Int,
                                               causal: Bool = false) -> Tensor {
    let b = query.shape[0], lq = query.shape[1], width = query.shape[2], lk = key.shape[1]
    let d = width / heads
    var out = Tensor(zeros: [b, lq, width])
    for batch in 0..<b {
        for h in 0..<heads {
            for i in 0..<lq {
                var logits = [Double](repeating: -.infinity, count: lk)
                for j in 0..<lk where !causal || j <= i {
                    var dot = 0.0
                    for t in 0..<d { dot += Double(query[batch, i, h * d + t]) * Double(key[batch, j, h * d + t]) }
                    logits[j] = dot / Double(d).squareRoot()
                }
                let m = logits.max()!
                let e = logits.map { $0 == -.infinity ? 0 : Foundation.exp($0 - m) }
                let z = e.reduce(0, +)
                for t in 0..<d {
                    var acc = 0.0
                    for j in 0..<lk { acc += e[j] / z * Double(value[batch, j, h * d + t]) }
                    out[batch, i, h * d + t] = Float(acc)
                }
            }
        }
    }
    return out
}
