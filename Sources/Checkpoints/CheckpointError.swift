import Foundation
import TensorCore

/// Why a checkpoint could not be read. Every case names the file.
public enum CheckpointError: Error, CustomStringConvertible, Equatable, Sendable, LocalizedError {
    case unreadable(file: String, reason: String)
    case truncated(file: String, expectedBytes: Int, actualBytes: Int)
    case malformed(file: String, reason: String)
    case unsupportedDType(file: String, tensor: String, dtype: String)
    case forbiddenPickle(file: String, what: String)
    case missingTensors(file: String, missing: [String], unexpected: [String])
    case shapeMismatch(file: String, tensor: String, expected: [Int], actual: [Int])
    /// Loading a model: every missing key, every unexpected key and every tensor of the wrong shape, together.
    case weightsMismatch(file: String, missing: [String], unexpected: [String], shapes: [ShapeMismatch])
    /// The file asks for more than `InputLimits` allows, or sizes read from it overflow (names file and field).
    case limit(InputLimitError)
    /// A tensor holds NaN / Inf, or a value outside its range such as a negative variance (names file and tensor).
    case nonFinite(NonFiniteError)

    /// The file the error is about.
    public var file: String {
        switch self {
        case let .unreadable(file, _), let .truncated(file, _, _), let .malformed(file, _), let .unsupportedDType(file, _, _),
             let .forbiddenPickle(file, _), let .missingTensors(file, _, _), let .shapeMismatch(file, _, _, _),
             let .weightsMismatch(file, _, _, _):
            return file
        case let .limit(e): return e.file
        case let .nonFinite(e): return e.file
        }
    }

    /// Runs `body`, turning the shared `InputLimitError` / `NonFiniteError` into this layer's error type.
    public static func wrapping<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as InputLimitError {
            throw CheckpointError.limit(e)
        } catch let e as NonFiniteError {
            throw CheckpointError.nonFinite(e)
        }
    }

    /// The same text as `description` (so `localizedDescription` never shows Foundation's generic wording).
    public var errorDescription: String? { description }

    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "\(file): cannot read: \(reason)"
        case let .truncated(file, e, a): return "\(file): truncated: expected \(e) bytes, found \(a)"
        case let .malformed(file, reason): return "\(file): not a valid checkpoint: \(reason)"
        case let .unsupportedDType(file, t, d): return "\(file): tensor '\(t)' has unsupported dtype \(d)"
        case let .forbiddenPickle(file, what):
            return "\(file): refused to unpickle \(what); only tensors, storages and (ordered) dicts are accepted"
        case let .missingTensors(file, missing, unexpected):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.count) tensor(s): \(missing.prefix(8).joined(separator: ", "))\(missing.count > 8 ? ", ..." : "")") }
            if !unexpected.isEmpty { parts.append("unexpected \(unexpected.count) tensor(s): \(unexpected.prefix(8).joined(separator: ", "))\(unexpected.count > 8 ? ", ..." : "")") }
            return "\(file): " + parts.joined(separator: "; ")
        case let .shapeMismatch(file, t, e, a): return "\(file): tensor '\(t)' has shape \(a), expected \(e)"
        case let .weightsMismatch(file, missing, unexpected, shapes):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.count) tensor(s): \(Self.list(missing))") }
            if !unexpected.isEmpty { parts.append("unexpected \(unexpected.count) tensor(s): \(Self.list(unexpected))") }
            if !shapes.isEmpty {
                parts.append("\(shapes.count) tensor(s) of the wrong shape: "
                             + Self.list(shapes.map { "\($0.tensor) has \($0.actual), expected \($0.expected)" }))
            }
            return "\(file): weights do not fit the model: " + parts.joined(separator: "; ")
        case let .limit(e): return e.description
        case let .nonFinite(e): return e.description
        }
    }

    private static func list(_ items: [String]) -> String {
        items.prefix(8).joined(separator: ", ") + (items.count > 8 ? ", ..." : "")
    }
}

/// One tensor whose stored shape differs from the shape the model needs.
public struct ShapeMismatch: Equatable, Sendable {
    public var tensor: String
    public var expected: [Int]
    public var actual: [Int]

    public init(tensor: String, expected: [Int], actual: [Int]) {
        self.tensor = tensor
        self.expected = expected
        self.actual = actual
    }
}
