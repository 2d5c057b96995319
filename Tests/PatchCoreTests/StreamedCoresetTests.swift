import Foundation
import MemoryBank
import TensorCore
import Testing

/// The streamed coreset: one chunk is the plain coreset pick for pick; several chunks keep the bank's size, stay
/// within the given rows, find every well-separated cluster, and depend only on the rows and settings.
@Suite("MemoryBank streamed coreset")
struct StreamedCoresetTests {
    /// Rows of `x` appended `batch` at a time, as images arrive.
    static func stream(_ x: Tensor, batch: Int, sampler: GreedyCoresetSampler, chunkBytes: Int) throws -> StreamedCoreset.Result {
        var s = StreamedCoreset(sampler: sampler, chunkBytes: chunkBytes)
        for start in stride(from: 0, to: x.shape[0], by: batch) {
            try s.append(x.rows(start ..< min(start + batch, x.shape[0])))
        }
        return try s.finish()
    }

    @Test func oneChunkIsThePlainCoresetPickForPick() throws {
        let x = MemoryBankTestData.clustered(3_000, 24, clusters: 12, seed: 3)
        let sampler = GreedyCoresetSampler(ratio: 0.05, seed: 5)
        let streamed = try Self.stream(x, batch: 100, sampler: sampler, chunkBytes: x.count * 4 + 1)
        #expect(streamed.chunks == 0 && streamed.keptRows == 0 && streamed.totalRows == 3_000)
        #expect(streamed.bank == x.gatherRows(try sampler.select(from: x)))
        // takeRows hands the rows back unchanged when nothing was reduced.
        var s = StreamedCoreset(sampler: sampler, chunkBytes: .max)
        try s.append(x.rows(0 ..< 10)); try s.append(x.rows(10 ..< 25))
        #expect(s.takeRows() == x.rows(0 ..< 25))
        #expect(s.takeRows() == nil && s.totalRows == 0)     // handed over: the stream is empty
        #expect(throws: MemoryBankError.self) { try s.finish() }
    }

    @Test func chunksKeepTheBankSizeAndFindEveryCluster() throws {
        // 40 tight, far-apart clusters in shuffled order: a k-centre pass with at least 40 picks visits them all, so
        // when every chunk keeps more rows than there are clusters, the bank still has one of each.
        let n = 8_000, d = 16, clusters = 40
        let centres = MemoryBankTestData.normal(clusters, d, seed: 11, scale: 50)
        let noise = MemoryBankTestData.normal(n, d, seed: 12, scale: 0.05)
        var rng = SplitMix64(seed: 13)
        var label = [Int](repeating: 0, count: n)
        var rows = [Float](repeating: 0, count: n * d)
        for i in 0..<n {
            label[i] = Int(rng.next() % UInt64(clusters))
            for j in 0..<d { rows[i * d + j] = centres.scalars[label[i] * d + j] + noise.scalars[i * d + j] }
        }
        let x = Tensor(shape: [n, d], scalars: rows)
        let sampler = GreedyCoresetSampler(ratio: 0.03, seed: 0)        // 60 rows kept per chunk, 240 in the bank
        let chunkRows = 1_000
        let result = try Self.stream(x, batch: 250, sampler: sampler, chunkBytes: chunkRows * d * 4)
        #expect(result.chunks == n / chunkRows)
        #expect(result.keptRows == (n / chunkRows) * sampler.coresetSize(rows: chunkRows) * 2)   // 2x per chunk
        #expect(result.bank.shape == [sampler.coresetSize(rows: n), d])
        // Every bank row is one of the given rows, and every cluster has one.
        var index: [[Float]: Int] = [:]
        for i in 0..<n { index[Array(rows[i * d ..< (i + 1) * d])] = i }
        var found = Set<Int>()
        for r in 0..<result.bank.shape[0] {
            let i = try #require(index[Array(result.bank.scalars[r * d ..< (r + 1) * d])], "bank row \(r) is not an input row")
            found.insert(label[i])
        }
        #expect(found.count == clusters)
        // Same rows, same settings: the same bank.
        #expect(try Self.stream(x, batch: 250, sampler: sampler, chunkBytes: chunkRows * d * 4).bank == result.bank)
    }

    @Test func coveringRadiusStaysCloseToThePlainCoreset() throws {
        // The k-centre objective (largest distance of a row to its nearest bank row) on clustered data.
        let x = MemoryBankTestData.clustered(6_000, 32, clusters: 30, seed: 21)
        let sampler = GreedyCoresetSampler(ratio: 0.02, seed: 1)
        func radius(_ bank: Tensor) throws -> Float {
            try MemoryBank(features: bank).nearest(to: x, k: 1).distances.scalars.max()!
        }
        let plain = try radius(x.gatherRows(try sampler.select(from: x)))
        let streamed = try Self.stream(x, batch: 250, sampler: sampler, chunkBytes: 1_500 * 32 * 4)
        #expect(streamed.chunks == 4)
        let r = try radius(streamed.bank)
        print("covering radius: plain \(plain), streamed in 4 chunks \(r)")
        #expect(r <= 2 * plain)
    }

    @Test func badRowsAreRefusedByShape() throws {
        var s = StreamedCoreset(sampler: GreedyCoresetSampler(ratio: 0.1), chunkBytes: 1 << 20)
        #expect(throws: MemoryBankError.self) { try s.finish() }
        try s.append(Tensor(zeros: [4, 8]))
        #expect(throws: MemoryBankError.self) { try s.append(Tensor(zeros: [4, 7])) }
        #expect(throws: MemoryBankError.self) { try s.append(Tensor(zeros: [8])) }
        #expect(try s.finish().bank.shape == [1, 8])
        #expect(throws: MemoryBankError.self) { try GreedyCoresetSampler(ratio: 0.1).select(from: Tensor(zeros: [4, 8]), count: 5) }
    }
}
