import Foundation

/// An 8-bit image with interleaved channels (row-major, HWC): 1 = gray, 3 = RGB, 4 = RGBA.
public struct Image: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && [1, 3, 4].contains(channels), "invalid image geometry \(width)x\(height)x\(channels)")
        precondition(pixels.count == width * height * channels, "pixel count \(pixels.count) != \(width)x\(height)x\(channels)")
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }
}

extension Image {
    /// Largest decoded image accepted (2 GiB of pixels); bigger files throw `.unsupported`.
    public static let maxDecodedBytes = 1 << 31
}

/// Why an image file could not be read or written. Every case names the file.
public enum ImageError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case notAnImage(file: String)
    case corrupt(file: String, reason: String)
    case writeFailed(file: String, reason: String)
    case sizeMismatch(file: String, expected: String, actual: String)
    /// A valid file in a variant this decoder does not handle (e.g. CMYK JPEG).
    case unsupported(file: String, reason: String)
    /// An in-memory argument (tensor, image list) with the wrong shape; `what` names it.
    case shapeMismatch(what: String, expected: String, actual: String)

    public var description: String {
        switch self {
        case let .unreadable(f, r): return "\(f): cannot read: \(r)"
        case let .notAnImage(f): return "\(f): not a PNG or JPEG image"
        case let .corrupt(f, r): return "\(f): corrupt image: \(r)"
        case let .writeFailed(f, r): return "\(f): cannot write: \(r)"
        case let .sizeMismatch(f, e, a): return "\(f): size \(a) does not match \(e)"
        case let .unsupported(f, r): return "\(f): unsupported image: \(r)"
        case let .shapeMismatch(w, e, a): return "\(w): shape \(a), expected \(e)"
        }
    }
}
