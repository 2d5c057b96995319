import Foundation

/// Multi-head scaled dot-product attention on token-major tensors, as
/// torch.nn.functional.scaled_dot_product_attention after splitting heads (the layout diffusers' and CLIP's
/// attention modules produce with their q/k/v projections).
///
/// `query` (B, Lq, H*D), `key` and `value` (B, Lk, H*D) -> (B, Lq, H*D); head h owns features [h*D, (h+1)*D).
/// Heads are read and written in place through GEMM leading dimensions, so no transpose is materialised.
/// `causal` masks key j > query i (CLIP's text encoder). `scale` defaults to 1/sqrt(D).
/// Queries are processed in blocks so the score matrix stays bounded (Lq x Lk floats per block and head).
///
/// ```swift
/// let o = scaledDotProductAttention(query: q, key: k, value: v, heads: 8)   // (2, 4096, 320)
/// ```
public func scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int,
                                      causal: Bool = false, scale: Float? = nil) -> Tensor {
    precondition(query.rank == 3 && key.rank == 3 && value.rank == 3,
                 "attention: query/key/value must be (B, L, H*D), got \(query.shape) \(key.shape) \(value.shape)")
    let b = query.shape[0], lq = query.shape[1], width = query.shape[2]
    let lk = key.shape[1]
    precondition(key.shape == [b, lk, width] && value.shape == [b, lk, width],
                 "attention: key \(key.shape) / value \(value.shape) do not match query \(query.shape)")
    precondition(heads > 0 && width % heads == 0, "attention: width \(width) not divisible by \(heads) heads")
    let d = width / heads
    let alpha = scale ?? 1 / Float(d).squareRoot()
    var out = Tensor(zeros: [b, lq, width])
    if b == 0 || lq == 0 || lk == 0 { return out }
    // Query block: keep the score block near 16M floats (64 MiB) at most.
    let block = Swift.max(1, Swift.min(lq, (1 << 24) / lk))
    var scores = [Float](repeating: 0, count: block * lk)
    query.withUnsafeBufferPointer { pq in
        key.withUnsafeBufferPointer { pk in
            value.withUnsafeBufferPointer { pv in
                out.withUnsafeMutableBufferPointer { po in
                    scores.withUnsafeMutableBufferPointer { ps in
                        let s = ps.baseAddress!
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
                                          a: q + q0 * width, lda: width, b: k, ldb: width, c: s, ldc: lk)
                                    let first = q0
                                    Parallel.chunks(count: rows, minChunk: Swift.max(1, 8192 / lk)) { r in
                                        for i in r {
                                            let row = s + i * lk
                                            if causal {
                                                let visible = Swift.min(lk, first + i + 1)
                                                for j in visible..<lk { row[j] = -.infinity }
                                            }
                                            softmaxRow(row, count: lk)
                                        }
                                    }
                                    // O_h (rows, D) = P V_h
                                    sgemm(m: rows, n: d, k: lk, a: s, lda: lk, b: v, ldb: width,
                                          c: o + q0 * width, ldc: width)
                                    q0 += rows
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return out
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
