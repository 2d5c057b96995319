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

/// Brute-force exact k-NN: distances accumulated in Double as sqrt(sum (q - m)^2), ties broken by
/// the lower bank index. Reference implementation for tests and tiny banks.
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
        let m = queries.shape[0], d = dimension
        var distances = [Float](repeating: 0, count: m * k)
        var indices = [Int](repeating: 0, count: m * k)
        for i in 0..<m {
            var all: [(Double, Int)] = []
            all.reserveCapacity(count)
            for j in 0..<count {
                var acc = 0.0
                for c in 0..<d {
                    let diff = Double(queries.scalars[i * d + c]) - Double(bank.scalars[j * d + c])
                    acc += diff * diff
                }
                all.append((acc.squareRoot(), j))
            }
            all.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            for t in 0..<k {
                distances[i * k + t] = Float(all[t].0)
                indices[i * k + t] = all[t].1
            }
        }
        return NearestNeighbours(distances: Tensor(shape: [m, k], scalars: distances), indices: indices)
    }

    public func bankRows(_ indices: [Int]) -> Tensor {
        let d = dimension
        var out = [Float](); out.reserveCapacity(indices.count * d)
        for i in indices { out += bank.scalars[(i * d)..<((i + 1) * d)] }
        return Tensor(shape: [indices.count, d], scalars: out)
    }
}
