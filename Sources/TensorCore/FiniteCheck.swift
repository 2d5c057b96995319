import Foundation

/// A tensor read from a file holds NaN or +-Inf (or, for a named constraint such as a batch-norm variance, a value
/// outside its range): names the file, the tensor, the first offending element and its value.
public struct NonFiniteError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    public var file: String
    public var tensor: String
    /// Flat (row-major) index of the first offending element.
    public var index: Int
    public var value: Float
    /// What was expected instead ("finite", "finite and >= 0").
    public var expected: String

    public init(file: String, tensor: String, index: Int, value: Float, expected: String = "finite") {
        self.file = file
        self.tensor = tensor
        self.index = index
        self.value = value
        self.expected = expected
    }

    public var description: String {
        "\(file): tensor '\(tensor)' holds \(value) at element \(index); every value must be \(expected)"
    }

    public var errorDescription: String? { description }
}

/// NaN / Inf guards for values where they enter (weights at load, memory banks, features): one vectorisable pass
/// over the bit patterns, about memory speed (10^8 floats in a few tens of milliseconds).
///
/// ```swift
/// try FiniteCheck.require(weight, file: url.path, tensor: "layer1.0.conv1.weight")
/// if let i = bank.firstNonFiniteIndex() { ... }
/// ```
public enum FiniteCheck {
    /// Index of the first NaN or +-Inf in `values`, nil when all are finite.
    public static func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> Int? {
        guard let base = values.baseAddress, values.count > 0 else { return nil }
        let bits = UnsafeRawPointer(base).assumingMemoryBound(to: UInt32.self)
        let n = values.count
        let block = 4_096
        var start = 0
        while start < n {
            let end = min(start + block, n)
            // Exponent all ones <=> (bits & 0x7F80_0000) + 0x0080_0000 has bit 31 set; OR-reduce, branch-free,
            // so the compiler vectorises the block.
            var acc: UInt32 = 0
            for i in start..<end { acc |= (bits[i] & 0x7F80_0000) &+ 0x0080_0000 }
            if acc & 0x8000_0000 != 0 {
                for i in start..<end where !base[i].isFinite { return i }
            }
            start = end
        }
        return nil
    }

    /// Throws `NonFiniteError` naming `file` and `tensor` unless every value of `t` is finite.
    public static func require(_ t: Tensor, file: String, tensor: String) throws {
        if let i = t.firstNonFiniteIndex() {
            throw NonFiniteError(file: file, tensor: tensor, index: i, value: t.scalars[i])
        }
    }

    /// Throws `NonFiniteError` unless every value of `t` is finite and >= 0 (variances, standard deviations).
    public static func requireNonNegative(_ t: Tensor, file: String, tensor: String) throws {
        try require(t, file: file, tensor: tensor)
        if let i = t.scalars.firstIndex(where: { $0 < 0 }) {
            throw NonFiniteError(file: file, tensor: tensor, index: i, value: t.scalars[i], expected: "finite and >= 0")
        }
    }
}

extension Tensor {
    /// Flat index of the first NaN or +-Inf, nil when every value is finite (see `FiniteCheck`).
    public func firstNonFiniteIndex() -> Int? {
        withUnsafeBufferPointer { FiniteCheck.firstNonFinite($0) }
    }
}
