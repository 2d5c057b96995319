import Foundation
import TensorCore

/// Reading and writing image files: PNG (libpng) and JPEG (libjpeg-turbo), detected by magic bytes.
///
/// ```swift
/// let image = try ImageFile.read(URL(fileURLWithPath: "bottle/000.png"))   // 8-bit gray, RGB or RGBA
/// try ImageFile.writePNG(image.toRGB(), to: URL(fileURLWithPath: "out.png"))
/// ```
public enum ImageFile {
    /// The container formats `read` understands.
    public enum Format: Sendable, Equatable { case png, jpeg }

    /// The format announced by the first bytes, or nil (PNG: 89 50 4E 47 0D 0A 1A 0A; JPEG: FF D8 FF).
    public static func format(ofMagic bytes: some Collection<UInt8>) -> Format? {
        let head = Array(bytes.prefix(8))
        if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF { return .jpeg }
        return nil
    }

    /// Decodes a PNG or JPEG (detected by magic bytes, not the extension) to 8-bit gray, RGB or RGBA.
    ///
    /// PNG: every colour type and bit depth; palette becomes RGB (RGBA with tRNS), gray+alpha becomes RGBA,
    /// 16-bit samples are scaled to 8 bits, gamma chunks are ignored as PIL ignores them.
    /// JPEG: baseline and progressive, gray and YCbCr/RGB; CMYK throws `.unsupported`.
    /// Missing file: `.unreadable`; empty or non-image file: `.notAnImage`; truncated or damaged data: `.corrupt`.
    /// The file is read with `InputFile.read` (at most `limits.maxEncodedFileBytes`; a directory, FIFO, device or
    /// symlink loop is `.unreadable` with the reason in words) and its header's size is checked against `limits`
    /// before pixels are allocated (`.exceedsLimit`).
    public static func read(_ url: URL, limits: InputLimits = .current) throws -> Image {
        try decode(readBytes(url, limits: limits), file: url.path, limits: limits)
    }

    /// The bytes of an image file, bounded by `limits.maxEncodedFileBytes`, with `ImageError`s naming the path.
    static func readBytes(_ url: URL, limits: InputLimits) throws -> Data {
        do {
            return try InputFile.read(url, limit: limits.maxEncodedFileBytes)
        } catch let e as InputFileError {
            switch e {
            case let .notAFile(path, reason): throw ImageError.unreadable(file: path, reason: "\(reason), not a file")
            case let .unreadable(path, reason): throw ImageError.unreadable(file: path, reason: reason)
            case let .tooLarge(path, bytes, limit):
                throw ImageError.exceedsLimit(InputLimitError(file: path, field: "file size", requested: "\(bytes) bytes",
                                                              limit: "\(limit) bytes", option: "--max-file-bytes"))
            }
        }
    }

    /// Decodes PNG or JPEG bytes held in memory (e.g. an HTTP upload); `file` names the source in errors.
    /// Touches no file; the header's size is checked against `limits` before pixels are allocated.
    public static func decode(_ data: Data, file: String, limits: InputLimits = .current) throws -> Image {
        switch format(ofMagic: data) {
        case .png: return try PNGCodec.decode(data, file: file, limits: limits)
        case .jpeg: return try JPEGDecoder.decode(data, file: file, limits: limits)
        case nil: throw ImageError.notAnImage(file: file)
        }
    }

    /// Encodes an 8-bit gray, RGB or RGBA image as PNG bytes (e.g. an HTTP answer); `name` names it in errors.
    public static func encodePNG(_ image: Image, name: String) throws -> Data {
        try PNGCodec.encode(image, file: name)
    }

    /// Encodes an 8-bit gray, RGB or RGBA image as PNG, atomically (temp file in the same folder, then rename).
    public static func writePNG(_ image: Image, to url: URL) throws {
        let bytes = try PNGCodec.encode(image, file: url.path)
        do { try AtomicFile.write(bytes, to: url) } catch {
            throw ImageError.writeFailed(file: url.path, reason: ImageFile.reason(error))
        }
    }

    /// Words for a Foundation / system error without Foundation's "The operation could not be completed" wrapper.
    static func reason(_ error: Error) -> String {
        switch error {
        case let AtomicFileError.notAFile(_, r): return "\(r); cannot write a file there"
        case let AtomicFileError.failed(_, operation, r): return "\(operation) failed: \(r)"
        case let e as ImageError: return e.description
        default: break
        }
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return SystemErrorText.reason(error)
    }
}
