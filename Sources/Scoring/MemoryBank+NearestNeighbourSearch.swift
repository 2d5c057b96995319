import MemoryBank
import TensorCore

/// The memory bank answers Scoring's k-NN queries with its exact tiled BLAS search.
extension MemoryBank: NearestNeighbourSearch {
    public func nearestNeighbours(of queries: Tensor, k: Int) throws -> NearestNeighbours {
        try validate(queries: queries, k: k)
        let r = nearest(to: queries, k: k)
        return NearestNeighbours(distances: r.distances, indices: r.indices.map(Int.init))
    }

    public func bankRows(_ indices: [Int]) -> Tensor { rows(indices) }
}
