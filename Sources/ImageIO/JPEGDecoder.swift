import CJPEGHelpers
import Foundation

/// JPEG decoding through libjpeg-turbo. The setjmp-based error handling lives in the small C helper
/// `cjpeg_decode` (Sources/CJPEGHelpers), because libjpeg's `error_exit` must never return.
enum JPEGDecoder {
    static func decode(_ data: Data, file: String) throws -> Image {
        var result = cjpeg_result()
        let status = data.withUnsafeBytes { raw in
            cjpeg_decode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &result)
        }
        let message: String = withUnsafeBytes(of: &result.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        switch status {
        case CJPEG_OK: break
        case CJPEG_UNSUPPORTED: throw ImageError.unsupported(file: file, reason: message)
        case CJPEG_NO_MEMORY: throw ImageError.unsupported(file: file, reason: message)
        default: throw ImageError.corrupt(file: file, reason: message)
        }
        defer { cjpeg_free(result.pixels) }
        let count = Int(result.width) * Int(result.height) * Int(result.channels)
        let pixels = [UInt8](UnsafeBufferPointer(start: result.pixels, count: count))
        return Image(width: Int(result.width), height: Int(result.height), channels: Int(result.channels), pixels: pixels)
    }
}
