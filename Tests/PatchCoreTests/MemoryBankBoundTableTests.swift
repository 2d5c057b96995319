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
        // The listed form: the same bits for every listed row, at every level, the offset applied.
        let n = 130, d = 37
        let rows = (0..<(n * d)).map { _ in Float(rng.next() % 20001) / 1000 - 10 }
        let query = (0..<d).map { _ in Float(rng.next() % 20001) / 1000 - 10 }
        let listed: [Int32] = [5, 0, 99, 99, 17, 3, 64, 2, 88, 1]
        let single = listed.map { i in
            rows.withUnsafeBufferPointer { pc_squared_distance(query, $0.baseAddress! + (20 + Int(i)) * d, d) }
        }
        for level in 0...2 {
            var out = [Float](repeating: .nan, count: listed.count)
            _ = withVectorMathLevel(level) { pc_squared_distances(query, rows, d, listed, listed.count, 20, &out) }
            #expect(out.map(\.bitPattern) == single.map(\.bitPattern), "level \(level)")
        }
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

    /// The codes' dot form: every table value is unit^2 sum_g w_g sum_j (q - b)^2 worked out here from the codes
    /// (the squared distance between the coded points), the same bits at every level and for any number of
    /// queries and blocks; argmin names the smallest real point (lowest index on ties); the residuals make a lower
    /// bound on the distance between the points themselves; and the selection keeps exactly values <= (c + slack)^2.
    @Test func dotTableIsTheDistanceBetweenCodes() throws {
        let n = 1000, width = 32
        let y = MemoryBankTestData.anisotropic(n + 20, width, clusters: 9, seed: 43, offset: 3).scalars
        let codes = y.withUnsafeBufferPointer { yb in
            Int8BoundCodes(count: n, width: width, scaleClasses: true) { i, l in yb[i * width + l] }
        }
        let dot = try #require(codes.dot)
        let groups = codes.groups
        // Classes: steps are the first one over 1, 2, 4 or 8, and never grow along the groups.
        for g in 0..<groups {
            let ratio = codes.scale[0] / codes.scale[g]
            #expect([1, 2, 4, 8].contains(ratio), "group \(g): step ratio \(ratio)")
            if g > 0 { #expect(codes.scale[g] <= codes.scale[g - 1]) }
        }
        #expect(Set(codes.scale).count > 1, "anisotropic points should use more than one class")
        // Queries: bank points, new points, and far ones (clamped).
        var queries: [[Float]] = [0, 17, 500, 999].map { Array(y[($0 * width)..<(($0 + 1) * width)]) }
        for c in (n)..<(n + 20) { queries.append(Array(y[(c * width)..<((c + 1) * width)])) }
        queries.append(queries[5].map { $0 * 50 })
        let nq = queries.count                                   // 25: not a multiple of 4
        var u = [UInt8](repeating: 0, count: nq * groups * 4), term = [Int32](repeating: 0, count: nq)
        var residual = [Float](repeating: 0, count: nq)
        for (r, q) in queries.enumerated() {
            let (t, e) = q.withUnsafeBufferPointer { qb in
                u.withUnsafeMutableBufferPointer { codes.dotQuery(qb.baseAddress!, into: $0.baseAddress! + r * groups * 4) }
            }
            term[r] = t; residual[r] = e
        }
        let stride = codes.paddedCount
        var tables: [[Float]] = []
        var argmins: [[Int32]] = []
        for level in 0...2 {
            var table = [Float](repeating: .nan, count: nq * stride), argmin = [Int32](repeating: -2, count: nq)
            _ = withVectorMathLevel(level) {
                dot.shift.withUnsafeBufferPointer { sh in
                    dot.rowTerm.withUnsafeBufferPointer { rt in
                        pc_int8_dot_table(codes.codes, groups, sh.baseAddress!, u, nq, term, rt.baseAddress!, dot.unit2,
                                          0, codes.paddedCount / 16, n, &table, stride, &argmin)
                    }
                }
            }
            tables.append(table); argmins.append(argmin)
        }
        #expect(tables[0].elementsEqual(tables[1]) { $0.bitPattern == $1.bitPattern }
                 && tables[1].elementsEqual(tables[2]) { $0.bitPattern == $1.bitPattern }, "levels differ")
        var problems: [String] = []
        for r in 0..<nq {
            var worstLow: Float = 0
            for i in 0..<n {
                var sum: Int64 = 0, coded: Double = 0, exact: Double = 0
                for g in 0..<groups {
                    for j in 0..<4 {
                        let b = Int64(codes.codes[((i / 16) * groups + g) * 64 + (i % 16) * 4 + j])
                        let q = Int64(u[r * groups * 4 + g * 4 + j]) - 128
                        sum += Int64(dot.groupWeight[g]) * (q - b) * (q - b)
                        let e = Double(codes.scale[g]) * Double(q - b)
                        coded += e * e
                        let f = Double(queries[r][g * 4 + j]) - Double(y[i * width + g * 4 + j])
                        exact += f * f
                    }
                }
                let expected = dot.unit2 * Float(sum)
                if tables[0][r * stride + i] != expected { problems.append("query \(r) point \(i): \(tables[0][r * stride + i]) vs \(expected)") }
                // The lower bound ||code_q - code_b|| - rho_q - rho_b <= ||y_q - y_b||.
                let low = coded.squareRoot() - Double(residual[r]) - Double(dot.residual[i])
                if low > exact.squareRoot() { problems.append("query \(r) point \(i): bound \(low) > \(exact.squareRoot())") }
                worstLow = max(worstLow, Float(low - exact.squareRoot()))
            }
            let row = Array(tables[0][(r * stride)..<(r * stride + n)])
            if argmins[0][r] != Int32(row.firstIndex(of: row.min()!)!) { problems.append("query \(r): argmin \(argmins[0][r])") }
            if argmins[1][r] != argmins[0][r] || argmins[2][r] != argmins[0][r] { problems.append("query \(r): argmin differs by level") }
        }
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        // A range of blocks and a single query: the same values, from the start of out.
        var part = [Float](repeating: 0, count: 5 * 16), partMin: [Int32] = [-2]
        dot.shift.withUnsafeBufferPointer { sh in
            dot.rowTerm.withUnsafeBufferPointer { rt in
                pc_int8_dot_table(codes.codes, groups, sh.baseAddress!, Array(u[(3 * groups * 4)...]), 1, [term[3]],
                                  rt.baseAddress!, dot.unit2, 10, 15, n, &part, 80, &partMin)
            }
        }
        #expect(part == Array(tables[0][(3 * stride + 160)..<(3 * stride + 240)]))
        #expect(partMin[0] == 160 + Int32(part.firstIndex(of: part.min()!)!))
        // No real point: -1.
        dot.shift.withUnsafeBufferPointer { sh in
            dot.rowTerm.withUnsafeBufferPointer { rt in
                pc_int8_dot_table(codes.codes, groups, sh.baseAddress!, u, 1, term, rt.baseAddress!, dot.unit2,
                                  0, 2, 0, &part, 80, &partMin)
            }
        }
        #expect(partMin[0] == -1)
        // The selection: exactly the values <= (c + slack)^2, at every level.
        let values = Array(tables[0][0..<n])
        let sorted = values.sorted()
        for level in 0...2 {
            for c: Float in [0, sorted[10].squareRoot() - 0.05, sorted[n / 2].squareRoot(), sorted[n - 1].squareRoot() + 1] {
                var out = [Int32](repeating: -1, count: n + 16)
                var found = 0
                _ = withVectorMathLevel(level) {
                    found = dot.residual.withUnsafeBufferPointer { pc_indices_within(values, $0.baseAddress!, n, c, &out) }
                }
                let expected = (0..<n).filter { i in let t = c + dot.residual[i]; return values[i] <= t * t }
                #expect(Array(out[0..<found].map(Int.init)) == expected, "c \(c) level \(level)")
            }
        }
    }
}
