import CPNG
import Foundation
import TensorCore

/// PNG through libpng's simplified API (`png_image_*`), which reports errors as return codes and a
/// message instead of longjmp, so nothing unwinds through Swift frames.
enum PNGCodec {
    // png_image format flags (png.h PNG_FORMAT_FLAG_*).
    private static let flagAlpha = UInt32(PNG_FORMAT_FLAG_ALPHA)
    private static let flagColor = UInt32(PNG_FORMAT_FLAG_COLOR)
    private static let flagColormap = UInt32(PNG_FORMAT_FLAG_COLORMAP)

    private static func message(_ image: png_image) -> String {
        var m = image.message
        return withUnsafeBytes(of: &m) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    /// Colour-space chunks the simplified API would act on (gamma-correcting 8-bit samples);
    /// PIL ignores them, so they are dropped before decoding.
    private static let colorSpaceChunks: Set<String> = ["gAMA", "sRGB", "iCCP", "cHRM"]
    /// Text chunks: nothing here reads them, and libpng would buffer each whole (and inflate zTXt / iTXt) with no
    /// limit of its own in Debian's build, so they are dropped too.
    private static let textChunks: Set<String> = ["tEXt", "zTXt", "iTXt"]

    /// `data` without the colour-space chunks before IDAT and without text chunks anywhere. Walks the chunk list with
    /// bounds checks; a chunk other than IDAT that claims more bytes than the data has left is refused here: libpng
    /// allocates a chunk's declared length before reading it, so a 66-byte file declaring a 2 GB iTXt made it take
    /// 2 GB (found by FuzzImageDecode, bench/FUZZ.md #15). Anything else malformed stops the walk and is left to libpng.
    static func strippingIgnoredChunks(_ data: Data, file: String) throws -> Data {
        var drop: [Range<Int>] = []
        var overrun: (tag: String, length: Int, left: Int)? = nil
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var pos = 8, seenIDAT = false
            while pos + 12 <= bytes.count {
                let length = Int(bytes[pos]) << 24 | Int(bytes[pos + 1]) << 16 | Int(bytes[pos + 2]) << 8 | Int(bytes[pos + 3])
                let end = pos + 12 + length
                let tag = String(decoding: bytes[(pos + 4)..<(pos + 8)], as: UTF8.self)
                guard length <= Int(Int32.max), end <= bytes.count else {
                    if tag != "IDAT" && length <= Int(Int32.max) { overrun = (tag, length, bytes.count - pos - 12) }
                    break
                }
                if tag == "IDAT" { seenIDAT = true }
                if textChunks.contains(tag) || (!seenIDAT && colorSpaceChunks.contains(tag)) { drop.append(pos..<end) }
                if tag == "IEND" { break }
                pos = end
            }
        }
        if let overrun {
            let name = overrun.tag.unicodeScalars.allSatisfy { $0.isASCII && $0.properties.isAlphabetic } ? "'\(overrun.tag)'" : "a"
            throw ImageError.corrupt(file: file, reason: "PNG chunk \(name) declares \(overrun.length) bytes but only \(max(0, overrun.left)) follow (truncated or corrupt)")
        }
        if drop.isEmpty { return data }
        let base = data.startIndex
        var out = Data(capacity: data.count)
        var start = 0
        for r in drop { out.append(data[(base + start)..<(base + r.lowerBound)]); start = r.upperBound }
        out.append(data[(base + start)...])
        return out
    }

    /// Bytes of IDAT payload present in `data` (a chunk cut short by the end of the data counts what is there):
    /// an upper bound on the compressed image data libpng can read.
    static func idatBytes(_ data: Data) -> Int {
        var total = 0
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var pos = 8
            while pos + 8 <= bytes.count {
                let length = Int(bytes[pos]) << 24 | Int(bytes[pos + 1]) << 16 | Int(bytes[pos + 2]) << 8 | Int(bytes[pos + 3])
                guard length <= Int(Int32.max) else { break }
                let isIDAT = bytes[pos + 4] == 0x49 && bytes[pos + 5] == 0x44 && bytes[pos + 6] == 0x41 && bytes[pos + 7] == 0x54
                let available = min(length, bytes.count - (pos + 8))
                if isIDAT { total += available }
                if available < length { break }
                pos += 12 + length
            }
        }
        return total
    }

    /// Most bytes zlib's deflate can expand one compressed byte to (a 258-byte match coded in 2 bits).
    static let maxDeflateRatio = 1032

    /// Bits per pixel of the PNG's own samples, from IHDR (bit depth at byte 24, colour type at 25), or nil.
    static func sourceBitsPerPixel(_ data: Data) -> Int? {
        guard data.count >= 26 else { return nil }
        let depth = Int(data[data.startIndex + 24]), colorType = data[data.startIndex + 25]
        let samples: Int
        switch colorType {
        case 0, 3: samples = 1
        case 2: samples = 3
        case 4: samples = 2
        case 6: samples = 4
        default: return nil
        }
        return depth * samples
    }

    static func decode(_ input: Data, file: String, limits: InputLimits = .current) throws -> Image {
        let data = try strippingIgnoredChunks(input, file: file)
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let ok = data.withUnsafeBytes { raw in
            png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count)
        }
        guard ok != 0 else {
            let why = message(image)
            png_image_free(&image)
            throw ImageError.corrupt(file: file, reason: why)
        }
        let width = Int(image.width), height = Int(image.height)
        // The header's size against the policy, before anything is allocated for pixels.
        do {
            try limits.checkImage(width: width, height: height, file: file, field: "PNG header (IHDR) size")
        } catch let e as InputLimitError {
            png_image_free(&image)
            throw ImageError.exceedsLimit(e)
        }
        // The compressed data present must be able to hold the declared pixels at deflate's best ratio.
        if let bpp = sourceBitsPerPixel(data) {
            let bits = (try? CheckedSize.product([width, height, bpp], file: file, field: "IHDR")) ?? Int.max
            let rawBytes = bits / 8
            let idat = idatBytes(data)
            let (most, overflow) = idat.multipliedReportingOverflow(by: Self.maxDeflateRatio)
            if !overflow, most + 1024 < rawBytes {
                png_image_free(&image)
                throw ImageError.corrupt(file: file, reason: "the header declares \(width)x\(height) pixels (\(rawBytes) bytes of "
                                         + "samples) but the file holds \(idat) bytes of image data, which inflate to at most "
                                         + "\(most) bytes (truncated or forged)")
            }
        }
        let source = image.format
        let color = source & (flagColor | flagColormap) != 0
        let alpha = source & flagAlpha != 0
        let channels: Int
        switch (color, alpha) {
        case (false, false): channels = 1; image.format = UInt32(PNG_FORMAT_GRAY)
        case (true, false): channels = 3; image.format = UInt32(PNG_FORMAT_RGB)
        case (_, true): channels = 4; image.format = UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)  // gray+alpha -> RGBA
        }
        // With the colour-space chunks gone, treat 16-bit samples as sRGB-encoded (a plain rescale to
        // round(v / 257); PIL keeps the high byte v >> 8, at most 1 level apart),
        // not as linear light.
        image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
        let (count, overflow) = width.multipliedReportingOverflow(by: height * channels)
        guard !overflow, count <= Image.maxDecodedBytes else {
            png_image_free(&image)
            throw ImageError.unsupported(file: file, reason: "image too large (\(width)x\(height))")
        }
        var pixels = [UInt8](repeating: 0, count: count)
        let done = pixels.withUnsafeMutableBytes { out in
            png_image_finish_read(&image, nil, out.baseAddress, Int32(width * channels), nil)
        }
        guard done != 0 else {
            let why = message(image)
            png_image_free(&image)
            throw ImageError.corrupt(file: file, reason: why)
        }
        png_image_free(&image)
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }

    static func encode(_ img: Image, file: String) throws -> Data {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(img.width)
        image.height = UInt32(img.height)
        switch img.channels {
        case 1: image.format = UInt32(PNG_FORMAT_GRAY)
        case 3: image.format = UInt32(PNG_FORMAT_RGB)
        default: image.format = UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
        }
        guard img.width > 0, img.height > 0 else {
            throw ImageError.writeFailed(file: file, reason: "PNG needs a non-empty image, got \(img.width)x\(img.height)")
        }
        let stride = Int32(img.width * img.channels)
        // One compression pass into a buffer of png.h's upper bound (PNG_IMAGE_PNG_SIZE_MAX: the filtered rows'
        // zlib bound, every chunk's header, a 12-byte IDAT header per zlib buffer), instead of a pass that only
        // measures and a second that writes. Should the bound ever be short, libpng reports the size it needs
        // and the write is done again at that size.
        let filtered = img.height * (1 + img.width * img.channels)
        let compressed = filtered + (filtered + 7) / 8 + (filtered + 63) / 64 + 11
        var capacity = 8 + 25 + 16 + 44 + 12 + 12 + 12 * (compressed / 1024 + 1) + compressed
        var out = Data()
        var size = 0
        var written: Int32 = 0
        for _ in 0..<2 {
            out = Data(count: capacity)
            size = capacity
            written = out.withUnsafeMutableBytes { dst in
                img.pixels.withUnsafeBytes { px in
                    png_image_write_to_memory(&image, dst.baseAddress, &size, 0, px.baseAddress, stride, nil)
                }
            }
            guard written == 0, size > capacity else { break }
            capacity = size
        }
        guard written != 0 else {
            let why = message(image)
            png_image_free(&image)
            throw ImageError.writeFailed(file: file, reason: "PNG encoding failed: \(why)")
        }
        png_image_free(&image)
        return out.prefix(size)
    }
}
