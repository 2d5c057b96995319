import Foundation
import ImageIO
import Testing
@testable import Datasets

@Suite("Demo data set")
struct DatasetsDemoTests {
    static func stats(_ img: Image) -> (mean: Double, std: Double) {
        let v = img.pixels.map(Double.init)
        let mean = v.reduce(0, +) / Double(v.count)
        let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)
        return (mean, variance.squareRoot())
    }

    @Test func seededRandomIsDeterministic() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42), c = SeededRandom(seed: 43)
        let xa = (0..<8).map { _ in a.next() }, xb = (0..<8).map { _ in b.next() }, xc = (0..<8).map { _ in c.next() }
        #expect(xa == xb)
        #expect(xa != xc)
        var u = SeededRandom(seed: 1)
        let us = (0..<10_000).map { _ in u.uniform() }
        #expect(us.allSatisfy { $0 >= 0 && $0 < 1 })
        #expect(abs(us.reduce(0, +) / 10_000 - 0.5) < 0.02)
    }

    @Test(arguments: DemoTexture.allCases)
    func texturesAreDeterministicAndTextured(texture: DemoTexture) {
        let a = DemoDataset.render(seed: 5, stream: 1, texture: texture, defect: nil, size: 96)
        let b = DemoDataset.render(seed: 5, stream: 1, texture: texture, defect: nil, size: 96)
        let c = DemoDataset.render(seed: 5, stream: 2, texture: texture, defect: nil, size: 96)
        #expect(a == b)
        #expect(a.image != c.image)
        #expect(a.mask == nil && a.image.channels == 3 && a.image.width == 96 && a.image.height == 96)
        let (mean, std) = Self.stats(a.image)
        #expect(mean > 60 && mean < 200, "\(texture) mean \(mean)")
        #expect(std > 4 && std < 60, "\(texture) std \(std)")
        // mostly unclipped: few pixels at 0 or 255
        let clipped = a.image.pixels.filter { $0 == 0 || $0 == 255 }.count
        #expect(clipped < a.image.pixels.count / 100)
    }

    @Test(arguments: DemoDefect.allCases, DemoTexture.allCases)
    func defectsChangeExactlyTheMaskedPixels(defect: DemoDefect, texture: DemoTexture) throws {
        for stream in UInt64(0)..<6 {
            let good = DemoDataset.render(seed: 11, stream: stream, texture: texture, defect: nil, size: 128)
            let bad = DemoDataset.render(seed: 11, stream: stream, texture: texture, defect: defect, size: 128)
            let mask = try #require(bad.mask)
            #expect(mask.channels == 1 && mask.width == 128 && mask.height == 128)
            #expect(mask.pixels.allSatisfy { $0 == 0 || $0 == 255 })
            let area = mask.pixels.filter { $0 == 255 }.count
            #expect(area >= 15 && area < 128 * 128 / 10, "\(defect) area \(area)")
            var inside = 0, changedInside = 0
            for i in 0..<(128 * 128) {
                let d = (0..<3).map { abs(Int(bad.image.pixels[3 * i + $0]) - Int(good.image.pixels[3 * i + $0])) }.max()!
                if mask.pixels[i] == 0 {
                    #expect(d == 0, "\(defect) on \(texture): pixel \(i) outside the mask changed")
                    if d != 0 { return }
                } else {
                    inside += 1
                    if d >= 20 { changedInside += 1 }
                }
            }
            #expect(Double(changedInside) >= 0.9 * Double(inside), "\(defect) on \(texture): \(changedInside)/\(inside) masked pixels visibly changed")
        }
    }

    @Test func crackBranchesAndScratchIsThin() throws {
        // a scratch is thin: its area is small relative to its extent
        let s = try #require(DemoDataset.render(seed: 3, stream: 9, texture: .fineNoise, defect: .scratch, size: 224).mask)
        let pts = s.pixels.indices.filter { s.pixels[$0] != 0 }
        let xs = pts.map { $0 % 224 }, ys = pts.map { $0 / 224 }
        let extent = max(xs.max()! - xs.min()!, ys.max()! - ys.min()!)
        #expect(extent >= 40)
        #expect(Double(pts.count) < 4.0 * Double(extent), "scratch \(pts.count) px over extent \(extent)")
    }

    @Test func generateRejectsBadArguments() {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("demo-bad-\(UUID().uuidString)")
        #expect(throws: DatasetError.self) { try DemoDataset.generate(at: root, trainCount: 0) }
        #expect(throws: DatasetError.self) { try DemoDataset.generate(at: root, size: 8) }
    }

    /// Needs the real PNG codec (ImageFile.writePNG/read); fails while ImageIO is a placeholder.
    @Test func generateThenLoadRoundTrip() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let made = try DemoDataset.generate(at: root, seed: 21, trainCount: 4, testGoodCount: 2, testDefectCount: 5, size: 64)
        let ds = try DatasetLoader.load(root)
        #expect(ds.layout == .mvtecAD)
        #expect(ds.train.count == 4)
        #expect(ds.test.filter { $0.label == .good }.count == 2)
        #expect(ds.test.filter { $0.label == .defect }.count == 5)
        #expect(ds.defectTypes == ["crack", "scratch", "spot"])
        #expect(ds.samples == made.samples)
        // files hold exactly what render produces
        let first = try ImageFile.read(root.appendingPathComponent("test/scratch/000.png"))
        let mask = try ImageFile.read(root.appendingPathComponent("ground_truth/scratch/000_mask.png"))
        let expected = DemoDataset.render(seed: 21, stream: 2_000_000, texture: .brushedMetal, defect: .scratch, size: 64)
        #expect(first == expected.image)
        #expect(mask.pixels == expected.mask!.pixels)
        // same seed -> identical bytes
        let again = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: again) }
        try DemoDataset.generate(at: again, seed: 21, trainCount: 4, testGoodCount: 2, testDefectCount: 5, size: 64)
        for rel in ["train/good/003.png", "test/crack/000.png", "ground_truth/spot/000_mask.png"] {
            #expect(try Data(contentsOf: root.appendingPathComponent(rel)) == Data(contentsOf: again.appendingPathComponent(rel)))
        }
    }

    /// Needs the real PNG codec. KSDD2 labels come from decoding the GT masks.
    @Test func kolektorLabelsFromDecodedMasks() throws {
        let t = try TempTree(); defer { t.remove() }
        let clean = Image(width: 4, height: 4, channels: 1, pixels: [UInt8](repeating: 0, count: 16))
        var dirty = clean; dirty.pixels[5] = 255
        for (rel, gt) in [("train/10000", clean), ("train/10001", dirty), ("test/20000", dirty), ("test/20001", clean)] {
            try t.touch(rel + ".png")
            try ImageFile.writePNG(gt, to: t.root.appendingPathComponent(rel + "_GT.png"))
        }
        let ds = try DatasetLoader.load(t.root)
        #expect(ds.layout == .kolektorSDD2)
        #expect(ds.samples.map(\.label) == [.good, .defect, .defect, .good])
    }
}
