/// Fully connected layer over the last dimension, as torch.nn.functional.linear: y = x W^T + b.
///
/// `x` (..., in), `weight` (out, in) as stored by PyTorch, `bias` (out) -> (..., out). One sgemm for all leading
/// dimensions, so a (B, L, in) activation costs a single (B*L, in) x (in, out) product.
///
/// ```swift
/// let h = linear(tokens, weight: w, bias: b)   // (2, 77, 768) -> (2, 77, 3072)
/// ```
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, activation: Activation = .none) -> Tensor {
    precondition(weight.rank == 2, "linear: weight must be (out, in), got \(weight.shape)")
    let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
    precondition(x.rank >= 1 && x.shape[x.rank - 1] == inFeatures,
                 "linear: input \(x.shape) does not end in \(inFeatures) features")
    if let bias { precondition(bias.shape == [outFeatures], "linear: bias \(bias.shape) != [\(outFeatures)]") }
    let rows = x.count / max(1, inFeatures)
    var shape = x.shape
    shape[shape.count - 1] = outFeatures
    var out = Tensor(zeros: shape)
    if rows == 0 || outFeatures == 0 { return out }
    out.withUnsafeMutableBufferPointer { po in
        let o = po.baseAddress!
        // Start from the bias so sgemm accumulates onto it (beta = 1).
        if let bias {
            bias.withUnsafeBufferPointer { pb in
                for r in 0..<rows { (o + r * outFeatures).update(from: pb.baseAddress!, count: outFeatures) }
            }
        }
        x.withUnsafeBufferPointer { px in
            weight.withUnsafeBufferPointer { pw in
                sgemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                      a: px.baseAddress!, lda: inFeatures, b: pw.baseAddress!, ldb: inFeatures,
                      beta: bias == nil ? 0 : 1, c: o, ldc: outFeatures)
            }
        }
    }
    out.apply(activation)
    return out
}
