import Foundation
import CVectorMath
@testable import MemoryBank
import PropertyBased
@testable import TensorCore
import Testing

@Suite("MemoryBank nearest neighbours")
struct MemoryBankNearestTests {
    /// Compares fast and naive results: distances within tolerance; indices equal wherever the naive
    /// neighbour list has a clear gap (ties at float32 rounding may be ordered either way).
    func compare(_ bank: MemoryBank, _ queries: Tensor, k: Int, tileBytes: Int, label: String) {
        let fast = tileBytes == 0 ? bank.nearest(to: queries, k: k) : bank.nearestLinear(to: queries, k: k, tileBytes: tileBytes)
        let naive = bank.nearestNaive(to: queries, k: k)
        #expect(fast.distances.shape == naive.distances.shape)
        var maxAbs: Float = 0, maxRel: Float = 0, indexMismatches = 0
        let kk = naive.distances.shape[1]
        for r in 0..<queries.shape[0] {
            for j in 0..<kk {
                let a = fast.distances.scalars[r * kk + j], b = naive.distances.scalars[r * kk + j]
                maxAbs = max(maxAbs, abs(a - b)); maxRel = max(maxRel, abs(a - b) / max(b, 1e-6))
                if fast.indices[r * kk + j] != naive.indices[r * kk + j] { indexMismatches += 1 }
            }
        }
        print("\(label): max abs diff \(maxAbs), max rel diff \(maxRel), index mismatches \(indexMismatches)")
        #expect(maxAbs < 1e-4)
        #expect(indexMismatches == 0)
    }

    @Test func fastMatchesNaiveOnRandomData() throws {
        let bank = try MemoryBank(features: MemoryBankTestData.normal(700, 37, seed: 1))
        let queries = MemoryBankTestData.normal(45, 37, seed: 2)
        for k in [1, 2, 5] {
            compare(bank, queries, k: k, tileBytes: MemoryBank.defaultTileBytes, label: "random k=\(k)")
            compare(bank, queries, k: k, tileBytes: 4 * 45 * 48, label: "random k=\(k) small tiles") // ragged tiles
        }
    }

    @Test func groupedSearchMatchesNaive() throws {
        // >= 1,024 rows: nearest(to:k:) for k > 1 prunes by groups (nearestGrouped: for any k).
        let bank = try MemoryBank(features: MemoryBankTestData.clustered(3000, 24, clusters: 40, seed: 4))
        let near = bank.rows(Array(stride(from: 5, to: 3000, by: 61)))                 // bank members
        let far = MemoryBankTestData.clustered(60, 24, clusters: 40, seed: 5)       // same clusters, new points
        let queries = Tensor(shape: [near.shape[0] + 60, 24], scalars: near.scalars + far.scalars)
        for k in [1, 4] { compare(bank, queries, k: k, tileBytes: 0, label: "grouped k=\(k)") }
        // Integer rows with duplicates: exact ties, order by index.
        var rng = SplitMix64(seed: 6)
        var rows = (0..<(1200 * 12)).map { _ in Float(Int(rng.next() % 3)) }
        for i in 600..<1200 { for j in 0..<12 { rows[i * 12 + j] = rows[(i - 600) * 12 + j] } }
        let tieBank = try MemoryBank(features: Tensor(shape: [1200, 12], scalars: rows))
        let tieQueries = Tensor(shape: [70, 12], scalars: (0..<(70 * 12)).map { _ in Float(Int(rng.next() % 3)) })
        for k in [1, 3] { compare(tieBank, tieQueries, k: k, tileBytes: 0, label: "grouped ties k=\(k)") }
    }

    @Test func searchRouteFollowsTheBank() throws {
        // Clustered rows, queried like an image's patches: neighbouring queries are alike (here the 200 bank rows
        // nearest to row 0), so the first block visits a few groups and pruning stays on for every query.
        let clustered = try MemoryBank(features: MemoryBankTestData.clustered(4096, 32, clusters: 64, seed: 11))
        let nearClusters = clustered.rows(clustered.nearestNaive(to: clustered.rows([0]), k: 200).indices.map(Int.init))
        // k = 1 takes the quantized search on banks of 256 rows or more; the probe decides for k > 1.
        #expect(clustered.nearestRouted(to: nearClusters, k: 1).route == .quantized)
        let (_, clusteredRoute, clusteredShare) = clustered.nearestRouted(to: nearClusters, k: 2)
        // i.i.d. Gaussian rows in 64 dimensions: no group is far from any query, so the rest goes linear.
        let gauss = try MemoryBank(features: MemoryBankTestData.normal(4096, 64, seed: 12))
        let gaussQueries = MemoryBankTestData.normal(200, 64, seed: 13)
        let (_, gaussRoute, gaussShare) = gauss.nearestRouted(to: gaussQueries, k: 2)
        print("clustered: \(clusteredRoute) (first block visited \(clusteredShare ?? -1)); gauss: \(gaussRoute) (\(gaussShare ?? -1))")
        #expect(clusteredRoute == .grouped && (clusteredShare ?? 1) <= MemoryBank.groupedSearchMaxVisitedShare)
        #expect(gaussRoute == .linear && (gaussShare ?? 0) > MemoryBank.groupedSearchMaxVisitedShare)
        // Both routes, and the switch after the first block, give the naive neighbours.
        for k in [1, 3] {
            compare(clustered, nearClusters, k: k, tileBytes: 0, label: "routed clustered k=\(k)")
            compare(gauss, gaussQueries, k: k, tileBytes: 0, label: "routed gauss k=\(k)")
            let forced = gauss.nearestGrouped(to: gaussQueries, k: k), routed = gauss.nearest(to: gaussQueries, k: k)
            #expect(forced.indices == routed.indices && forced.distances == routed.distances)
        }
        // A bank below 256 rows has no codes and one group: linear, no probe.
        let small = try MemoryBank(features: MemoryBankTestData.normal(200, 16, seed: 14))
        let (_, smallRoute, smallShare) = small.nearestRouted(to: MemoryBankTestData.normal(10, 16, seed: 15), k: 1)
        #expect(smallRoute == .linear && smallShare == nil)
    }

    /// The quantized 1-NN search is exact: on every kind of bank, at every instruction set level of its scan, with
    /// every way of ruling rows out (the codes' dot form, the per-group bound with its table or the groups), it
    /// returns the naive search's rows, and the direct float32 distance of each.
    @Test func quantizedSearchIsTheNaiveSearch() throws {
        var rng = SplitMix64(seed: 21)
        var ties = (0..<(1500 * 12)).map { _ in Float(Int(rng.next() % 3)) }    // exact ties: smaller index wins
        for i in 750..<1500 { for j in 0..<12 { ties[i * 12 + j] = ties[(i - 750) * 12 + j] } }
        let banks: [(String, Tensor)] = [
            ("clustered 24-d", MemoryBankTestData.clustered(3000, 24, clusters: 40, seed: 22)),
            ("patch-like 128-d", MemoryBankTestData.anisotropic(5000, 128, clusters: 60, seed: 23, offset: 25)),
            ("gaussian 64-d", MemoryBankTestData.normal(4096, 64, seed: 24)),
            ("gaussian 5-d", MemoryBankTestData.normal(2000, 5, seed: 25)),
            ("integer ties 12-d", Tensor(shape: [1500, 12], scalars: ties)),
            ("small patch-like 128-d", MemoryBankTestData.anisotropic(300, 128, clusters: 8, seed: 29, offset: 5)),
        ]
        for (label, features) in banks {
            let bank = try MemoryBank(features: features)
            let n = features.shape[0], d = features.shape[1]
            // Bank members, new points of the same kind, and far points (outside the codes' grid).
            var queries = bank.rows(Array(stride(from: 3, to: n, by: 37))).scalars
            queries += (label.hasPrefix("integer") ? (0..<(50 * d)).map { _ in Float(Int(rng.next() % 3)) }
                        : MemoryBankTestData.normal(50, d, seed: 26).scalars.map { $0 * 1.5 })
            queries += features.scalars[0..<(5 * d)].map { $0 * 40 + 3 }
            let q = Tensor(shape: [queries.count / d, d], scalars: queries)
            let naive = bank.nearestNaive(to: q, k: 1)
            for level in 0...2 { for scan in QuantizedScan.allCases {
                var result: (distances: Tensor, indices: [Int32])?
                let used = withVectorMathLevel(level) { result = bank.nearestQuantized(to: q, scan: scan) }
                guard let result else { Issue.record("\(label): no quantized index"); continue }
                let direct = features.withUnsafeBufferPointer { f in
                    q.withUnsafeBufferPointer { qb in
                        (0..<q.shape[0]).map { r in
                            (0..<d).reduce(Float(0)) { s, l in
                                let e = qb[r * d + l] - f[Int(result.indices[r]) * d + l]; return s + e * e
                            }
                        }
                    }
                }
                let mismatches = zip(result.indices, naive.indices).filter { $0 != $1 }.count
                let worst = zip(result.distances.scalars, direct).map { abs($0 - $1.squareRoot()) / max($0, 1e-6) }.max() ?? 0
                print("quantized \(label) level \(used) scan \(scan): \(q.shape[0]) queries, index mismatches \(mismatches), worst rel. distance diff \(worst)")
                #expect(mismatches == 0, "\(label) level \(used) scan \(scan)")
                #expect(worst < 1e-5, "\(label) level \(used) scan \(scan)")
            } }
            // Bank tiles of 160 rows (the real ones hold 8k to 64k): first neighbours found tile by tile.
            for scan in QuantizedScan.allCases {
                let tiled = bank.nearestQuantized(to: q, scan: scan, tileRows: 160)
                #expect(tiled?.indices == naive.indices, "\(label) in small tiles, scan \(scan)")
            }
            #expect(bank.nearestRouted(to: q, k: 1).route == .quantized)
        }
        // Below 256 rows there are no codes.
        #expect(try MemoryBank(features: MemoryBankTestData.normal(200, 8, seed: 27)).nearestQuantized(to: MemoryBankTestData.normal(2, 8, seed: 28)) == nil)
    }

    /// The dot form's rule keeps every row at or below the distance found: for every query and bank row, with the
    /// nearest distance so far set to that very row's direct distance (the tightest case), the row's squared code
    /// distance is within (c + rho_b)^2, and the group rule (`CodeGroups`) does not rule out the row's group. Queries
    /// are bank rows moved by far less than a grid step (their codes' rounding is then most of the code distance),
    /// new points and far points outside the grid; one bank has groups, the other is one group.
    @Test func dotRuleKeepsEveryRowAtTheDistanceFound() throws {
        for (label, features) in [("patch-like 128-d", MemoryBankTestData.anisotropic(2600, 128, clusters: 30, seed: 33, offset: 5)),
                                  ("clustered 24-d", MemoryBankTestData.clustered(1500, 24, clusters: 20, seed: 34))] {
            let n = features.shape[0], d = features.shape[1]
            let index = QuantizedBankIndex(features: features)
            let dot = try #require(index.codes.dot)
            let groups = index.groups, centres = groups.centres, centreForm = try #require(centres.dot)
            #expect((groups.count > 1) == (n >= 2048), "\(label): \(groups.count) groups for \(n) rows")
            #expect(groups.order.sorted() == (0..<Int32(n)).map { $0 }, "\(label): the slots are a permutation of the rows")
            var groupOf = [Int](repeating: 0, count: n)
            for j in 0..<groups.count { for slot in groups.starts[j]..<groups.starts[j + 1] { groupOf[slot] = j } }
            // Every member's decoded code lies within the group's spread of its centre's, with room for its residual
            // (worked out here in Double from the bytes and grid steps, not by the kernel).
            var centreCode = [Int8](repeating: 0, count: index.codes.groups * 4), memberCode = centreCode
            var outside: [String] = []
            for j in 0..<groups.count {
                centres.code(of: j, into: &centreCode)
                for slot in groups.starts[j]..<groups.starts[j + 1] {
                    index.codes.code(of: slot, into: &memberCode)
                    var d2 = 0.0
                    for l in 0..<(index.codes.groups * 4) {
                        let e = Double(index.codes.scale[l / 4]) * Double(Int(centreCode[l]) - Int(memberCode[l]))
                        d2 += e * e
                    }
                    if !(Float(d2.squareRoot()) + dot.residual[slot] <= groups.spread[j]) {
                        outside.append("group \(j) slot \(slot): \(d2.squareRoot()) + \(dot.residual[slot]) > \(groups.spread[j])")
                    }
                }
            }
            #expect(outside.isEmpty, "\(label): \(outside.count) members outside their group's spread, e.g. \(outside.prefix(2))")
            var centreTable = [Float](repeating: 0, count: centres.paddedCount)
            var rng = SplitMix64(seed: 35)
            var queries: [Float] = []
            for i in stride(from: 0, to: n, by: 97) {
                queries += (0..<d).map { features.scalars[i * d + $0] + (Float(rng.next() % 2001) / 1000 - 1) * 1e-3 }
            }
            queries += MemoryBankTestData.normal(10, d, seed: 36).scalars
            queries += features.scalars[0..<(3 * d)].map { $0 * 30 - 2 }
            let m = queries.count / d
            let width = index.axes.width, bytes = index.codes.groups * 4
            let y = index.rotated(Tensor(shape: [m, d], scalars: queries))
            var failures: [String] = []
            var table = [Float](repeating: 0, count: index.codes.paddedCount)
            var u = [UInt8](repeating: 0, count: bytes)
            for r in 0..<m {
                let (term, residual) = y.withUnsafeBufferPointer { yb in
                    u.withUnsafeMutableBufferPointer { index.codes.dotQuery(yb.baseAddress! + r * width, into: $0.baseAddress!) }
                }
                var smallest: Int32 = 0
                dot.shift.withUnsafeBufferPointer { sh in
                    dot.rowTerm.withUnsafeBufferPointer { rt in
                        pc_int8_dot_table(index.codes.codes, index.codes.groups, sh.baseAddress!, u, 1, [term],
                                          rt.baseAddress!, dot.unit2, 0, index.codes.paddedCount / 16, n, &table,
                                          index.codes.paddedCount, &smallest)
                    }
                }
                centreForm.shift.withUnsafeBufferPointer { sh in
                    centreForm.rowTerm.withUnsafeBufferPointer { rt in
                        pc_int8_dot_table(centres.codes, centres.groups, sh.baseAddress!, u, 1, [term], rt.baseAddress!,
                                          centreForm.unit2, 0, centres.paddedCount / 16, groups.count, &centreTable,
                                          centres.paddedCount, &smallest)
                    }
                }
                let q = Array(queries[(r * d)..<((r + 1) * d)])
                let e = index.roundingBound(query: q)
                for slot in 0..<n {
                    let b = Int(groups.order[slot])
                    let s = features.withUnsafeBufferPointer { pc_squared_distance(q, $0.baseAddress! + b * d, d) }
                    let c = QuantizedBankIndex.reach(squaredDistance: s, rounding: e, queryResidual: residual)
                    let t = c + dot.residual[slot]
                    if !(table[slot] <= t * t) { failures.append("query \(r) row \(b): \(table[slot]) > \(t * t)") }
                    let j = groupOf[slot]
                    let gap = centreTable[j].squareRoot() * (1 - 1e-5) - groups.spread[j]
                    if !(gap <= c) { failures.append("query \(r) row \(b): group \(j) ruled out, gap \(gap) > \(c)") }
                }
            }
            #expect(failures.isEmpty, "\(label): \(failures.count) rows ruled out, e.g. \(failures.prefix(3))")
        }
    }

    @Test func tiesKeepTheSmallerIndex() throws {
        // Small integers: the expansion is exact in float32, so ties are exact and order must match the naive one.
        var rng = SplitMix64(seed: 5)
        let n = 300, d = 20
        var rows = (0..<(n * d)).map { _ in Float(Int(rng.next() % 3)) }
        for i in stride(from: 150, to: n, by: 1) {           // second half duplicates the first half
            for j in 0..<d { rows[i * d + j] = rows[(i - 150) * d + j] }
        }
        let bank = try MemoryBank(features: Tensor(shape: [n, d], scalars: rows))
        let queries = Tensor(shape: [40, d], scalars: (0..<(40 * d)).map { _ in Float(Int(rng.next() % 3)) })
        for k in [1, 3, 8] {
            compare(bank, queries, k: k, tileBytes: 4 * 40 * 32, label: "ties k=\(k)")
        }
        // A bank member finds its first copy at distance 0.
        let (dist, idx) = bank.nearestAmongBank(indices: [170], k: 2)
        #expect(dist.scalars == [0, 0])
        #expect(idx == [20, 170])
    }

    @Test func matchesTorchCdist() throws {
        let (t, _) = try MemoryBankTestData.fixtures()
        let bank = try MemoryBank(features: try #require(t["knn_bank"]))
        let queries = try #require(t["knn_queries"])
        let expectedD = try #require(t["knn_distances"]), expectedI = try #require(t["knn_indices"])
        let (d, i) = bank.nearest(to: queries, k: 3)
        let maxAbs = zip(d.scalars, expectedD.scalars).map { abs($0 - $1) }.max()!
        print("torch.cdist parity: max abs diff \(maxAbs)")
        #expect(maxAbs < 1e-5)
        #expect(i.map { Float($0) } == expectedI.scalars)
        #expect(d.scalars[0] == 0 && d.scalars[3] == 0)   // the first five queries are bank rows
    }

    @Test func kIsClampedToTheBankSize() throws {
        let bank = try MemoryBank(features: MemoryBankTestData.normal(4, 8, seed: 3))
        let (d, i) = bank.nearest(to: MemoryBankTestData.normal(2, 8, seed: 4), k: 9)
        #expect(d.shape == [2, 4])
        #expect(Set(i[0..<4]) == [0, 1, 2, 3])
        #expect(zip(d.scalars, d.scalars.dropFirst()).enumerated().allSatisfy { $0.offset == 3 || $0.element.0 <= $0.element.1 })
    }

    @Test func supportDistancesMatchNaive() throws {
        let bank = try MemoryBank(features: MemoryBankTestData.normal(50, 24, seed: 8))
        let q = MemoryBankTestData.normal(1, 24, seed: 9)
        let (_, support) = bank.nearestAmongBank(indices: [7], k: 4)
        #expect(support[0] == 7)
        let got = bank.distances(from: q.scalars, to: support)
        let naive = bank.nearestNaive(to: q, k: 50)
        for (s, g) in zip(support, got) {
            let j = naive.indices.firstIndex(of: s)!
            #expect(abs(naive.distances.scalars[j] - g) < 1e-5)
        }
    }

    @Test func invalidInputThrows() throws {
        #expect(throws: MemoryBankError.self) { try MemoryBank(features: Tensor(zeros: [0, 4])) }
        #expect(throws: MemoryBankError.self) { try MemoryBank(features: Tensor(zeros: [4])) }
        let bank = try MemoryBank(features: Tensor(zeros: [3, 4]))
        #expect(throws: MemoryBankError.self) { try bank.validate(queries: Tensor(zeros: [2, 5]), k: 1) }
        #expect(throws: MemoryBankError.self) { try bank.validate(queries: Tensor(zeros: [2, 4]), k: 0) }
        try bank.validate(queries: Tensor(zeros: [2, 4]), k: 1)
    }

    @Test func nonFiniteBankValuesAreNamed() throws {
        for bad in [Float.nan, .infinity, -.infinity] {
            var values = [Float](repeating: 0.5, count: 3 * 4)
            values[6] = bad
            do {
                _ = try MemoryBank(features: Tensor(shape: [3, 4], scalars: values))
                Issue.record("a bank holding \(bad) was accepted")
            } catch {
                #expect(error.description.contains("row 1, column 2 = \(bad)"), "\(error.description)")
            }
        }
    }

    @Test func bankMembersHaveZeroDistance() async throws {
        await propertyCheck(count: 20, input: Gen.int(in: 1...300), Gen.int(in: 1...70), Gen.int(in: 0...1000)) { n, d, seed in
            let features = MemoryBankTestData.normal(n, d, seed: UInt64(seed))
            let bank = try MemoryBank(features: features)
            let members = Array(Set([0, n / 2, n - 1]))
            let (dist, idx) = bank.nearestAmongBank(indices: members, k: 1)
            #expect(dist.scalars.allSatisfy { $0 == 0 })
            #expect(idx.map(Int.init) == members)
        }
    }
}
