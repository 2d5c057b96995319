/// Pointwise operations used between layers. In-place variants avoid copies in the forward pass;
/// tensors above 64k scalars are split across `Parallel.workers`.
extension Tensor {
    /// ReLU in place: max(x, 0), as torch.nn.ReLU.
    public mutating func applyReLU() { apply(.relu) }

    /// ReLU6 in place: min(max(x, 0), 6), as torch.nn.ReLU6.
    public mutating func applyReLU6() { apply(.relu6) }

    /// SiLU (swish) in place: x * sigmoid(x), as torch.nn.SiLU.
    public mutating func applySiLU() { apply(.silu) }

    /// Logistic sigmoid in place: 1 / (1 + exp(-x)), as torch.sigmoid.
    public mutating func applySigmoid() { apply(.sigmoid) }

    /// Applies `activation` in place.
    ///
    /// ```swift
    /// var y = conv2d(x, weight: w)
    /// y.apply(.relu6)
    /// ```
    public mutating func apply(_ activation: Activation) {
        if activation == .none { return }
        withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            Parallel.chunks(count: p.count, minChunk: 1 << 16) { r in
                applyActivation(activation, base + r.lowerBound, count: r.count)
            }
        }
    }

    /// self += other (same shape).
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "add: shapes differ \(shape) vs \(other.shape)")
        other.withUnsafeBufferPointer { q in
            withUnsafeMutableBufferPointer { p in
                let dst = p.baseAddress!, src = q.baseAddress!
                Parallel.chunks(count: p.count, minChunk: 1 << 16) { r in
                    for i in r { dst[i] += src[i] }
                }
            }
        }
    }
}

/// Joins tensors along `axis` (negative counts from the end), as torch.cat.
/// All other dimensions must match.
///
/// ```swift
/// let y = concatenate([a, b], axis: 1)   // (N,C1,H,W) + (N,C2,H,W) -> (N,C1+C2,H,W)
/// ```
public func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concatenate needs at least one tensor")
    let rank = tensors[0].rank
    let ax = axis < 0 ? axis + rank : axis
    precondition(ax >= 0 && ax < rank, "concatenate axis \(axis) out of range for rank \(rank)")
    for t in tensors {
        precondition(t.rank == rank, "concatenate: ranks differ, \(tensors[0].shape) vs \(t.shape)")
        for d in 0..<rank where d != ax {
            precondition(t.shape[d] == tensors[0].shape[d],
                         "concatenate along \(ax): shapes \(tensors[0].shape) and \(t.shape) differ in dimension \(d)")
        }
    }
    var shape = tensors[0].shape
    shape[ax] = tensors.reduce(0) { $0 + $1.shape[ax] }
    let outer = shape[..<ax].reduce(1, *)
    let inner = shape[(ax + 1)...].reduce(1, *)
    let rowOut = shape[ax] * inner
    var out = Tensor(zeros: shape)
    out.withUnsafeMutableBufferPointer { po in
        var offset = 0
        for t in tensors {
            let rowIn = t.shape[ax] * inner
            if rowIn > 0 {
                t.withUnsafeBufferPointer { pt in
                    for o in 0..<outer {
                        (po.baseAddress! + o * rowOut + offset).update(from: pt.baseAddress! + o * rowIn, count: rowIn)
                    }
                }
            }
            offset += rowIn
        }
    }
    return out
}
