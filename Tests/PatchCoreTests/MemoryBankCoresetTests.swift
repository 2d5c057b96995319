import Foundation
import MemoryBank
import PropertyBased
import TensorCore
import Testing

@Suite("MemoryBank greedy coreset")
struct MemoryBankCoresetTests {
    @Test func projectionGeneratorMatchesPython() throws {
        let (t, meta) = try MemoryBankTestData.fixtures()
        let expected = try #require(t["proj_projection"])
        let case_ = try #require(meta["proj"] as? [String: Any])
        var rng = SplitMix64(seed: UInt64(case_["seed"] as! Int))
        let start = Int(rng.next() % 240)
        #expect(start == case_["start"] as! Int)
        let p = RandomProjection.gaussian(inputDimension: 160, outputDimension: 128, rng: &rng)
        let maxAbs = zip(p.scalars, expected.scalars).map { abs($0 - $1) }.max()!
        print("projection generator vs Python: max abs diff \(maxAbs)")
        #expect(p.shape == expected.shape)
        #expect(maxAbs <= 1e-6)
    }

    @Test(arguments: ["proj", "noproj"])
    func picksMatchPythonGreedy(name: String) throws {
        let (t, meta) = try MemoryBankTestData.fixtures()
        let features = try #require(t["\(name)_features"])
        let case_ = try #require(meta[name] as? [String: Any])
        let expected = case_["picks"] as! [Int]
        let sampler = GreedyCoresetSampler(ratio: case_["ratio"] as! Double, seed: UInt64(case_["seed"] as! Int))
        #expect(sampler.coresetSize(rows: features.shape[0]) == case_["count"] as! Int)
        let projection = t["\(name)_projection"]
        let fast = try sampler.select(from: features, projection: projection)
        let plain = try sampler.selectPlain(from: features, projection: projection)
        let seeded = try sampler.select(from: features)   // projection from the Swift generator
        print("\(name): \(expected.count) picks; accelerated mismatches \(zip(fast, expected).filter { $0 != $1 }.count), plain \(zip(plain, expected).filter { $0 != $1 }.count)")
        #expect(fast == expected)
        #expect(plain == expected)
        #expect(seeded == expected)
    }

    /// Accelerated and plain greedy must pick identical indices.
    @Test(arguments: [(1, 1), (2, 2), (3, 1)])
    func acceleratedMatchesPlain(seed: Int, threads: Int) throws {
        let cases: [(Tensor, Int)] = [
            (MemoryBankTestData.clustered(1200, 24, clusters: 9, seed: UInt64(seed)), 150),
            (MemoryBankTestData.normal(800, 5, seed: UInt64(seed) + 10), 300),
            // More picks than pivots (256), so the pivot bound is used for non-pivot centres.
            (MemoryBankTestData.clustered(2500, 10, clusters: 30, seed: UInt64(seed) + 30), 700),
            // High-dimensional i.i.d. data: pruning fails, so the dense pass runs (with pruned picks in between).
            (MemoryBankTestData.normal(1500, 64, seed: UInt64(seed) + 40), 60),
            // Large enough for the multi-threaded chunked path (>= 16384 members to visit).
            (MemoryBankTestData.clustered(17_000, 3, clusters: 6, seed: UInt64(seed) + 20), 40),
            // Patch-feature-like (decaying spectrum, many blobs), like a Magnetic Tile bank in small: the rotated
            // lower bounds decide most points; N >= 16384 with weak triangle pruning takes the threaded dense pass.
            (MemoryBankTestData.anisotropic(16_500, 32, clusters: 40, seed: UInt64(seed) + 50), 40),
            (MemoryBankTestData.anisotropic(3000, 128, clusters: 60, seed: UInt64(seed) + 60, offset: 25), 90),
        ]
        for (x, count) in cases {
            let plain = PlainGreedyCoreset.select(x, start: seed * 7, count: count)
            let fast = try GreedyCoresetSampler.selectReduced(x, start: seed * 7, count: count, threads: threads)
            #expect(plain == fast, "N=\(x.shape[0]) D=\(x.shape[1]) count=\(count)")
        }
    }

    @Test func duplicatesStillGiveUniquePicks() throws {
        // 12 distinct rows, each repeated 5 times; ask for 50 picks (more than the distinct rows).
        let distinct = MemoryBankTestData.normal(12, 6, seed: 3)
        var rows = [Float]()
        for i in 0..<60 { rows += distinct.scalars[(i % 12) * 6 ..< (i % 12) * 6 + 6] }
        let x = Tensor(shape: [60, 6], scalars: rows)
        let plain = PlainGreedyCoreset.select(x, start: 4, count: 50)
        let fast = try GreedyCoresetSampler.selectReduced(x, start: 4, count: 50, threads: 2)
        #expect(plain == fast)
        #expect(Set(fast).count == 50)
        #expect(Set(fast.prefix(12).map { $0 % 12 }).count == 12)   // every distinct row before any duplicate
    }

    @Test func sizeUniquenessAndStart() async throws {
        await propertyCheck(count: 25, input: Gen.int(in: 1...400), Gen.int(in: 1...160), Gen.double(in: 0.001...1.0), Gen.int(in: 0...10_000)) { n, d, ratio, seed in
            let x = MemoryBankTestData.clustered(n, d, clusters: 4, seed: UInt64(seed))
            let sampler = GreedyCoresetSampler(ratio: ratio, projectionDimension: 16, seed: UInt64(seed))
            let picks = try sampler.select(from: x)
            let expectedCount = ratio >= 1 ? n : min(n, max(1, Int(Double(n) * ratio)))
            #expect(picks.count == expectedCount)
            #expect(Set(picks).count == picks.count)
            #expect(picks.allSatisfy { $0 >= 0 && $0 < n })
            var rng = SplitMix64(seed: UInt64(seed))
            if ratio < 1 { #expect(picks.first == Int(rng.next() % UInt64(n))) }
            // Coreset members are at distance 0 from the coreset bank.
            let bank = try MemoryBank(features: MemoryBank(features: x).rows(picks))
            let (dist, _) = bank.nearest(to: try MemoryBank(features: x).rows(Array(picks.prefix(5))), k: 1)
            #expect(dist.scalars.allSatisfy { $0 == 0 })
        }
    }

    @Test func progressAndValidation() throws {
        let x = MemoryBankTestData.normal(500, 8, seed: 1)
        var calls: [(Int, Int)] = []
        let picks = try GreedyCoresetSampler(ratio: 0.5, seed: 2).select(from: x) { calls.append(($0, $1)) }
        #expect(picks.count == 250)
        #expect(calls.last.map { $0.0 == 250 && $0.1 == 250 } == true)
        #expect(calls.count >= 10)
        #expect(throws: MemoryBankError.self) { try GreedyCoresetSampler(ratio: 0, seed: 1).select(from: x) }
        #expect(throws: MemoryBankError.self) { try GreedyCoresetSampler(ratio: .nan, seed: 1).select(from: x) }
        #expect(throws: MemoryBankError.self) { try GreedyCoresetSampler(ratio: 0.1, seed: 1).select(from: Tensor(zeros: [0, 3])) }
        #expect(throws: MemoryBankError.self) {
            try GreedyCoresetSampler(ratio: 0.1, projectionDimension: 4, seed: 1).select(from: x, projection: Tensor(zeros: [8, 5]))
        }
    }

    @Test func cancellationStopsSelection() async throws {
        let x = MemoryBankTestData.normal(3000, 4, seed: 1)
        let task = Task { () throws -> [Int] in
            withUnsafeCurrentTask { $0?.cancel() }
            return try GreedyCoresetSampler(ratio: 0.5, seed: 2).select(from: x)
        }
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}
