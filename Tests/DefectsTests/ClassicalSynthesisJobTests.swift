import Foundation
import Testing
import Datasets
import ImageIO
@testable import Defects

@Suite struct ClassicalSynthesisJobTests {
    func files(_ dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for sub in ["images", "masks"] {
            for f in try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent(sub).path) {
                out["\(sub)/\(f)"] = try Data(contentsOf: dir.appendingPathComponent("\(sub)/\(f)"))
            }
        }
        out["manifest.jsonl"] = try Data(contentsOf: dir.appendingPathComponent("manifest.jsonl"))
        return out
    }

    @Test func sameSeedSameBytesAndOneSampleAloneEqualsTheBatch() throws {
        let demo = try DemoFolder()
        defer { demo.remove() }
        let gen = try ClassicalDefectGenerator(goodImages: demo.goodImages,
                                               masks: try DefectMaskSampler(dataset: demo.dataset, includeTest: true))
        let a = demo.root.appendingPathComponent("a"), b = demo.root.appendingPathComponent("b")
        var seen: [SynthesisProgress] = []
        let summary = try ClassicalSynthesisJob.run(generator: gen, count: 6, baseSeed: 9, writer: try SyntheticDefectSet.Writer(folder: a)) {
            seen.append($0)
        }
        #expect(summary.written == 6 && summary.skipped == 0 && summary.countsByMethod.values.reduce(0, +) == 6)
        #expect(seen.map(\.done) == Array(1...6) && seen.allSatisfy { !$0.skipped && $0.total == 6 })
        try ClassicalSynthesisJob.run(generator: gen, count: 6, baseSeed: 9, writer: try SyntheticDefectSet.Writer(folder: b))
        let fa = try files(a)
        #expect(fa.count == 13)
        #expect(fa == (try files(b)))

        #expect(try SyntheticDefectSet.pairs(in: a).count == 6)
        let records = try SyntheticDefectSet.records(in: a)
        #expect(records.map(\.id) == (0..<6).map { String(format: "classical_%06d", $0) })
        let k = 4
        let alone = try gen.sample(seed: ClassicalDefectGenerator.sampleSeed(baseSeed: 9, index: k))
        #expect(alone.record.seed == records[k].seed)
        #expect(try ImageFile.read(a.appendingPathComponent(records[k].image)) == alone.image)
        #expect(try ImageFile.read(a.appendingPathComponent(records[k].mask)) == alone.mask)
        let replayed = try ClassicalDefectGenerator.regenerate(record: records[k])
        #expect(replayed.image == alone.image && replayed.mask == alone.mask && replayed.record == records[k])
    }

    @Test func rerunSkipsExistingSamplesAndCompletesTheSameSet() throws {
        let demo = try DemoFolder()
        defer { demo.remove() }
        let gen = try ClassicalDefectGenerator(goodImages: demo.goodImages)
        let a = demo.root.appendingPathComponent("a"), full = demo.root.appendingPathComponent("full")
        try ClassicalSynthesisJob.run(generator: gen, count: 3, baseSeed: 2, writer: try SyntheticDefectSet.Writer(folder: a))
        let before = try files(a)
        // Simulate an interrupted write of sample 3: an image without its mask and manifest line.
        try Data("partial".utf8).write(to: a.appendingPathComponent("images/classical_000003.png"))
        var skipped: [String] = []
        let summary = try ClassicalSynthesisJob.run(generator: gen, count: 5, baseSeed: 2, writer: try SyntheticDefectSet.Writer(folder: a)) {
            if $0.skipped { skipped.append($0.id) }
        }
        #expect(summary.skipped == 3 && summary.written == 2)
        #expect(skipped == ["classical_000000", "classical_000001", "classical_000002"])
        let after = try files(a)
        for (name, data) in before where name != "manifest.jsonl" { #expect(after[name] == data, "\(name) rewritten") }
        try ClassicalSynthesisJob.run(generator: gen, count: 5, baseSeed: 2, writer: try SyntheticDefectSet.Writer(folder: full))
        #expect(after == (try files(full)))
        #expect(throws: DefectSynthesisError.self) {
            try ClassicalSynthesisJob.run(generator: gen, count: -1, baseSeed: 0, writer: try SyntheticDefectSet.Writer(folder: full))
        }
    }
}
