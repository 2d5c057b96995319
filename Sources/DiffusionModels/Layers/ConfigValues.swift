import Foundation
import TensorCore

/// Any JSON value, for reading diffusers config.json files whose fields change type between releases and for
/// naming an unsupported value in an error.
public enum JSONValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .number(d):
            if d == d.rounded() && Swift.abs(d) < 9e15 { try c.encode(Int(d)) } else { try c.encode(d) }
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }

    public var description: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return String(b)
        case let .number(d): return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
        case let .string(s): return "\"\(s)\""
        case let .array(a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case let .object(o): return "{" + o.keys.sorted().map { "\"\($0)\": \(o[$0]!)" }.joined(separator: ", ") + "}"
        }
    }

    var isNullOrFalse: Bool { self == .null || self == .bool(false) }
}

/// A config field that diffusers accepts either as one integer (for every block) or as a list (one per block).
public enum IntOrList: Codable, Sendable, Equatable {
    case one(Int)
    case list([Int])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Int.self) { self = .one(v) } else { self = .list(try c.decode([Int].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .one(v): try c.encode(v)
        case let .list(v): try c.encode(v)
        }
    }

    /// One value per block for `count` blocks, or nil when a list has another length.
    func perBlock(_ count: Int) -> [Int]? {
        switch self {
        case let .one(v): return Array(repeating: v, count: count)
        case let .list(v): return v.count == count ? v : nil
        }
    }
}

/// Reads snake_case fields of a diffusers config.json with defaults, remembering the raw values so unsupported
/// ones can be named in errors.
struct ConfigReader {
    let file: String
    let raw: [String: JSONValue]

    init(raw: [String: JSONValue], file: String) {
        self.file = file
        self.raw = raw
    }

    /// Reads `url`'s JSON object (a regular file within `InputLimits.current.maxEncodedFileBytes`); an unreadable
    /// file or bad JSON is a `.badConfig` naming the file.
    init(contentsOf url: URL) throws {
        try self.init(data: readConfigFile(url), file: url.path)
    }

    init(data: Data, file: String) throws {
        self.file = file
        raw = try decodeConfigObject(data, file: file)
    }

    /// Throws `outOfRange` unless `value` of `key` lies in `range`.
    func check(_ key: String, _ value: Int, _ range: ClosedRange<Int>) throws {
        guard range.contains(value) else {
            throw DiffusionModelError.outOfRange(file: file, field: key, value: "\(value)",
                                                 allowed: "an integer in \(range.lowerBound)...\(range.upperBound)")
        }
    }

    /// Throws `outOfRange` unless every per-block value of `key` lies in `range`, naming the block.
    func check(_ key: String, _ values: [Int], _ range: ClosedRange<Int>) throws {
        for (i, v) in values.enumerated() where !range.contains(v) {
            throw DiffusionModelError.outOfRange(file: file, field: "\(key)[\(i)]", value: "\(v)",
                                                 allowed: "an integer in \(range.lowerBound)...\(range.upperBound)")
        }
    }

    /// Throws `outOfRange` unless `value` is finite and in `range`.
    func check(_ key: String, _ value: Float, _ range: ClosedRange<Float>, open lowerOpen: Bool = false) throws {
        let ok = value.isFinite && range.contains(value) && !(lowerOpen && value == range.lowerBound)
        guard ok else {
            throw DiffusionModelError.outOfRange(
                file: file, field: key, value: "\(value)",
                allowed: "a finite number in \(lowerOpen ? "(" : "[")\(range.lowerBound), \(range.upperBound)]")
        }
    }


    /// The field decoded as `T`, `fallback` when absent or null.
    func value<T: Decodable>(_ key: String, _ fallback: T) throws -> T {
        guard let v = raw[key], v != .null else { return fallback }
        return try decode(key, v)
    }

    func optional<T: Decodable>(_ key: String, _ type: T.Type) throws -> T? {
        guard let v = raw[key], v != .null else { return nil }
        return try decode(key, v)
    }

    func required<T: Decodable>(_ key: String, _ type: T.Type) throws -> T {
        guard let v = raw[key], v != .null else {
            throw DiffusionModelError.badConfig(file: file, reason: "missing field \"\(key)\"")
        }
        return try decode(key, v)
    }

    private func decode<T: Decodable>(_ key: String, _ v: JSONValue) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: JSONEncoder().encode(v))
        } catch {
            throw DiffusionModelError.badConfig(file: file, reason: "field \"\(key)\" has unexpected value \(v)")
        }
    }

    /// Throws `unsupportedConfig` when `key` is present with a value `accepted` rejects.
    func require(_ key: String, _ accepted: (JSONValue) -> Bool) throws {
        if let v = raw[key], !accepted(v) {
            throw DiffusionModelError.unsupportedConfig(file: file, field: key, value: v.description)
        }
    }

    func unsupported(_ key: String) -> DiffusionModelError {
        .unsupportedConfig(file: file, field: key, value: (raw[key] ?? .null).description)
    }
}

/// A call argument of the wrong shape.
func inputError(argument: String, expected: String, actual: [Int]) -> DiffusionModelError {
    .badInput("\(argument) has shape \(actual), expected \(expected)")
}

/// Writes config fields under their snake_case names (the Encodable side of the config structs).
struct SnakeCaseKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// The ranges every diffusers config value read from a file must lie in, checked before anything is built or
/// allocated. They hold every released SD 1.x / 2.x / SDXL / SD-inpainting config with a wide margin; a value
/// outside them is a broken or hostile file. Tensor sizes the values imply are then checked per tensor against
/// `InputLimits.current` (`checkTensor`) before weights are read.
public enum DiffusionConfigRanges {
    /// Channels of any layer (block_out_channels, in/out/latent channels, cross_attention_dim, hidden sizes).
    public static let channels: ClosedRange<Int> = 1...16_384
    /// Blocks of a UNet or VAE (entries of block_out_channels); SD and SDXL use 3 or 4.
    public static let blocks: ClosedRange<Int> = 1...8
    /// Resnets per block (layers_per_block).
    public static let layersPerBlock: ClosedRange<Int> = 1...16
    /// Transformer blocks per attention (transformer_layers_per_block; SDXL uses up to 10).
    public static let transformerLayers: ClosedRange<Int> = 1...64
    /// Attention heads (also a divisor of the block's channels).
    public static let heads: ClosedRange<Int> = 1...1_024
    /// sample_size (latent side the model was trained at).
    public static let sampleSize: ClosedRange<Int> = 1...8_192
    /// Width of SDXL's added time embedding (addition_time_embed_dim).
    public static let timeEmbedding: ClosedRange<Int> = 1...16_384
    /// CLIP vocabulary size.
    public static let vocabulary: ClosedRange<Int> = 1...1_000_000
    /// CLIP positions (max_position_embeddings; CLIP uses 77).
    public static let positions: ClosedRange<Int> = 1...8_192
    /// CLIP encoder layers.
    public static let textLayers: ClosedRange<Int> = 1...256
    /// CLIP MLP width (intermediate_size).
    public static let intermediate: ClosedRange<Int> = 1...65_536
    /// Normalisation epsilons.
    public static let epsilon: ClosedRange<Float> = 0...0.1
}

/// Reads a config / index / tokenizer file with `InputFile` (bounded, refusing directories and FIFOs), mapping its
/// errors to `DiffusionModelError` naming the file (a missing file is `.missingFile`).
func readConfigFile(_ url: URL, limit: Int = InputLimits.current.maxEncodedFileBytes) throws -> Data {
    do { return try InputFile.read(url, limit: limit) } catch let error as InputFileError {
        if case let .unreadable(_, reason) = error, reason.contains("No such file") {
            throw DiffusionModelError.missingFile(path: url.path, hint: "the file does not exist")
        }
        throw DiffusionModelError.badConfig(file: url.path, reason: error.description)
    }
}

/// A JSON object's fields, or `.badConfig` naming the file (never Foundation's error text).
func decodeConfigObject(_ data: Data, file: String) throws -> [String: JSONValue] {
    let value: JSONValue
    do { value = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
        throw DiffusionModelError.badConfig(file: file, reason: "not valid JSON")
    }
    guard case let .object(object) = value else {
        throw DiffusionModelError.badConfig(file: file, reason: "expected a JSON object at the top level, found \(value.kind)")
    }
    return object
}

extension JSONValue {
    /// "null", "a boolean", "a number", ... for error messages.
    var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
