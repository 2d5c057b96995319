import Testing
@testable import TensorCore

/// sgemm gives bit-identical products whatever the thread count: tiles are planned from the shape alone.
/// Serialized with the thread count restored: `ComputeThreads` is process-wide.
@Suite(.serialized) struct GemmTilesTests {
    func operands(m: Int, n: Int, k: Int, seed: UInt64) -> ([Float], [Float]) {
        var rng = SplitMix64(seed: seed)
        return ((0..<m * k).map { _ in Float.random(in: -2...2, using: &rng) },
                (0..<k * n).map { _ in Float.random(in: -2...2, using: &rng) })
    }

    func product(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool,
                 threads: Int) -> [Float] {
        ComputeThreads.set(threads)
        var c = [Float](repeating: .nan, count: m * n)
        sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
              a: a, lda: transposeA ? m : k, b: b, ldb: transposeB ? k : n, c: &c, ldc: n)
        return c
    }

    /// Shapes of MobileNetV2 and ResNet layers at batch 2; with OpenBLAS's own threading 1 to 12 % of their
    /// elements changed in the last bit between 1 and 2 threads.
    @Test(arguments: [(32, 25088, 27), (96, 12544, 16), (320, 98, 960), (64, 392, 384), (1280, 98, 320), (700, 300, 50)])
    func productsAreIdenticalForOneTwoAndThreeThreads(shape: (Int, Int, Int)) {
        let before = ComputeThreads.current
        defer { ComputeThreads.set(before) }
        let (m, n, k) = shape
        let (a, b) = operands(m: m, n: n, k: k, seed: UInt64(m * n + k))
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let one = product(a, b, m: m, n: n, k: k, transposeA: ta, transposeB: tb, threads: 1)
            #expect(!one.contains { $0.isNaN }, "every element written")
            for threads in [2, 3] {
                let other = product(a, b, m: m, n: n, k: k, transposeA: ta, transposeB: tb, threads: threads)
                let differing = zip(one, other).filter { $0 != $1 }.count
                #expect(differing == 0, "\(m)x\(n)x\(k) transposes \(ta) \(tb), \(threads) threads: \(differing) differ")
            }
            // And right: spot-check elements against a Double sum.
            for (i, j) in [(0, 0), (m - 1, n - 1), (m / 2, n / 3)] {
                var s = 0.0
                for p in 0..<k {
                    s += Double(ta ? a[p * m + i] : a[i * k + p]) * Double(tb ? b[j * k + p] : b[p * n + j])
                }
                #expect(abs(Double(one[i * n + j]) - s) < 1e-3 * max(1, abs(s)))
            }
        }
    }

    @Test func tilesCoverTheLongerSideOnRegisterBlockEdges() {
        for (m, n, k) in [(1, 1, 1), (32, 25088, 27), (4096, 320, 2880), (17, 1_000_003, 3), (300, 300, 300), (1 << 20, 1 << 20, 1 << 30)] {
            let t = GemmTiles(m: m, n: n, k: k)
            #expect(t.alongRows == (m > n))
            #expect(t.count >= 1 && t.count <= GemmTiles.maxTiles)
            #expect(t.step % GemmTiles.edgeMultiple == 0)
            let ranges = (0..<t.count).map(t.range)
            #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == t.extent)
            #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound && !$1.isEmpty })
        }
        #expect(GemmTiles(m: 64, n: 64, k: 64).count == 1, "small products are one call")
    }

    /// A batch gives the bits of the same products run one by one, independent or chained (accumulating into one C),
    /// at 1 and 2 threads.
    @Test func batchesMatchProductsRunOneByOne() {
        let before = ComputeThreads.current
        defer { ComputeThreads.set(before) }
        let (m, n, k, count) = (96, 3000, 40, 5)
        var rng = SplitMix64(seed: 9)
        let a = (0..<count * m * k).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<count * k * n).map { _ in Float.random(in: -1...1, using: &rng) }
        func run(threads: Int, batched: Bool, chained: Bool) -> [Float] {
            ComputeThreads.set(threads)
            var c = [Float](repeating: .nan, count: (chained ? 1 : count) * m * n)
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                let calls = (0..<count).map { i in
                    GemmCall(m: m, n: n, k: k, a: pa.baseAddress! + i * m * k, lda: k, b: pb.baseAddress! + i * k * n, ldb: n,
                             beta: chained && i > 0 ? 1 : 0, c: pc.baseAddress! + (chained ? 0 : i * m * n), ldc: n)
                }
                if batched { sgemmBatch(calls, chained: chained) } else {
                    for g in calls {
                        sgemm(m: g.m, n: g.n, k: g.k, a: g.a, lda: g.lda, b: g.b, ldb: g.ldb, beta: g.beta, c: g.c, ldc: g.ldc)
                    }
                }
            } } }
            return c
        }
        for chained in [false, true] {
            let reference = run(threads: 1, batched: false, chained: chained)
            #expect(!reference.contains { $0.isNaN })
            for threads in [1, 2] {
                let batched = run(threads: threads, batched: true, chained: chained)
                let same = batched == reference   // a Bool: a failing == on two arrays would be diffed element by element
                #expect(same, "chained \(chained), \(threads) threads")
            }
        }
    }
}
