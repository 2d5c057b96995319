import Foundation
import Testing
import ImageIO
@testable import Defects

@Suite struct SyntheticDefectSetTests {
    func tempFolder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("synset-\(UUID().uuidString)")
    }
    let image = Image(width: 4, height: 3, channels: 3, pixels: [UInt8](repeating: 90, count: 36))
    let mask = Image(width: 4, height: 3, channels: 1, pixels: [0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 0, 0])

    @Test func writtenSamplesReadBackAndRerunSkipsThem() throws {
        let dir = tempFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let writer = try SyntheticDefectSet.Writer(folder: dir)
        for i in 0..<3 {
            try writer.write(id: String(format: "%06d", i), image: image, mask: mask,
                             record: .init(id: "", image: "", mask: "", generator: "classical", seed: UInt64(i), method: "perlin"))
        }
        let pairs = try SyntheticDefectSet.pairs(in: dir)
        #expect(pairs.map { $0.image.lastPathComponent } == ["000000.png", "000001.png", "000002.png"])
        #expect(try ImageFile.read(pairs[1].mask) == mask)
        let again = try SyntheticDefectSet.Writer(folder: dir)
        #expect(again.existingIDs == ["000000", "000001", "000002"])
        #expect(try SyntheticDefectSet.records(in: dir).map(\.seed) == [0, 1, 2])
    }

    @Test func tornManifestTailAndMissingFilesAreDroppedOnResume() throws {
        let dir = tempFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let writer = try SyntheticDefectSet.Writer(folder: dir)
        for i in 0..<2 {
            try writer.write(id: "s\(i)", image: image, mask: mask, record: .init(id: "", image: "", mask: "", generator: "classical", seed: 7))
        }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("masks/s1.png"))
        let manifest = dir.appendingPathComponent("manifest.jsonl")
        let h = try FileHandle(forWritingTo: manifest)
        try h.seekToEnd(); try h.write(contentsOf: Data("{\"id\":\"s2\",\"ima".utf8)); try h.close()
        let resumed = try SyntheticDefectSet.Writer(folder: dir)
        #expect(resumed.existingIDs == ["s0"])
        #expect(try SyntheticDefectSet.pairs(in: dir).count == 1)
    }

    @Test func folderWithoutManifestPairsByNameAndReportsProblems() throws {
        let dir = tempFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: SyntheticDefectSetError.notAFolder(path: dir.path)) { try SyntheticDefectSet.pairs(in: dir) }
        for sub in ["images", "masks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        #expect(throws: SyntheticDefectSetError.empty(path: dir.path)) { try SyntheticDefectSet.pairs(in: dir) }
        try ImageFile.writePNG(image, to: dir.appendingPathComponent("images/a.png"))
        #expect(throws: SyntheticDefectSetError.self) { try SyntheticDefectSet.pairs(in: dir) }
        try ImageFile.writePNG(mask, to: dir.appendingPathComponent("masks/a.png"))
        #expect(try SyntheticDefectSet.pairs(in: dir).count == 1)
    }
}
