import Foundation
import Testing
@testable import ImageIO

/// Headers that announce enormous images must be refused before allocating, not crash.
@Suite("Decompression bombs")
struct HugeHeaderTests {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }

    @Test func hugePNGHeaderIsRefused() throws {
        var png = try Fixtures.bytes("png_rgb8.png")
        // IHDR data starts at 16: width, height (big-endian), then depth/colour etc.; fix the CRC after it.
        let body = Array("IHDR".utf8) + Self.be32(100_000) + Self.be32(100_000) + Array(png[24..<29])
        png.replaceSubrange(12..<33, with: body + Self.be32(Self.crc32(body)))
        do {
            _ = try ImageFile.decode(Data(png), file: "huge.png")
            Issue.record("huge PNG decoded")
        } catch let e as ImageError {
            print("huge PNG: \(e)")
            #expect(e.description.hasPrefix("huge.png"))
        }
    }

    @Test func hugeJPEGHeaderIsRefused() throws {
        var jpg = try Fixtures.bytes("jpeg_rgb_baseline.jpg")
        let sof = try #require((0..<(jpg.count - 1)).first { jpg[$0] == 0xFF && jpg[$0 + 1] == 0xC0 })
        // SOF0: FF C0, length(2), precision(1), height(2), width(2)
        jpg.replaceSubrange((sof + 5)..<(sof + 9), with: [0xFD, 0xE8, 0xFD, 0xE8])  // 65000 x 65000
        do {
            _ = try ImageFile.decode(Data(jpg), file: "huge.jpg")
            Issue.record("huge JPEG decoded")
        } catch let e as ImageError {
            print("huge JPEG: \(e)")
            #expect(e.description.hasPrefix("huge.jpg"))
        }
    }
}
