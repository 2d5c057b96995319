import TensorCore

/// Multi-head attention softmax(Q K^T * scale) V on token-major tensors, in query blocks small enough that each
/// block's score matrix stays in cache: `query` (B, Lq, H*D), `key`/`value` (B, Lk, H*D) -> (B, Lq, H*D).
///
/// Same result as TensorCore's `scaledDotProductAttention` (its reference is `scaledDotProductAttentionReference`);
/// this variant is for the long self-attention of diffusion UNets and VAEs (4096-16384 tokens), where a full
/// score matrix per head (64 MiB at 4096 tokens) would make the softmax passes memory-bound: the blocks here are
/// about 2 MiB and the softmax is vectorised (fastSoftmaxRow).
///
/// ```swift
/// let o = blockedAttention(query: q, key: k, value: v, heads: 8)   // (2, 4096, 320)
/// ```
/// `blockRows` overrides the query block size (tests).
func blockedAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int, blockRows: Int? = nil) -> Tensor {
    let b = query.shape[0], lq = query.shape[1], width = query.shape[2]
    let lk = key.shape[1]
    precondition(key.shape == [b, lk, width] && value.shape == [b, lk, width] && width % heads == 0,
                 "attention: query \(query.shape), key \(key.shape), value \(value.shape), heads \(heads)")
    let d = width / heads
    let alpha = 1 / Float(d).squareRoot()
    let count = b * lq * width
    if count == 0 { return Tensor(zeros: [b, lq, width]) }
    // Rows per block: about 1M scores (4 MiB, half per core), at least 32 rows (or all of them). Larger blocks
    // repack K and V less often; smaller ones keep the softmax passes in cache.
    let block = Swift.min(lq, blockRows ?? Swift.max(32, (1 << 20) / Swift.max(1, lk)))
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: block * lk)
    let inverseSums = UnsafeMutablePointer<Float>.allocate(capacity: block)
    defer { scores.deallocate(); inverseSums.deallocate() }
    let out = [Float](unsafeUninitializedCapacity: count) { po, initialized in
        query.withUnsafeBufferPointer { pq in
            key.withUnsafeBufferPointer { pk in
                value.withUnsafeBufferPointer { pv in
                    for batch in 0..<b {
                        for h in 0..<heads {
                            let q = pq.baseAddress! + batch * lq * width + h * d
                            let k = pk.baseAddress! + batch * lk * width + h * d
                            let v = pv.baseAddress! + batch * lk * width + h * d
                            let o = po.baseAddress! + batch * lq * width + h * d
                            var q0 = 0
                            while q0 < lq {
                                let rows = Swift.min(block, lq - q0)
                                // S (rows, Lk) = alpha * Q_h K_h^T
                                sgemm(transposeB: true, m: rows, n: lk, k: d, alpha: alpha,
                                      a: q + q0 * width, lda: width, b: k, ldb: width, c: scores, ldc: lk)
                                // P~ = exp(S - rowmax), 1 / rowsum kept aside
                                Parallel.chunks(count: rows, minChunk: Swift.max(1, 8192 / lk)) { r in
                                    for i in r { inverseSums[i] = fastExpShiftedRow(scores + i * lk, count: lk) }
                                }
                                // O_h (rows, D) = diag(1 / rowsum) P~ V_h
                                let oBlock = o + q0 * width
                                sgemm(m: rows, n: d, k: lk, a: scores, lda: lk, b: v, ldb: width, c: oBlock, ldc: width)
                                for i in 0..<rows {
                                    let row = oBlock + i * width, f = inverseSums[i]
                                    for t in 0..<d { row[t] *= f }
                                }
                                q0 += rows
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
