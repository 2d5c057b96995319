import Foundation
import TensorCore

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
    /// Hard ceiling on one decoded buffer (2 GiB), behind the policy `InputLimits.current.maxImagePixels` /
    /// `maxImageSide`, which is checked first (from the header) and throws `.exceedsLimit`.
    public static let maxDecodedBytes = 1 << 31
}

/// Why an image file could not be read or written. Every case names the file (or, for in-memory arguments and
/// transforms that were not told the file, what it was: "heatmap", "image").
public enum ImageError: Error, CustomStringConvertible, Equatable, LocalizedError {
    case unreadable(file: String, reason: String)
    case notAnImage(file: String)
    case corrupt(file: String, reason: String)
    case writeFailed(file: String, reason: String)
    case sizeMismatch(file: String, expected: String, actual: String)
    /// A valid file in a variant this decoder does not handle (e.g. CMYK JPEG).
    case unsupported(file: String, reason: String)
    /// An in-memory argument (tensor, image list) with the wrong shape; `what` names it.
    case shapeMismatch(what: String, expected: String, actual: String)
    /// The header, or the result of a resize / crop / projection, asks for more than `InputLimits` allows;
    /// the wrapped error names the file, the field or transform, the size and the limit.
    case exceedsLimit(InputLimitError)

    public var description: String {
        switch self {
        case let .unreadable(f, r): return "\(f): cannot read: \(r)"
        case let .notAnImage(f): return "\(f): not a PNG or JPEG image"
        case let .corrupt(f, r): return "\(f): corrupt image: \(r)"
        case let .writeFailed(f, r): return "\(f): cannot write: \(r)"
        case let .sizeMismatch(f, e, a): return "\(f): size \(a) does not match \(e)"
        case let .unsupported(f, r): return "\(f): unsupported image: \(r)"
        case let .shapeMismatch(w, e, a): return "\(w): shape \(a), expected \(e)"
        case let .exceedsLimit(e): return e.description
        }
    }

    public var errorDescription: String? { description }

    /// The file (or in-memory thing) the error is about.
    public var file: String {
        switch self {
        case let .unreadable(f, _), let .notAnImage(f), let .corrupt(f, _), let .writeFailed(f, _),
             let .sizeMismatch(f, _, _), let .unsupported(f, _), let .shapeMismatch(f, _, _):
            return f
        case let .exceedsLimit(e): return e.file
        }
    }

    /// The same error about `file` instead of a placeholder name: for callers that know the path of an image a
    /// transform (which was only told "image") refused.
    public func naming(_ file: String) -> ImageError {
        switch self {
        case let .unreadable(_, r): return .unreadable(file: file, reason: r)
        case .notAnImage: return .notAnImage(file: file)
        case let .corrupt(_, r): return .corrupt(file: file, reason: r)
        case let .writeFailed(_, r): return .writeFailed(file: file, reason: r)
        case let .sizeMismatch(_, e, a): return .sizeMismatch(file: file, expected: e, actual: a)
        case let .unsupported(_, r): return .unsupported(file: file, reason: r)
        case let .shapeMismatch(_, e, a): return .shapeMismatch(what: file, expected: e, actual: a)
        case var .exceedsLimit(e): e.file = file; return .exceedsLimit(e)
        }
    }
}
