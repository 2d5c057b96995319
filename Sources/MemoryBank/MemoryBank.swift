import TensorCore

/// The PatchCore memory bank: N patch features of dimension D, kept row-major as a (N,D) tensor,
/// together with the squared row norms that the nearest-neighbour search reuses for every query.
///
/// ```swift
/// let bank = try MemoryBank(features: Tensor(shape: [3, 2], scalars: [0, 0, 1, 0, 0, 2]))
/// let (distances, indices) = bank.nearest(to: Tensor(shape: [1, 2], scalars: [0.9, 0]), k: 1)
/// // distances (1,1) ~ [0.1], indices [1]
/// ```
public struct MemoryBank: Sendable, Equatable {
    /// features (N,D), row-major.
    public let features: Tensor
    /// ||b_n||^2 for every bank row n, (N).
    public let squaredNorms: [Float]
    /// Rows partitioned into groups with centres and radii, for pruning in `nearest(to:k:)` (derived).
    let groups: BankGroups
    /// int8 codes for the exact quantized 1-NN search (`QuantizedBankIndex`); nil below its minimum size (derived).
    let quantized: QuantizedBankIndex?
    /// Set by `withInvertedFileIndex`: `nearest(to:k:)` then searches approximately (opt-in, never the default).
    public internal(set) var invertedFile: InvertedFileIndex?

    /// Banks are equal when their features are (everything else is derived from them).
    public static func == (a: MemoryBank, b: MemoryBank) -> Bool { a.features == b.features }

    /// Number of rows N.
    public var count: Int { features.shape[0] }
    /// Feature dimension D.
    public var dimension: Int { features.shape[1] }

    /// Wraps a (N,D) feature tensor; throws unless it is rank 2 with N >= 1 and D >= 1 and every value is finite
    /// (a NaN or infinity would make every distance to its row NaN or infinite, and the pruned searches' bounds
    /// meaningless).
    public init(features: Tensor) throws(MemoryBankError) {
        guard features.rank == 2, features.shape[0] >= 1, features.shape[1] >= 1 else {
            throw .badShape(tensor: "memory bank features", expected: "(N,D) with N >= 1, D >= 1",
                            actual: features.shape)
        }
        let firstNonFinite = features.withUnsafeBufferPointer { $0.firstIndex { !$0.isFinite } }
        if let at = firstNonFinite {
            let d = features.shape[1]
            throw .invalidArgument(name: "memory bank features", value: "row \(at / d), column \(at % d) = \(features.scalars[at])",
                                   expected: "finite values")
        }
        self.init(validFeatures: features)
    }

    /// A bank of features already known to be (N,D) with N, D >= 1.
    init(validFeatures features: Tensor) {
        self.features = features
        self.squaredNorms = rowSquaredNorms(features)
        self.groups = BankGroups(features: features, norms: squaredNorms)
        self.quantized = features.shape[0] >= QuantizedBankIndex.minimumRows ? QuantizedBankIndex(features: features) : nil
    }

    /// The bank rows at `indices`, stacked into a (indices.count, D) tensor.
    public func rows(_ indices: [Int]) -> Tensor { features.gatherRows(indices) }

    /// Checks a query batch before `nearest(to:k:)`: queries must be (M,D) with this bank's D and 1 <= k.
    public func validate(queries: Tensor, k: Int) throws(MemoryBankError) {
        guard queries.rank == 2, queries.shape[1] == dimension else {
            throw .badShape(tensor: "queries", expected: "(M,\(dimension))", actual: queries.shape)
        }
        guard k >= 1 else {
            throw .invalidArgument(name: "k", value: "\(k)", expected: "k >= 1 (nearest neighbours per query)")
        }
    }
}

/// ||x_i||^2 for each row of a (N,D) tensor.
func rowSquaredNorms(_ x: Tensor) -> [Float] {
    let n = x.shape[0], d = x.shape[1]
    var norms = [Float](repeating: 0, count: n)
    x.withUnsafeBufferPointer { p in
        norms.withUnsafeMutableBufferPointer { out in
            let base = p.baseAddress!
            for i in 0..<n { out[i] = squaredNorm(base + i * d, d) }
        }
    }
    return norms
}
