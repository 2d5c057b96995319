import Dispatch
import Foundation
import Synchronization
import Testing
@testable import TensorCore

/// OpenBLAS thread-pool settings: switching how idle workers wait restarts the pool, and sgemm must stay correct
/// (threaded and single-threaded) across the restarts. Serialized: both tests change the one process-wide pool.
@Suite(.serialized) struct BLASThreadsTests {
    /// C = A B in Double, A (m, k), B (k, n), row-major.
    func product(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for p in 0..<k { let x = Double(a[i * k + p]); for j in 0..<n { c[i * n + j] += x * Double(b[p * n + j]) } } }
        return c
    }

    func maxError(m: Int, n: Int, k: Int, seed: UInt64) -> Double {
        var rng = SplitMix64(seed: seed)
        let a = (0..<m * k).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<k * n).map { _ in Float.random(in: -1...1, using: &rng) }
        var c = [Float](repeating: .nan, count: m * n)
        sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n)
        return zip(c, product(a, b, m: m, n: n, k: k)).map { abs(Double($0) - $1) }.max()!
    }

    /// Products keep running on another thread while the pool restarts: each restart waits for the sgemm in flight
    /// (`BLASPoolLock`), and every product stays correct.
    @Test func poolRestartsWaitForProductsInFlight() {
        let stop = Atomic<Bool>(false)
        let worst = Mutex<Double>(0), products = Atomic<Int>(0)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            var seed: UInt64 = 100
            while !stop.load(ordering: .acquiring) {
                let e = self.maxError(m: 200, n: 150, k: 120, seed: seed)
                worst.withLock { $0 = max($0, e) }
                products.add(1, ordering: .relaxed)
                seed += 1
            }
        }
        // Each restart starts while the worker is mid-loop, and the next one only after it finished a product.
        for i in 0..<6 {
            let done = products.load(ordering: .relaxed)
            OpenBLASKernels.setIdleWait(i % 2 == 0 ? .sleep : .spin)
            while products.load(ordering: .relaxed) == done {}
        }
        stop.store(true, ordering: .releasing)
        group.wait()
        OpenBLASKernels.setIdleWait(.spin)
        #expect(products.load(ordering: .relaxed) >= 6)
        #expect(worst.withLock { $0 } < 1e-4)
    }

    @Test func sgemmStaysCorrectAcrossIdleWaitChanges() {
        let userTimeout = ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"] != nil
        let before = ComputeThreads.current
        #expect(maxError(m: 300, n: 257, k: 190, seed: 1) < 1e-4)
        let switched = OpenBLASKernels.setIdleWait(.sleep)
        #expect(switched != userTimeout, "the pool restarts unless the environment sets the timeout")
        #expect(!OpenBLASKernels.setIdleWait(.sleep), "setting the same wait again changes nothing")
        #expect(ComputeThreads.current == before)
        #expect(maxError(m: 300, n: 257, k: 190, seed: 2) < 1e-4)
        let single = ComputeThreads.withSingleThreadedBLAS { maxError(m: 64, n: 130, k: 77, seed: 3) }
        #expect(single < 1e-4)
        #expect(OpenBLASKernels.setIdleWait(.spin) != userTimeout)
        #expect(maxError(m: 513, n: 129, k: 260, seed: 4) < 1e-4)
        #expect(ComputeThreads.current == before)
    }
}
