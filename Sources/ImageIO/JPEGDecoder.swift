import CJPEGHelpers
import Foundation
import TensorCore

/// JPEG decoding through libjpeg-turbo. The setjmp-based error handling lives in the small C helper
/// (Sources/CJPEGHelpers), because libjpeg's `error_exit` must never return.
///
/// Order of checks, all before a pixel buffer exists: the header's size against `InputLimits` (pixels and side),
/// then the file's length against the least a Huffman-coded image of that size can occupy; then the decode, which
/// stops at the first sign of damaged scan data instead of guessing the rest of the image.
enum JPEGDecoder {
    static func message(_ result: inout cjpeg_result) -> String {
        withUnsafeBytes(of: &result.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    static func decode(_ data: Data, file: String, limits: InputLimits = .current) throws -> Image {
        var header = cjpeg_result()
        let headerStatus = data.withUnsafeBytes { raw in
            cjpeg_read_header(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &header)
        }
        switch headerStatus {
        case CJPEG_OK, CJPEG_UNSUPPORTED: break
        default: throw ImageError.corrupt(file: file, reason: message(&header))
        }
        let width = Int(header.width), height = Int(header.height)
        do {
            try limits.checkImage(width: width, height: height, file: file, field: "JPEG header (SOF) size")
        } catch let e as InputLimitError { throw ImageError.exceedsLimit(e) }
        if headerStatus == CJPEG_UNSUPPORTED { throw ImageError.unsupported(file: file, reason: message(&header)) }
        if header.min_data_bytes > 0, data.count < header.min_data_bytes {
            throw ImageError.corrupt(file: file, reason: "the header declares \(width)x\(height) pixels, which need at least "
                                     + "\(header.min_data_bytes) bytes of scan data; the file has \(data.count) bytes (truncated or forged)")
        }

        var result = cjpeg_result()
        let status = data.withUnsafeBytes { raw in
            cjpeg_decode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &result)
        }
        switch status {
        case CJPEG_OK: break
        case CJPEG_UNSUPPORTED: throw ImageError.unsupported(file: file, reason: message(&result))
        case CJPEG_NO_MEMORY: throw ImageError.unsupported(file: file, reason: message(&result))
        default: throw ImageError.corrupt(file: file, reason: message(&result))
        }
        defer { cjpeg_free(result.pixels) }
        let count = Int(result.width) * Int(result.height) * Int(result.channels)
        let pixels = [UInt8](UnsafeBufferPointer(start: result.pixels, count: count))
        return Image(width: Int(result.width), height: Int(result.height), channels: Int(result.channels), pixels: pixels)
    }
}
