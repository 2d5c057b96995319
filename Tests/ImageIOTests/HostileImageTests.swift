import Foundation
import Testing
import TensorCore
@testable import ImageIO

/// Issue 11, images: sizes from headers and from every geometric transform are checked against `InputLimits` before
/// anything is allocated, damaged data is an error, and files are read through `InputFile` (no Foundation error
/// text, no blocking on a FIFO). Each test builds its malformed bytes here from a small fixture.
@Suite("Hostile images")
struct HostileImageTests {
    /// `png` with IHDR's width and height replaced (and its CRC fixed).
    static func pngDeclaring(width: UInt32, height: UInt32, from fixture: String = "png_gray8.png") throws -> Data {
        var png = try Fixtures.bytes(fixture)
        let body = Array("IHDR".utf8) + HugeHeaderTests.be32(width) + HugeHeaderTests.be32(height) + Array(png[24..<29])
        png.replaceSubrange(12..<33, with: body + HugeHeaderTests.be32(HugeHeaderTests.crc32(body)))
        return Data(png)
    }

    /// `jpeg_rgb_baseline.jpg` with SOF0's height and width replaced.
    static func jpegDeclaring(width: Int, height: Int) throws -> Data {
        var jpg = try Fixtures.bytes("jpeg_rgb_baseline.jpg")
        let sof = try #require((0..<(jpg.count - 1)).first { jpg[$0] == 0xFF && jpg[$0 + 1] == 0xC0 })
        jpg.replaceSubrange((sof + 5)..<(sof + 9), with: [UInt8(height >> 8), UInt8(height & 255), UInt8(width >> 8), UInt8(width & 255)])
        return Data(jpg)
    }

    /// The limit error inside an `ImageError`, or a recorded issue.
    static func limitError(_ body: () throws -> Any) -> InputLimitError? {
        do {
            _ = try body()
            Issue.record("no error")
        } catch let ImageError.exceedsLimit(e) {
            return e
        } catch {
            Issue.record("expected ImageError.exceedsLimit, got \(type(of: error)): \(error)")
        }
        return nil
    }

    static func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    // MARK: class 1: decoded size bounded from the header, before allocating

    @Test func pngHeaderOfOneByAMillionIsRefusedBeforeDecoding() throws {
        let png = try Self.pngDeclaring(width: 1, height: 1_000_000)
        var error: InputLimitError?
        let t = Self.seconds { error = Self.limitError { try ImageFile.decode(png, file: "thin.png") } }
        let e = try #require(error)
        print("1x1000000 PNG (\(png.count) bytes, \(t) s): \(ImageError.exceedsLimit(e))")
        #expect(e.file == "thin.png" && e.field == "PNG header (IHDR) size" && e.requested == "1x1000000")
        #expect(e.option == "--max-image-side")
        #expect(ImageError.exceedsLimit(e).description.hasPrefix("thin.png: PNG header (IHDR) size is 1x1000000, more than the limit 65535"))
        #expect(t < 1)
    }

    @Test func pngWhoseDataCannotHoldItsHeaderIsRefusedBeforeAllocating() throws {
        // 8000 x 8000 gray fits the pixel limit, but the fixture's ~150 bytes of IDAT inflate to at most ~150 KB.
        let png = try Self.pngDeclaring(width: 8000, height: 8000)
        var caught: Error?
        let t = Self.seconds { do { _ = try ImageFile.decode(png, file: "forged.png") } catch { caught = error } }
        print("8000x8000 PNG of \(png.count) bytes (\(t) s): \(String(describing: caught))")
        guard case let .corrupt(file, reason)? = caught as? ImageError else { Issue.record("got \(String(describing: caught))"); return }
        #expect(file == "forged.png" && reason.contains("8000x8000") && reason.contains("truncated or forged"))
        #expect(t < 1)
        // The same check with a caller's own limits: the header alone is refused under a 1 MP policy.
        var small = InputLimits(); small.maxImagePixels = 1_000_000
        let e = try #require(Self.limitError { try ImageFile.decode(png, file: "forged.png", limits: small) })
        #expect(e.option == "--max-image-pixels" && e.requested == "8000x8000 = 64000000 pixels")
    }

    /// `png_gray8.png` with `chunk` (its tag and body, a correct CRC, `declared` as its length) right after IHDR.
    static func pngWithChunk(_ tag: String, _ body: [UInt8], declared: UInt32? = nil, truncateAfterIt: Bool = false) throws -> Data {
        let png = try Fixtures.bytes("png_gray8.png")
        let chunk = HugeHeaderTests.be32(declared ?? UInt32(body.count)) + Array(tag.utf8) + body
            + HugeHeaderTests.be32(HugeHeaderTests.crc32(Array(tag.utf8) + body))
        return Data(Array(png[0..<33]) + chunk + (truncateAfterIt ? [] : Array(png[33...])))
    }

    @Test func chunkDeclaringMoreThanTheFileHoldsIsRefusedBeforeLibpngAllocatesIt() throws {
        // FuzzImageDecode #15: a 66-byte PNG declaring a 2 GB iTXt made libpng allocate 2 GB before reading it.
        for tag in ["iTXt", "zTXt", "tEXt", "abCd"] {
            let png = try Self.pngWithChunk(tag, Array("key\0value".utf8), declared: 0x7445_5874, truncateAfterIt: true)
            var caught: Error?
            let t = Self.seconds { do { _ = try ImageFile.decode(png, file: "bomb.png") } catch { caught = error } }
            guard case let .corrupt(file, reason)? = caught as? ImageError else { Issue.record("\(tag): got \(String(describing: caught))"); continue }
            #expect(file == "bomb.png" && reason.contains("'\(tag)'") && reason.contains("1950701684 bytes"), "\(reason)")
            #expect(t < 0.5, "\(tag): \(t) s")
        }
        // Text chunks that are whole are dropped, not read: the pixels are those of the plain fixture.
        let plain = try ImageFile.decode(Data(try Fixtures.bytes("png_gray8.png")), file: "plain.png")
        let zlibOfZeros = [UInt8]([0x78, 0x9c, 0x63, 0x60, 0x18, 0x05, 0xa3, 0x60, 0x14, 0x0c, 0x77, 0x00, 0x00, 0x10, 0x00, 0x00, 0x01])
        for (tag, body) in [("tEXt", Array("Comment\0line 3".utf8)), ("zTXt", Array("Comment\0\0".utf8) + zlibOfZeros),
                            ("iTXt", Array("Comment\0\0\0en\0\0text".utf8))] {
            let withText = try ImageFile.decode(try Self.pngWithChunk(tag, body), file: "text.png")
            #expect(withText.pixels == plain.pixels && withText.width == plain.width, "\(tag)")
        }
    }

    @Test func jpegHeaderOverTheLimitIsRefused() throws {
        let jpg = try Self.jpegDeclaring(width: 40000, height: 17000)
        var error: InputLimitError?
        let t = Self.seconds { error = Self.limitError { try ImageFile.decode(jpg, file: "big.jpg") } }
        let e = try #require(error)
        print("40000x17000 JPEG (\(t) s): \(ImageError.exceedsLimit(e))")
        #expect(e.file == "big.jpg" && e.field == "JPEG header (SOF) size" && e.requested == "40000x17000 = 680000000 pixels")
        #expect(t < 1)
    }

    @Test func jpegTooShortForItsHeaderIsRefusedBeforeDecoding() throws {
        // 9000 x 9000 fits the limits, but a Huffman-coded scan of it needs at least ~9.9 KB; the file has 1.3 KB.
        let jpg = try Self.jpegDeclaring(width: 9000, height: 9000)
        var caught: Error?
        let t = Self.seconds { do { _ = try ImageFile.decode(jpg, file: "forged.jpg") } catch { caught = error } }
        print("9000x9000 JPEG of \(jpg.count) bytes (\(t) s): \(String(describing: caught))")
        guard case let .corrupt(file, reason)? = caught as? ImageError else { Issue.record("got \(String(describing: caught))"); return }
        #expect(file == "forged.jpg" && reason.contains("9000x9000"))
        #expect(t < 1)
    }

    @Test func jpegWithDamagedScanDataIsAnErrorNotAGuess() throws {
        // Cut the scan short and end the file properly: libjpeg warns "premature end of data segment" and would fill
        // the rest with grey; that warning is now an error.
        let full = try Fixtures.bytes("jpeg_rgb_baseline.jpg")
        let sos = try #require((0..<(full.count - 1)).first { full[$0] == 0xFF && full[$0 + 1] == 0xDA })
        let cut = Data(full[..<(sos + 200)] + [0xFF, 0xD9])
        #expect(throws: Never.self) { try ImageFile.decode(Data(full), file: "ok.jpg") }
        do {
            let image = try ImageFile.decode(cut, file: "cut.jpg")
            Issue.record("damaged JPEG decoded to \(image.width)x\(image.height)")
        } catch let e as ImageError {
            print("damaged JPEG: \(e)")
            guard case let .corrupt(file, reason) = e else { Issue.record("got \(e)"); return }
            #expect(file == "cut.jpg" && reason.contains("Corrupt JPEG data"))
        }
        // Bytes flipped inside the scan: a bad Huffman code or a wrong marker, never a silently decoded picture
        // that differs from the original's size.
        var flipped = full
        for i in stride(from: sos + 40, to: full.count - 2, by: 7) { flipped[i] = flipped[i] == 0xFF ? 0x00 : 0xFF }
        do { _ = try ImageFile.decode(Data(flipped), file: "flipped.jpg") } catch let e as ImageError {
            #expect(e.file == "flipped.jpg")
        }
    }

    @Test func resizeOfAThinImageToTheShortSideIsRefusedBeforeAllocating() throws {
        // A valid 1 x 65,500 gray PNG (tiny once compressed) decodes; Resize(256) would make it 256 x 16,768,000.
        let thin = Image(width: 1, height: 65_500, channels: 1, pixels: [UInt8](repeating: 128, count: 65_500))
        let png = try PNGCodec.encode(thin, file: "thin.png")
        let decoded = try ImageFile.decode(png, file: "thin.png")
        #expect(decoded.width == 1 && decoded.height == 65_500)
        var error: InputLimitError?
        let t = Self.seconds { error = Self.limitError { try decoded.resized(shorterSide: 256, file: "thin.png") } }
        let e = try #require(error)
        print("1x65500 PNG (\(png.count) bytes) resized (\(t) s): \(ImageError.exceedsLimit(e))")
        #expect(ImageError.exceedsLimit(e).description.hasPrefix(
            "thin.png: the result of resize to 256 on the short side is 256x16768000, more than the limit 65535 pixels per side"))
        #expect(t < 1)
        // The same for the wide orientation, for masks (nearest) and for the size alone.
        let wide = Image(width: 100_000 / 4, height: 1, channels: 1, pixels: [UInt8](repeating: 0, count: 25_000))
        let w = try #require(Self.limitError { try wide.resized(shorterSide: 256, nearest: true, file: "wide.png") })
        #expect(w.requested == "6400000x256" && w.file == "wide.png")
        #expect(Self.limitError { try Image.resizedSize(width: 1, height: 1_000_000, shorterSide: 256, file: "x") } != nil)
        #expect(Self.limitError { try Image.resizedSize(width: 5, height: 5, shorterSide: 0, file: "x") } != nil)
    }

    @Test func everyGeometricTransformChecksItsResult() throws {
        let img = Image(width: 4, height: 3, channels: 3, pixels: [UInt8](repeating: 7, count: 36))
        var limits = InputLimits(); limits.maxImagePixels = 10_000; limits.maxImageSide = 1_000
        let cases: [(String, () throws -> Any)] = [
            ("resize to 2000x2", { try img.resized(width: 2000, height: 2, file: "a.png", limits: limits) }),
            ("nearest resize to 200x200", { try img.resizedNearest(width: 200, height: 200, file: "a.png", limits: limits) }),
            ("Lanczos resize to 0x5", { try img.resizedLanczos(width: 0, height: 5, file: "a.png", limits: limits) }),
            ("crop to 1001x1", { try img.cropped(x: 0, y: 0, width: 1001, height: 1, file: "a.png", limits: limits) }),
            ("center crop to 101x100", { try img.centerCropped(width: 101, height: 100, file: "a.png", limits: limits) }),
            ("resize to 1000 on the short side", { try img.resized(shorterSide: 1000, file: "a.png", limits: limits) }),
            ("projection of the heatmap onto 5000x1", {
                try Heatmap.project(Tensor(zeros: [2, 2]), covering: (0, 0, 4, 3), ontoWidth: 5000, height: 1,
                                    file: "a.png", limits: limits)
            }),
        ]
        for (transform, body) in cases {
            let e = try #require(Self.limitError(body), "\(transform)")
            #expect(e.file == "a.png" && e.field == "the result of \(transform)", "\(e)")
        }
        // Within the limits they are the unchecked transforms.
        #expect(try img.resized(width: 9, height: 5, file: "a.png", limits: limits) == img.resized(width: 9, height: 5))
        #expect(try img.centerCropped(width: 2, height: 2, file: "a.png") == img.centerCropped(width: 2, height: 2))
        #expect(throws: ImageError.self) {
            try img.resizedLanczos(width: 2, height: 2, box: (0, 0, .nan, 3), file: "a.png")
        }
        // A transform that was only told "image" can be renamed by the caller that knows the path.
        let unnamed = try #require(Self.limitError { try img.resized(width: 70_000, height: 1, file: "image") })
        #expect(ImageError.exceedsLimit(unnamed).naming("/data/x.png").file == "/data/x.png")
    }

    @Test func hostileShortSideArithmeticSaturatesInsteadOfTrapping() {
        let s = Image.resizedSize(width: 1, height: Int.max / 2, shorterSide: 1 << 40)
        #expect(s.width == 1 << 40 && s.height == Int.max)
        #expect(Image.resizedSize(width: 600, height: 800, shorterSide: 256) == (256, 341))  // torchvision: int(256*800/600)
    }

    @Test func normalisationFromAConfigIsCheckedNotTrapped() throws {
        let img = Image(width: 2, height: 2, channels: 3, pixels: [UInt8](repeating: 9, count: 12))
        for (mean, std) in [([Float](repeating: 0, count: 2), [Float](repeating: 1, count: 3)), ([0, 0, 0], [1, 0, 1]),
                            ([.nan, 0, 0], [1, 1, 1]), ([0, 0, 0], [1, .infinity, 1])] {
            #expect(throws: ImageError.self) { try Image.batchTensor([img], mean: mean, std: std) }
        }
        #expect(try Image.batchTensor([img], mean: [0], std: [1]).shape == [1, 3, 2, 2])
    }

    // MARK: class 2: files read through InputFile, reasons in words

    static func readError(_ path: String) -> ImageError? {
        do { _ = try ImageFile.read(URL(fileURLWithPath: path)); Issue.record("\(path) read") } catch let e as ImageError {
            return e
        } catch { Issue.record("\(path): not an ImageError: \(error)") }
        return nil
    }

    @Test func directoriesFIFOsDevicesAndLoopsAreNamedNotBlocking() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-images-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("dir.png"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let fifo = root.appendingPathComponent("fifo.png").path
        #expect(mkfifo(fifo, 0o600) == 0)
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("loop.png").path,
                                                   withDestinationPath: root.appendingPathComponent("loop.png").path)
        let cases: [(String, String)] = [
            (root.appendingPathComponent("dir.png").path, "is a directory"),
            (fifo, "FIFO"),
            ("/dev/zero", "character device"),
            (root.appendingPathComponent("loop.png").path, "symbolic links"),
            (root.appendingPathComponent("missing.png").path, "No such file"),
        ]
        for (path, reason) in cases {
            var error: ImageError?
            let t = Self.seconds { error = Self.readError(path) }
            let e = try #require(error)
            print("\(path): \(e) (\(t) s)")
            guard case let .unreadable(file, why) = e else { Issue.record("\(path): got \(e)"); continue }
            #expect(file == path && why.contains(reason), "\(e)")
            #expect(!e.description.contains("NSCocoaErrorDomain") && !e.description.contains("operation could not"))
            #expect(e.localizedDescription == e.description)
            #expect(t < 1)
        }
        // A file over the caller's byte limit is refused before it is read.
        let big = root.appendingPathComponent("big.png")
        try Data(count: 4096).write(to: big)
        var limits = InputLimits(); limits.maxEncodedFileBytes = 1000
        do { _ = try ImageFile.read(big, limits: limits); Issue.record("read") } catch ImageError.exceedsLimit(let e) {
            #expect(e.file == big.path && e.option == "--max-file-bytes")
        }
    }

    // MARK: masks

    @Test func badMasksAreErrorsNamingTheMask() throws {
        func reason(_ body: () throws -> Image) -> String? {
            do { _ = try body(); Issue.record("mask accepted") } catch let e as ImageError {
                #expect(e.file == "m.png", "\(e)")
                return e.description
            } catch { Issue.record("\(error)") }
            return nil
        }
        let gray16 = Data(try Fixtures.bytes("png_gray16.png"))
        #expect(reason { try MaskFile.decode(gray16, file: "m.png") }?.contains("16-bit") == true)
        let palette = Data(try Fixtures.bytes("png_palette8.png"))
        #expect(reason { try MaskFile.decode(palette, file: "m.png") }?.contains("palette") == true)
        let ramp = try PNGCodec.encode(Image(width: 4, height: 1, channels: 1, pixels: [0, 50, 100, 255]), file: "m.png")
        #expect(reason { try MaskFile.decode(ramp, file: "m.png") }?.contains("not binary: 4 gray levels (0, 50, 100, 255)") == true)
        let colour = try PNGCodec.encode(Image(width: 1, height: 1, channels: 3, pixels: [255, 0, 0]), file: "m.png")
        #expect(reason { try MaskFile.decode(colour, file: "m.png") }?.contains("colour (255,0,0)") == true)
        let ones = try PNGCodec.encode(Image(width: 3, height: 2, channels: 1, pixels: [0, 1, 0, 1, 1, 0]), file: "m.png")
        #expect(reason { try MaskFile.decode(ones, file: "m.png", width: 2, height: 3) }?.contains("its image's 2x3") == true)
        // 0/1 is a binary mask: it comes back as 0/255, so `maskTensor()` sees the defect.
        let m = try MaskFile.decode(ones, file: "m.png", width: 3, height: 2)
        #expect(m.pixels == [0, 255, 0, 255, 255, 0] && m.maskTensor().scalars == [0, 1, 0, 1, 1, 0])
        #expect(try MaskFile.decode(ramp, file: "m.png", binary: false).pixels == [0, 0, 0, 255])
    }
}
