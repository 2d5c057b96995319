import CVectorMath
@testable import MemoryBank
@testable import TensorCore
import Testing

/// The kernels behind the small banks' quantized search (`QuantizedBankIndex.boundTableMaxRows`): the table of int8
/// bounds, its selection, and the wide squared distance that must return the Swift one's bits.
@Suite("MemoryBank bound table kernels")
struct MemoryBankBoundTableTests {
    /// pc_squared_distance is squaredDistance bit for bit, at every instruction set level, for every length
    /// (whole 16-lane steps and tails) and magnitude.
    @Test func wideSquaredDistanceHasTheSwiftBits() {
        var rng = SplitMix64(seed: 41)
        var mismatches: [String] = []
        for length in [1, 3, 15, 16, 17, 31, 64, 128, 130, 200] {
            for magnitude: Float in [1e-3, 1, 37, 1e4] {
                let a = (0..<length).map { _ in (Float(rng.next() % 20001) / 10000 - 1) * magnitude }
                let b = (0..<length).map { _ in (Float(rng.next() % 20001) / 10000 - 1) * magnitude }
                let swift = a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in squaredDistance(pa.baseAddress!, pb.baseAddress!, length) }
                }
                for level in 0...2 {
                    var wide: Float = 0
                    let used = withVectorMathLevel(level) {
                        wide = a.withUnsafeBufferPointer { pa in
                            b.withUnsafeBufferPointer { pb in pc_squared_distance(pa.baseAddress!, pb.baseAddress!, length) }
                        }
                    }
                    if wide.bitPattern != swift.bitPattern {
                        mismatches.append("length \(length) magnitude \(magnitude) level \(used): \(wide) vs \(swift)")
                    }
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    /// The bound table holds the same bounds as the survivor scan (selecting from it at a threshold gives the scan's
    /// survivors), the same values at every level, and names the smallest real (not padding) point.
    @Test func boundTableAgreesWithTheSurvivorScan() {
        let n = 1000, width = 32                           // 1,000: the last block of 16 is padded
        let y = MemoryBankTestData.anisotropic(n + 20, width, clusters: 9, seed: 42, offset: 3).scalars
        let codes = y.withUnsafeBufferPointer { yb in
            Int8BoundCodes(count: n, width: width) { i, l in yb[i * width + l] }
        }
        let values = UnsafeMutablePointer<Float>.allocate(capacity: codes.paddedCount)
        let selected = UnsafeMutablePointer<Int32>.allocate(capacity: codes.paddedCount + 16)
        let scanned = UnsafeMutablePointer<Int32>.allocate(capacity: codes.paddedCount)
        defer { values.deallocate(); selected.deallocate(); scanned.deallocate() }
        var tables: [[[Float]]] = [[], [], []]
        var problems: [String] = []
        for level in 0...2 {
            let used = withVectorMathLevel(level) {
                // Centres: bank points (codes of points in the set) and points outside it (quantized, some clamped).
                for c in [0, 17, 500, 999, n + 3, n + 11] {
                    var centre = [Int8](repeating: 0, count: width)
                    centre.withUnsafeMutableBufferPointer { cb in
                        if c < n { codes.code(of: c, into: cb.baseAddress!) } else {
                            var far = Array(y[(c * width)..<((c + 1) * width)])
                            if c == n + 11 { far = far.map { $0 * 50 } }
                            far.withUnsafeBufferPointer { codes.quantize($0.baseAddress!, into: cb.baseAddress!) }
                        }
                    }
                    let smallest = centre.withUnsafeBufferPointer { codes.boundValues(centre: $0.baseAddress!, blocks: 0, codes.paddedCount / 16, count: n, into: values) }
                    let table = Array(UnsafeBufferPointer(start: values, count: n))
                    tables[level].append(table)
                    let minimum = table.min()!
                    if smallest != table.firstIndex(of: minimum)! { problems.append("centre \(c): smallest \(smallest)") }
                    if c < n && table[c] != 0 { problems.append("centre \(c): its own bound \(table[c])") }
                    for quantile in [0.0, 0.01, 0.1, 0.5, 1.0] {
                        let t = table.sorted()[min(n - 1, Int(quantile * Double(n)))]
                        let count = pc_indices_at_most(values, n, t, selected)
                        let fromTable = Array(UnsafeBufferPointer(start: selected, count: count))
                        var threshold = [Float](repeating: t, count: codes.paddedCount)
                        for i in n..<codes.paddedCount { threshold[i] = -1 }          // padding never survives
                        let kept = centre.withUnsafeBufferPointer { cb in
                            threshold.withUnsafeBufferPointer { tb in
                                codes.survivors(centre: cb.baseAddress!, threshold: tb.baseAddress!, perPoint: true,
                                                blocks: 0, codes.paddedCount / 16, into: scanned)
                            }
                        }
                        if fromTable != Array(UnsafeBufferPointer(start: scanned, count: kept)) {
                            problems.append("centre \(c) quantile \(quantile): \(count) selected, \(kept) scanned")
                        }
                    }
                }
            }
            print("bound table level \(used): \(problems.count) problems")
        }
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(tables[0] == tables[1] && tables[1] == tables[2], "bound tables differ between vector levels")
        // An empty bank part names no point.
        #expect(codes.boundValues(centre: codes.codes, blocks: 0, codes.paddedCount / 16, count: 0, into: values) == -1)
        // A range of blocks: its own values from the start of out, its smallest point by bank index.
        let part = codes.boundValues(centre: codes.codes, blocks: 10, 20, count: n, into: values)
        let partTable = Array(UnsafeBufferPointer(start: values, count: 160))
        _ = codes.boundValues(centre: codes.codes, blocks: 0, codes.paddedCount / 16, count: n, into: values)
        let whole = Array(UnsafeBufferPointer(start: values, count: n))
        #expect(partTable == Array(whole[160..<320]))
        #expect(part == 160 + partTable.firstIndex(of: partTable.min()!)!)
    }
}
