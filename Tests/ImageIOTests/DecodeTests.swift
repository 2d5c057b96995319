import Foundation
import Testing
@testable import ImageIO

@Suite("Decoding PNG and JPEG against PIL")
struct DecodeTests {
    @Test("every PNG colour type / bit depth and JPEG variant decodes like PIL",
          arguments: Fixtures.manifest.decode.map(\.file))
    func decodesLikePIL(_ file: String) throws {
        let entry = try #require(Fixtures.manifest.decode.first { $0.file == file })
        let image = try ImageFile.read(Fixtures.url(file))
        #expect(image.width == entry.width && image.height == entry.height && image.channels == entry.channels,
                "\(file): got \(image.width)x\(image.height)x\(image.channels)")
        let expected = try Fixtures.bytes(entry.expected)
        #expect(image.pixels.count == expected.count)
        let (maxDiff, hist) = Fixtures.diffHistogram(image.pixels, expected)
        print("decode \(file): max |diff| \(maxDiff), histogram \(hist.sorted { $0.key < $1.key })")
        #expect(maxDiff <= entry.tolerance, "\(file) (\(entry.note))")
    }

    @Test("bad files throw the right ImageError naming the file", arguments: Fixtures.manifest.bad.map(\.file))
    func badFilesThrow(_ file: String) throws {
        let entry = try #require(Fixtures.manifest.bad.first { $0.file == file })
        let url = Fixtures.url(file)
        do {
            _ = try ImageFile.read(url)
            Issue.record("\(file) decoded without error")
        } catch let error as ImageError {
            print("\(file): \(error)")
            #expect(error.description.contains(url.path))
            switch (entry.error, error) {
            case ("notAnImage", .notAnImage(let f)), ("corrupt", .corrupt(let f, _)), ("unsupported", .unsupported(let f, _)):
                #expect(f == url.path)
            default:
                Issue.record("\(file): expected \(entry.error), got \(error)")
            }
        }
    }

    @Test func missingFileIsUnreadable() {
        let url = Fixtures.url("does_not_exist.png")
        #expect(throws: ImageError.self) { try ImageFile.read(url) }
        do { _ = try ImageFile.read(url) } catch let e as ImageError {
            guard case .unreadable(let f, _) = e else { Issue.record("got \(e)"); return }
            #expect(f == url.path)
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func progressiveFlagDoesNotChangeDecodeAgainstBaseline() throws {
        // Same source pixels: progressive and baseline at the same quality land within a few levels.
        let a = try ImageFile.read(Fixtures.url("jpeg_rgb_baseline.jpg"))
        let b = try ImageFile.read(Fixtures.url("jpeg_rgb_progressive.jpg"))
        let (m, _) = Fixtures.diffHistogram(a.pixels, b.pixels)
        #expect(a.width == b.width && a.height == b.height && m <= 8)
    }

    @Test func magicBytesNotExtension() {
        #expect(ImageFile.format(ofMagic: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0]) == .png)
        #expect(ImageFile.format(ofMagic: [0xFF, 0xD8, 0xFF, 0xE0]) == .jpeg)
        #expect(ImageFile.format(ofMagic: [0xFF, 0xD8]) == nil)
        #expect(ImageFile.format(ofMagic: Array("GIF89a".utf8)) == nil)
    }

    @Test("every prefix of a PNG and a JPEG fails cleanly or decodes, never crashes")
    func everyTruncationIsHandled() throws {
        for name in ["png_rgb8_interlaced.png", "jpeg_rgb_progressive.jpg"] {
            let full = try Data(contentsOf: Fixtures.url(name))
            var failures = 0
            for n in stride(from: 0, to: full.count, by: 7) {
                do { _ = try ImageFile.decode(full.prefix(n), file: "prefix\(n)-\(name)") } catch let e as ImageError {
                    #expect(e.description.contains("prefix\(n)-\(name)"))
                    failures += 1
                }
            }
            print("\(name): \(failures) of \((full.count + 6) / 7) prefixes rejected")
            #expect(failures > 0)
        }
    }
}

@Suite("Encoding PNG")
struct EncodeTests {
    func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("imageio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("gray, RGB, RGBA round-trip bit-exactly", arguments: [1, 3, 4])
    func roundTrip(channels: Int) throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SystemRandomNumberGenerator()
        let w = 23, h = 17
        let px = (0..<(w * h * channels)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let image = Image(width: w, height: h, channels: channels, pixels: px)
        let url = dir.appendingPathComponent("x.png")
        try ImageFile.writePNG(image, to: url)
        #expect(try ImageFile.read(url) == image)
        // Overwrite in place, leaving no temp files behind.
        try ImageFile.writePNG(image.toGray(), to: url)
        #expect(try ImageFile.read(url) == image.toGray())
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["x.png"])
    }

    @Test func fixtureRoundTrip() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let original = try ImageFile.read(Fixtures.url("png_palette4_trns.png"))
        let url = dir.appendingPathComponent("p.png")
        try ImageFile.writePNG(original, to: url)
        #expect(try ImageFile.read(url) == original)
    }

    @Test func writeCreatesMissingFolders() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("png-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("a/b/c.png")
        let image = Image(width: 1, height: 1, channels: 1, pixels: [7])
        try ImageFile.writePNG(image, to: url)
        #expect(try ImageFile.read(url) == image)
    }

    @Test func writeWhereNoFolderCanBeThrowsNamingTheFile() throws {
        // The "folder" is a regular file, so nothing can be created below it (even as root).
        let blocker = FileManager.default.temporaryDirectory.appendingPathComponent("blocker-\(UUID().uuidString)")
        try Data("x".utf8).write(to: blocker)
        defer { try? FileManager.default.removeItem(at: blocker) }
        let url = blocker.appendingPathComponent("a.png")
        do {
            try ImageFile.writePNG(Image(width: 1, height: 1, channels: 1, pixels: [7]), to: url)
            Issue.record("write succeeded")
        } catch let e as ImageError {
            guard case .writeFailed(let f, _) = e else { Issue.record("got \(e)"); return }
            #expect(f == url.path)
        } catch { Issue.record("unexpected \(error)") }
    }
}
