import Foundation
@testable import MemoryBank
@testable import TensorCore
import Testing

/// The rotated lower bounds used by the accelerated greedy coreset must never skip a point that the plain
/// algorithm would update, and should skip most points that are clearly farther than their delta.
@Suite("MemoryBank rotated lower bounds")
struct MemoryBankRotatedBoundsTests {
    @Test func jacobiEigenDecomposesSymmetricMatrix() {
        let n = 24
        let b = MemoryBankTestData.normal(n, n, seed: 5)
        var a = [Double](repeating: 0, count: n * n)       // A = B^T B
        for i in 0..<n { for j in 0..<n { for k in 0..<n {
            a[i * n + j] += Double(b.scalars[k * n + i]) * Double(b.scalars[k * n + j])
        } } }
        let (values, v) = JacobiEigen.decompose(a, n: n)
        var orthoErr = 0.0, eigenErr = 0.0
        for i in 0..<n {
            for j in 0..<n {
                var dot = 0.0, av = 0.0
                for k in 0..<n { dot += v[k * n + i] * v[k * n + j]; av += a[i * n + k] * v[k * n + j] }
                orthoErr = max(orthoErr, abs(dot - (i == j ? 1 : 0)))
                eigenErr = max(eigenErr, abs(av - values[j] * v[i * n + j]))
            }
        }
        print("Jacobi: max |V^T V - I| \(orthoErr), max |A V - V L| \(eigenErr), largest eigenvalue \(values[0])")
        #expect(orthoErr < 1e-12)
        #expect(eigenErr < 1e-9 * values[0])
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 >= $1 })
    }

    @Test(arguments: [(Float(0), 40), (Float(30), 128), (Float(200), 7)])
    func boundNeverSkipsAnUpdateAndPrunesFarPoints(offset: Float, d: Int) {
        let n = 1500
        let x = MemoryBankTestData.anisotropic(n, d, clusters: 12, seed: UInt64(d), offset: offset)
        x.withUnsafeBufferPointer { xb in
            let base = xb.baseAddress!
            let lb = RotatedLowerBounds(base, n: n, d: d)
            defer { lb.deallocate() }
            var wrongSkips = 0, farSkips = 0, farTotal = 0, selectedKept = 0
            for p in stride(from: 0, to: n, by: 97) {
                lb.loadCentre(p)
                for i in 0..<n {
                    let s = squaredDistance(base + i * d, base + p * d, d)
                    // delta just above s: the plain algorithm updates (s < delta), so the bound must not skip.
                    for delta in [s.nextUp, s * (1 + 1e-6), s * 1.001] where delta > s {
                        lb.setThreshold(i, delta: delta)
                        if lb.canSkip(i) { wrongSkips += 1 }
                    }
                    // delta well below s: skippable.
                    if s > 0 {
                        lb.setThreshold(i, delta: s * 0.5)
                        farTotal += 1
                        if lb.canSkip(i) { farSkips += 1 }
                    }
                    lb.setThreshold(i, delta: -1)                  // selected points are always skipped
                    if !lb.canSkip(i) { selectedKept += 1 }
                }
            }
            print("rotated bounds d=\(d) offset \(offset): wrong skips \(wrongSkips), skipped \(farSkips) of \(farTotal) points at 2x delta")
            #expect(wrongSkips == 0)
            #expect(selectedKept == 0)
            #expect(farSkips * 10 >= farTotal * 9)
        }
    }

    /// The int8 scan of the dense pass (every instruction set level the CPU has): a point the plain algorithm
    /// would update is always a survivor, selected points and the padding never are, and most points at twice
    /// their delta are ruled out before the float bound.
    @Test(arguments: [(Float(0), 40), (Float(30), 128), (Float(200), 7)])
    func int8ScanNeverDropsAnUpdate(offset: Float, d: Int) {
        let n = 1500                                       // not a multiple of 16: the last block is padded
        let x = MemoryBankTestData.anisotropic(n, d, clusters: 12, seed: UInt64(d) + 1, offset: offset)
        x.withUnsafeBufferPointer { xb in
            let base = xb.baseAddress!
            let lb = RotatedLowerBounds(base, n: n, d: d)
            defer { lb.deallocate() }
            let blocks = lb.paddedCount / 16
            let out = UnsafeMutablePointer<Int32>.allocate(capacity: lb.paddedCount)
            defer { out.deallocate() }
            var survivorsAtLevel: [[Int32]] = []
            for level in 0...2 {
                var dropped = 0, selectedKept = 0, farKept = 0, farTotal = 0, levelUsed = 0
                var survivors: [Int32] = []
                levelUsed = withVectorMathLevel(level) {
                    for p in stride(from: 3, to: n, by: 101) {
                        lb.loadCentre(p)
                        var s = [Float](repeating: 0, count: n)
                        for i in 0..<n { s[i] = squaredDistance(base + i * d, base + p * d, d) }
                        // delta just above s: the plain algorithm updates, so i must survive; every 7th point selected.
                        for i in 0..<n { lb.setThreshold(i, delta: i % 7 == 0 ? -1 : s[i].nextUp) }
                        var kept = Set<Int32>()
                        let count = lb.survivors(blocks: 0, blocks, into: out)
                        for k in 0..<count { kept.insert(out[k]) }
                        for i in 0..<n where i % 7 != 0 && !kept.contains(Int32(i)) { dropped += 1 }
                        selectedKept += kept.filter { $0 % 7 == 0 || $0 >= n }.count
                        // delta at half the distance: mostly ruled out.
                        for i in 0..<n { lb.setThreshold(i, delta: s[i] * 0.5) }
                        let far = lb.survivors(blocks: 0, blocks, into: out)
                        for k in 0..<far where s[Int(out[k])] > 0 { farKept += 1 }
                        survivors += (0..<far).map { out[$0] }
                        farTotal += s.filter { $0 > 0 }.count
                    }
                }
                print("int8 scan d=\(d) offset \(offset) level \(levelUsed): dropped \(dropped), selected kept \(selectedKept), kept \(farKept) of \(farTotal) points at 2x delta")
                #expect(dropped == 0)
                #expect(selectedKept == 0)
                #expect(farKept * 4 <= farTotal)
                survivorsAtLevel.append(survivors)
            }
            // Every instruction set (the VNNI kernel and the plain C ones) keeps exactly the same points.
            #expect(Set(survivorsAtLevel.map { $0 }).count == 1, "survivor lists differ between vector levels")
        }
    }
}
