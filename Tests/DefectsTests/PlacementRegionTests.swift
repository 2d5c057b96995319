import Foundation
import Testing
import ImageIO
import TensorCore
@testable import Defects

/// The placement region: estimated as the good images' foreground (a part on a plain background), absent for a
/// texture that fills the frame, and respected by every classical sample.
@Suite struct PlacementRegionTests {
    /// Parts on a white background: a dark disc of radius `r` at the centre, with some noise, in `count` images.
    static func parts(in folder: URL, count: Int, size: Int = 64, r: Int = 20, texture: Bool = false) throws -> [URL] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: 3)
        return try (0..<count).map { k in
            var pixels = [UInt8](repeating: 255, count: size * size * 3)
            for y in 0..<size {
                for x in 0..<size {
                    let dx = x - size / 2, dy = y - size / 2
                    let noise = UInt8(truncatingIfNeeded: rng.next() % 24)
                    let v: UInt8 = texture ? UInt8(truncatingIfNeeded: rng.next() % 256) : (dx * dx + dy * dy <= r * r ? 60 + noise : 255 - noise / 3)
                    for c in 0..<3 { pixels[(y * size + x) * 3 + c] = v }
                }
            }
            let url = folder.appendingPathComponent("\(k).png")
            try ImageFile.writePNG(Image(width: size, height: size, channels: 3, pixels: pixels), to: url)
            return url
        }
    }

    @Test func theForegroundOfPartsOnAPlainBackground() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("placement-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let goods = try Self.parts(in: root.appendingPathComponent("parts"), count: 4)
        let region = try #require(try PlacementRegion.estimate(goodImages: goods))
        let at = { (x: Int, y: Int) in region.mask.pixels[y * 64 + x] }
        #expect(at(32, 32) == 255 && at(32, 14) == 255, "inside the disc")
        #expect(at(0, 0) == 0 && at(63, 63) == 0 && at(32, 5) == 0, "the background")
        let area = region.mask.pixels.filter { $0 == 255 }.count
        #expect(abs(Double(area) - Double.pi * 400) < 0.15 * Double.pi * 400, "about the disc's area: \(area)")
        // A texture that fills the frame has no background to leave out.
        #expect(try PlacementRegion.estimate(goodImages: try Self.parts(in: root.appendingPathComponent("texture"), count: 3, texture: true)) == nil)
        // Frames of different sizes: no one place for the part.
        let other = root.appendingPathComponent("other.png")
        try ImageFile.writePNG(Image(width: 80, height: 64, channels: 1, pixels: [UInt8](repeating: 255, count: 80 * 64)), to: other)
        #expect(try PlacementRegion.estimate(goodImages: goods + [other]) == nil)
    }

    @Test func everyClassicalSampleLiesInTheRegion() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("placement-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let goods = try Self.parts(in: root.appendingPathComponent("parts"), count: 4)
        let region = try #require(try PlacementRegion.estimate(goodImages: goods))
        var options = ClassicalGeneratorOptions()
        options.methods = [.perlinTexture, .perlinIntensity]
        let free = try ClassicalDefectGenerator(goodImages: goods, options: options)
        let placed = try ClassicalDefectGenerator(goodImages: goods, options: options, placement: region)
        var outsideBefore = 0
        for k in 0..<24 {
            let seed = ClassicalDefectGenerator.sampleSeed(baseSeed: 9, index: k)
            if !region.contains(try free.sample(seed: seed).mask) { outsideBefore += 1 }
            let sample = try placed.sample(seed: seed)
            #expect(region.contains(sample.mask), "sample \(k)")
            // The record's seed reproduces the accepted draw.
            #expect(try placed.sample(seed: sample.record.seed) == sample)
        }
        #expect(outsideBefore > 0, "without the region some defects fall on the background (else this test shows nothing)")
    }

    @Test func aRegionNoDrawCanMeetIsAnErrorNamingIt() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("placement-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let goods = try Self.parts(in: root.appendingPathComponent("parts"), count: 2)
        var pixels = [UInt8](repeating: 0, count: 64 * 64)
        pixels[0] = 255   // one pixel: no Perlin blob fits
        let file = root.appendingPathComponent("tiny.png")
        try ImageFile.writePNG(Image(width: 64, height: 64, channels: 1, pixels: pixels), to: file)
        let region = try PlacementRegion.read(file)
        var options = ClassicalGeneratorOptions()
        options.methods = [.perlinIntensity]
        let gen = try ClassicalDefectGenerator(goodImages: goods, options: options, placement: region)
        #expect { try gen.sample(seed: 1) } throws: { "\($0)".contains("tiny.png") && "\($0)".contains("inside") }
        let empty = root.appendingPathComponent("empty.png")
        try ImageFile.writePNG(Image(width: 8, height: 8, channels: 1, pixels: [UInt8](repeating: 0, count: 64)), to: empty)
        #expect { try PlacementRegion.read(empty) } throws: { "\($0)".contains("empty.png") && "\($0)".contains("empty") }
    }
}
