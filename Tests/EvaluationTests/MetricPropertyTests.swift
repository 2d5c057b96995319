import Foundation
import PropertyBased
import Testing
import TensorCore
@testable import Evaluation

/// Deterministic score/label generator for property tests (splitmix64).
struct CaseMaker {
    var rng: SplitMix64
    init(state: UInt64) { rng = SplitMix64(seed: state) }
    mutating func next() -> UInt64 { rng.next() }
    /// n scores on `levels` distinct values (few levels = heavy ties), labels with both classes present.
    mutating func make(n: Int, levels: Int) -> ([Float], [Bool]) {
        var s: [Float] = [], y: [Bool] = []
        for i in 0..<n {
            let label = i == 0 ? true : (i == 1 ? false : next() & 1 == 1)
            let level = Int(next() % UInt64(levels))
            s.append(Float(level) * 0.25 - 2 + (label ? 0.125 : 0))   // exact binary fractions
            y.append(label)
        }
        return (s, y)
    }
}

@Suite("Metric properties")
struct MetricPropertyTests {
    @Test func aurocInvariantUnderMonotoneRescaling() async {
        await propertyCheck(input: Gen.int(in: 2...300), Gen.int(in: 1...50), Gen.int(in: 0...Int(Int32.max))) { n, levels, seed in
            var maker = CaseMaker(state: UInt64(seed))
            let (s, y) = maker.make(n: n, levels: levels)
            let base = try Metrics.auroc(scores: s, labels: y)
            // strictly increasing maps (exact in Float for these inputs): affine with power-of-two scale, cube
            let affine = try Metrics.auroc(scores: s.map { $0 * 4 + 3 }, labels: y)
            let cubed = try Metrics.auroc(scores: s.map { $0 * $0 * $0 }, labels: y)
            let exp = try Metrics.auroc(scores: s.map { Foundation.exp($0) }, labels: y)
            #expect(affine == base)
            #expect(cubed == base)
            #expect(exp == base)
            #expect(abs(base - Metrics.aurocNaive(scores: s, labels: y)) < 1e-12)
        }
    }

    @Test func aurocOfNegatedScoresIsComplement() async {
        await propertyCheck(input: Gen.int(in: 2...300), Gen.int(in: 1...50), Gen.int(in: 0...Int(Int32.max))) { n, levels, seed in
            var maker = CaseMaker(state: UInt64(seed))
            let (s, y) = maker.make(n: n, levels: levels)
            let a = try Metrics.auroc(scores: s, labels: y)
            let b = try Metrics.auroc(scores: s.map { -$0 }, labels: y)
            #expect(abs(a + b - 1) < 1e-12)
        }
    }

    @Test func perfectSeparationGivesOne() async {
        await propertyCheck(input: Gen.int(in: 1...100), Gen.int(in: 1...100), Gen.float(in: -10...10)) { nGood, nBad, gap in
            let good = (0..<nGood).map { Float($0) / Float(nGood) }           // [0, 1)
            let bad = (0..<nBad).map { 1 + abs(gap) + Float($0) }            // > 1
            let s = good + bad
            let y = [Bool](repeating: false, count: nGood) + [Bool](repeating: true, count: nBad)
            #expect(try Metrics.auroc(scores: s, labels: y) == 1)
            #expect(try Metrics.averagePrecision(scores: s, labels: y) == 1)
            let f1 = try Metrics.f1Max(scores: s, labels: y)
            #expect(f1.f1 == 1)
            #expect(f1.threshold == bad.min()!)
        }
    }

    @Test func pixelAUROCEqualsFlatAUROC() async {
        await propertyCheck(input: Gen.int(in: 1...6), Gen.int(in: 1...9), Gen.int(in: 0...Int(Int32.max))) { images, levels, seed in
            var maker = CaseMaker(state: UInt64(seed))
            var items: [ScoredMask] = []
            var flatS: [Float] = [], flatY: [Bool] = []
            for i in 0...images {
                let (s, y) = maker.make(n: 5 * 7, levels: levels)
                let mask: [UInt8]? = i == 0 ? nil : y.map { $0 ? 255 : 0 }
                items.append(try ScoredMask(width: 7, height: 5, scores: s, mask: mask))
                flatS += s; flatY += (mask == nil ? [Bool](repeating: false, count: s.count) : y)
            }
            let pix = try Metrics.pixelAUROC(items)
            #expect(pix == (try Metrics.auroc(scores: flatS, labels: flatY)))
            #expect(abs(try Metrics.aupro(items) - Metrics.auproNaive(items)) < 1e-9)
        }
    }

    @Test func degenerateInputsThrow() throws {
        #expect(throws: MetricError.empty(metric: "AUROC")) { try Metrics.auroc(scores: [], labels: []) }
        #expect(throws: MetricError.oneClassOnly(metric: "AUROC", positives: 0, negatives: 3)) {
            try Metrics.auroc(scores: [1, 2, 3], labels: [false, false, false])
        }
        #expect(throws: MetricError.oneClassOnly(metric: "average precision", positives: 2, negatives: 0)) {
            try Metrics.averagePrecision(scores: [1, 2], labels: [true, true])
        }
        #expect(throws: MetricError.countMismatch(metric: "F1-max", scores: 2, labels: 1)) {
            try Metrics.f1Max(scores: [1, 2], labels: [true])
        }
        #expect(throws: MetricError.nanScore(metric: "AUROC", index: 1)) {
            try Metrics.auroc(scores: [1, .nan], labels: [true, false])
        }
        let good = try ScoredMask(width: 2, height: 1, scores: [0.1, 0.2], mask: nil)
        #expect(throws: MetricError.self) { try Metrics.aupro([good]) }
        #expect(throws: MetricError.self) { try Metrics.pixelAUROC([good]) }
        #expect(throws: MetricError.self) { try Metrics.aupro([good], fprLimit: 0) }
        #expect(throws: MetricError.self) { try ScoredMask(width: 2, height: 2, scores: [0], mask: nil) }
        let msg = MetricError.oneClassOnly(metric: "AUROC", positives: 0, negatives: 3).description
        #expect(msg.contains("0 positive") && msg.contains("3 negative"))
    }

    @Test func radixSortMatchesStandardSort() async {
        await propertyCheck(input: Gen.int(in: 0...5000), Gen.int(in: 0...Int(Int32.max))) { n, seed in
            var maker = CaseMaker(state: UInt64(seed))
            let values: [Float] = (0..<n).map { _ in
                let r = maker.next()
                switch r % 5 {
                case 0: return Float(bitPattern: UInt32(truncatingIfNeeded: r >> 32)).isNaN ? 1 : Float(bitPattern: UInt32(truncatingIfNeeded: r >> 32))
                case 1: return -0.0
                case 2: return Float(Int(r % 7)) - 3
                default: return Float(Double(r % 100_000) / 1000 - 50)
                }
            }
            var keys = values.map(sortableKey)
            radixSort(&keys)
            #expect(keys.map(scoreFromKey) == values.sorted().map { $0 == 0 ? 0 : $0 })
        }
    }

    @Test func connectedComponentsUseEightConnectivity() {
        // 1 0 0 1
        // 0 1 0 1
        // 0 0 0 0
        // 1 1 0 0
        let m: [UInt8] = [1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0]
        let (labels, count) = connectedComponents(mask: m, width: 4, height: 4, connectivity: .eight)
        #expect(connectedComponents(mask: m, width: 4, height: 4, connectivity: .four).count == 4)  // diagonals split
        #expect(count == 3)
        #expect(labels[0] == labels[5])    // diagonal neighbours join
        #expect(labels[3] == labels[7])
        #expect(labels[12] == labels[13] && labels[12] != labels[0] && labels[12] != labels[3])
    }
}
