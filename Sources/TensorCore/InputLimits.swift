import Foundation

/// How much a single input may ask for: the one policy every reader of untrusted files checks against before it
/// allocates or loops (image decoders, checkpoint and model readers, the unpickler, config and manifest readers).
///
/// The defaults fit any real inspection camera and any SD / SDXL checkpoint with room to spare, and stop the inputs
/// that only an attacker or a broken file makes (a 2 KB PNG declaring 1 x 1,000,000 pixels, a pickle nested 100,000
/// deep, a tensor declaring 10^12 elements). Raise them with the CLI's `--max-*` options or by setting
/// `InputLimits.current` once at start-up, before any work starts.
public struct InputLimits: Sendable, Equatable, Codable {
    /// Pixels of one decoded image, and of the result of every resize / crop / projection applied to it.
    /// Pillow's decompression-bomb error threshold is 178,956,970; 100 MP is a 12,000 x 8,000 sensor.
    public var maxImagePixels: Int = 100_000_000
    /// Longest side of one image, before decoding (from the header) and after every geometric transform.
    /// JPEG's own limit is 65,535.
    public var maxImageSide: Int = 65_535
    /// Bytes of one encoded file read whole (images, JSON configs, manifests, review sheets).
    public var maxEncodedFileBytes: Int = 1 << 30
    /// Elements of one tensor in a checkpoint or model file (SDXL's largest weight has about 6.3 x 10^7).
    public var maxTensorElements: Int = 1 << 31
    /// Bytes of one tensor in a checkpoint or model file.
    public var maxTensorBytes: Int = 1 << 33
    /// Nesting depth of containers (lists, tuples, dicts) in a pickle, and of any structure walked from a file.
    public var maxNestingDepth: Int = 1_000
    /// Opcodes executed when reading one pickle (an SD 1.5 UNet's state dict needs about 10^5).
    public var maxPickleOpcodes: Int = 50_000_000

    public init() {}

    /// The limits in force. Set once at start-up (the CLI sets it from its options); readers take it as a default
    /// argument, so tests and embedding code can also pass their own.
    public static var current: InputLimits {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }

    private nonisolated(unsafe) static var stored = InputLimits()
    private static let lock = NSLock()
}

/// An input asked for more than `InputLimits` allows, or sizes read from it overflow: names the file, the field, the
/// value asked for and the limit, and the option that raises it.
public struct InputLimitError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    public var file: String
    public var field: String
    public var requested: String
    public var limit: String
    /// The CLI option that raises the limit, or nil when the value is simply malformed (an overflow).
    public var option: String?

    public init(file: String, field: String, requested: String, limit: String, option: String? = nil) {
        self.file = file
        self.field = field
        self.requested = requested
        self.limit = limit
        self.option = option
    }

    public var description: String {
        var text = "\(file): \(field) is \(requested), more than the limit \(limit)"
        if let option { text += " (raise it with \(option) if the file is genuine)" }
        return text
    }

    public var errorDescription: String? { description }
}

/// Checked arithmetic for sizes read from files: overflow becomes an `InputLimitError` naming the file and field
/// instead of a trap.
public enum CheckedSize {
    /// The product of `factors`, or an error when any is negative or the product overflows `Int`.
    public static func product(_ factors: [Int], file: String, field: String) throws -> Int {
        var result = 1
        for factor in factors {
            guard factor >= 0 else {
                throw InputLimitError(file: file, field: field, requested: "\(factors)", limit: "non-negative sizes")
            }
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            guard !overflow else {
                throw InputLimitError(file: file, field: field, requested: "\(factors)", limit: "\(Int.max) (Int)")
            }
            result = next
        }
        return result
    }

    /// `a + b`, or an error naming the file and field when it overflows.
    public static func sum(_ a: Int, _ b: Int, file: String, field: String) throws -> Int {
        let (result, overflow) = a.addingReportingOverflow(b)
        guard !overflow else {
            throw InputLimitError(file: file, field: field, requested: "\(a) + \(b)", limit: "\(Int.max) (Int)")
        }
        return result
    }

    /// `a * b`, or an error naming the file and field when it overflows.
    public static func product(_ a: Int, _ b: Int, file: String, field: String) throws -> Int {
        try product([a, b], file: file, field: field)
    }
}

extension InputLimits {
    /// Throws unless `width` x `height` (after decoding or after a transform named in `field`) fits the limits.
    public func checkImage(width: Int, height: Int, file: String, field: String = "image size") throws {
        guard width > 0, height > 0 else {
            throw InputLimitError(file: file, field: field, requested: "\(width)x\(height)", limit: "at least 1x1")
        }
        guard max(width, height) <= maxImageSide else {
            throw InputLimitError(file: file, field: field, requested: "\(width)x\(height)",
                                  limit: "\(maxImageSide) pixels per side", option: "--max-image-side")
        }
        let pixels = try CheckedSize.product(width, height, file: file, field: field)
        guard pixels <= maxImagePixels else {
            throw InputLimitError(file: file, field: field, requested: "\(width)x\(height) = \(pixels) pixels",
                                  limit: "\(maxImagePixels) pixels", option: "--max-image-pixels")
        }
    }

    /// Throws unless a tensor of `shape` and `bytesPerElement` fits the limits; returns its element count.
    @discardableResult
    public func checkTensor(shape: [Int], bytesPerElement: Int, file: String, tensor: String) throws -> Int {
        let elements = try CheckedSize.product(shape, file: file, field: "shape of \(tensor)")
        guard elements <= maxTensorElements else {
            throw InputLimitError(file: file, field: "shape of \(tensor)", requested: "\(shape) = \(elements) elements",
                                  limit: "\(maxTensorElements) elements", option: "--max-tensor-elements")
        }
        let bytes = try CheckedSize.product(elements, bytesPerElement, file: file, field: "bytes of \(tensor)")
        guard bytes <= maxTensorBytes else {
            throw InputLimitError(file: file, field: "bytes of \(tensor)", requested: "\(bytes) bytes",
                                  limit: "\(maxTensorBytes) bytes", option: "--max-tensor-bytes")
        }
        return elements
    }
}
