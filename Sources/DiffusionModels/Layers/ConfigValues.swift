import Foundation

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

    /// Reads `url`'s JSON object; an unreadable file or bad JSON is a `.badConfig` naming the file.
    init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DiffusionModelError.badConfig(file: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        try self.init(data: data, file: url.path)
    }

    init(data: Data, file: String) throws {
        self.file = file
        do {
            raw = try JSONDecoder().decode([String: JSONValue].self, from: data)
        } catch {
            throw DiffusionModelError.badConfig(file: file, reason: "not a JSON object: \(error)")
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
