/// Pointwise operations used between layers. In-place variants avoid copies in the forward pass.
extension Tensor {
    public mutating func applyReLU() {
        withUnsafeMutableBufferPointer { p in for i in p.indices where p[i] < 0 { p[i] = 0 } }
    }

    /// ReLU6: min(max(x, 0), 6), as torch.nn.ReLU6.
    public mutating func applyReLU6() {
        withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = Swift.min(Swift.max(p[i], 0), 6) } }
    }

    /// self += other (same shape).
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "add: shapes differ \(shape) vs \(other.shape)")
        other.withUnsafeBufferPointer { q in
            withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] += q[i] } }
        }
    }
}
