import Foundation

/// A dense, row-major (C-contiguous) array of `Float` with an explicit shape.
///
/// Layout follows PyTorch's NCHW so checkpoint tensors load without transposes.
/// Value semantics come from the underlying `[Float]` (copy-on-write).
///
/// ```swift
/// var x = Tensor(zeros: [1, 3, 224, 224])
/// x[0, 1, 10, 10] = 0.5
/// let y = x.reshaped([1, 3, 224 * 224])
/// ```
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var scalars: [Float]

    /// Creates a tensor from scalars in row-major order; `scalars.count` must equal the shape's product.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        precondition(shape.reduce(1, *) == scalars.count,
                     "shape \(shape) holds \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    public init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Number of scalars.
    public var count: Int { scalars.count }

    /// Row-major strides in elements.
    public var strides: [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }

    /// Same scalars, new shape (one dimension may be -1).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var dims = newShape
        if let inferred = dims.firstIndex(of: -1) {
            let known = dims.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            dims[inferred] = count / known
        }
        return Tensor(shape: dims, scalars: scalars)
    }

    @inline(__always)
    private func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index rank \(index.count) != tensor rank \(shape.count)")
        var off = 0
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            precondition(index[i] >= 0 && index[i] < shape[i], "index \(index) out of range for shape \(shape)")
            off += index[i] * acc
            acc *= shape[i]
        }
        return off
    }

    /// Element access by full index; for tests and small code, not inner loops.
    public subscript(_ index: Int...) -> Float {
        get { scalars[offset(index)] }
        set { scalars[offset(index)] = newValue }
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer(body)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = scalars.prefix(6).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(head)\(count > 6 ? ", ..." : "")])"
    }
}

