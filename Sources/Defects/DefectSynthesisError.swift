import Foundation

/// Why synthetic defects could not be made: every case names the file or option at fault and how to fix it.
public enum DefectSynthesisError: Error, CustomStringConvertible, Equatable, Sendable, LocalizedError {
    /// No usable mask in a folder or data set; `reason` says what was found instead.
    case noMasks(source: String, reason: String)
    /// No good image to paint defects onto.
    case noGoodImages(source: String)
    /// A file could not be read.
    case unreadable(file: String, reason: String)
    /// A requested method cannot run with the given inputs (e.g. `cut_paste` without real defects).
    case methodUnavailable(method: String, reason: String)
    /// A bad option value.
    case invalidArgument(String)
    /// A manifest record that `regenerate(record:)` cannot replay.
    case badRecord(id: String, reason: String)

    public var description: String {
        switch self {
        case let .noMasks(s, r): return "\(s): no usable defect masks: \(r)"
        case let .noGoodImages(s): return "\(s): no good images (.png/.jpg/.jpeg) to paint defects onto"
        case let .unreadable(f, r): return "\(f): cannot read: \(r)"
        case let .methodUnavailable(m, r): return "method \(m) cannot run: \(r)"
        case let .invalidArgument(r): return r
        case let .badRecord(id, r): return "manifest record \(id): \(r)"
        }
    }

    public var errorDescription: String? { description }
}
