import MemoryBank
import TensorCore

/// Result of a k-nearest-neighbour query of M vectors: row i holds the k smallest Euclidean
/// distances (ascending) and the bank rows they belong to.
public struct NearestNeighbours: Sendable, Equatable {
    /// (M, k) Euclidean (not squared) distances, ascending per row.
    public var distances: Tensor
    /// M * k bank row indices, row-major like `distances`.
    public var indices: [Int]

    public init(distances: Tensor, indices: [Int]) {
        self.distances = distances
        self.indices = indices
    }

    public var queryCount: Int { distances.shape[0] }
    public var k: Int { distances.shape[1] }

    /// Checks shapes; throws `ScoringError.shapeMismatch` naming `what`.
    func validate(_ what: String) throws {
        guard distances.rank == 2, indices.count == distances.count else {
            throw ScoringError.shapeMismatch(what: "\(what) distances/indices", expected: "(M,k) distances and M*k indices",
                                             actual: distances.shape + [indices.count])
        }
    }
}

/// Exact k-NN over a bank of patch features (the memory bank M of the paper).
///
/// Scoring only needs this much of a memory bank; `MemoryBank` conforms at integration time through
/// a small extension (the requirement names differ from `MemoryBank.nearest(to:k:)` on purpose, so
/// the adapter can forward to it without overloading on the return type).
///
/// ```swift
/// let bank = try NaiveNearestNeighbourSearch(bank: features /*(Mb, D)*/)
/// let nn = try bank.nearestNeighbours(of: queries /*(M, D)*/, k: 1)
/// ```
public protocol NearestNeighbourSearch: Sendable {
    /// Number of bank rows.
    var count: Int { get }
    /// Feature dimension D.
    var dimension: Int { get }
    /// k nearest bank rows of each query row. queries (M, D) -> distances (M, k), indices M*k.
    /// Requires 1 <= k <= count.
    func nearestNeighbours(of queries: Tensor, k: Int) throws -> NearestNeighbours
    /// Bank rows at `indices`: (indices.count, D).
    func bankRows(_ indices: [Int]) -> Tensor
}

/// Brute-force exact k-NN (MemoryBank's `naiveNearestNeighbours`): distances accumulated in Double as
/// sqrt(sum (q - m)^2), ties broken by the lower bank index. Reference implementation for tests and tiny banks.
public struct NaiveNearestNeighbourSearch: NearestNeighbourSearch {
    /// (Mb, D).
    public let bank: Tensor

    public init(bank: Tensor) throws {
        guard bank.rank == 2 else {
            throw ScoringError.shapeMismatch(what: "memory bank", expected: "(Mb, D)", actual: bank.shape)
        }
        self.bank = bank
    }

    public var count: Int { bank.shape[0] }
    public var dimension: Int { bank.shape[1] }

    public func nearestNeighbours(of queries: Tensor, k: Int) throws -> NearestNeighbours {
        guard count > 0 else { throw ScoringError.emptyBank }
        guard queries.rank == 2, queries.shape[1] == dimension else {
            throw ScoringError.shapeMismatch(what: "queries", expected: "(M, \(dimension))", actual: queries.shape)
        }
        guard k >= 1 && k <= count else {
            throw ScoringError.invalidParameter(name: "k", value: "\(k)", expected: "1...\(count) (bank size)")
        }
        let r = naiveNearestNeighbours(of: queries, in: bank, k: k)
        return NearestNeighbours(distances: r.distances, indices: r.indices.map(Int.init))
    }

    public func bankRows(_ indices: [Int]) -> Tensor { bank.gatherRows(indices) }
}
