import Foundation
import Testing
@testable import ImageIO

/// Malformed images of the kinds Fuzz/FuzzImageDecode generates: each must be refused with an error naming the
/// file, never a trap or a multi-gigabyte allocation. The bytes are built here (zlib from the system libpng's
/// dependency is not reachable, so IDAT holds a stored deflate block); fuzzer-found files live in
/// bench/fuzz/regressions/FuzzImageDecode/ and `make fuzz-smoke` replays them.
@Suite struct ImageIOFuzzRegressionTests {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in bytes { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return b << 16 | a
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    /// A PNG whose IHDR says `width` x `height` (colour type, depth), with `raw` (filter bytes included) as one stored
    /// deflate block, CRCs correct: only the header lies.
    static func png(width: UInt32, height: UInt32, colorType: UInt8 = 0, depth: UInt8 = 8, raw: [UInt8]) -> Data {
        func chunk(_ kind: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(kind.utf8) + body
            return bigEndian(UInt32(body.count)) + typed + bigEndian(crc32(typed))
        }
        let n = UInt16(raw.count)
        let zlib: [UInt8] = [0x78, 0x01, 0x01, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8(~n >> 8)]
            + raw + bigEndian(adler32(raw))
        let ihdr = bigEndian(width) + bigEndian(height) + [depth, colorType, 0, 0, 0]
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", zlib)
                    + chunk("IEND", []))
    }

    func expectRefused(_ data: Data, _ file: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let image = try ImageFile.decode(data, file: file)
            Issue.record("\(what): decoded as \(image.width)x\(image.height)", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)".contains(file), "\(what): error does not name the file: \(error)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func pngBuilderMakesDecodableFiles() throws {
        // The builder itself: a genuine 2 x 1 gray image decodes to its pixels, so the refusals below are about sizes.
        let image = try ImageFile.decode(Self.png(width: 2, height: 1, raw: [0, 7, 9]), file: "ok.png")
        #expect(image.width == 2 && image.height == 1 && image.channels == 1 && image.pixels == [7, 9])
    }

    @Test func pngDeclaringTwoGigapixelsSquaredIsRefused() {
        expectRefused(Self.png(width: 0x7FFF_FFFF, height: 0x7FFF_FFFF, raw: [0, 0]), "square.png", "2^31-1 square header")
    }

    @Test func pngDeclaringAWideSixteenBitRowIsRefused() {
        expectRefused(Self.png(width: 0x7FFF_FFFF, height: 1, colorType: 2, depth: 16, raw: [0, 0, 0, 0, 0, 0, 0]),
                      "wide.png", "2^31-1 x 1 RGB16 header")
    }

    @Test func pngWithZeroWidthIsRefused() {
        expectRefused(Self.png(width: 0, height: 4, raw: [0, 0, 0, 0]), "zero.png", "zero width")
    }
}
