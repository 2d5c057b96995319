import Foundation

/// Errors of the store. Each names the table, record or column involved; the service maps `notFound` to 404,
/// `conflict` to 409, `unavailable` to 503 and the rest to 500 with the message logged.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    /// A record that does not exist: kind ("product", "inspection", ...) and the key asked for.
    case notFound(kind: String, key: String)
    /// A unique name or state rule was broken (a product name that exists, a review of an undone review, ...).
    case conflict(String)
    /// The database cannot be reached or refused the connection; the operation did not happen.
    case unavailable(location: String, reason: String)
    /// A stored value of the wrong type or a missing column: the database was changed outside the store.
    case corruptRow(column: String, problem: String)
    /// The database's schema is newer than this program knows.
    case schemaTooNew(location: String, found: Int, known: Int)
    /// A blob whose content does not match its name, or a name that is not a SHA-256.
    case badBlob(String)
    case closed(location: String)
    /// A value the caller gave that the store refuses (a bad product name, a non-finite threshold).
    case invalid(field: String, problem: String)
    /// A statement the database refused for another reason (a bug of the store, reported with the engine's text).
    case queryFailed(location: String, reason: String)

    public var description: String {
        switch self {
        case let .notFound(kind, key): return "no \(kind) '\(key)'"
        case let .conflict(message): return message
        case let .unavailable(location, reason): return "the database \(location) is unavailable: \(reason)"
        case let .corruptRow(column, problem): return "a stored row is damaged: column '\(column)' \(problem)"
        case let .schemaTooNew(location, found, known):
            return "the database \(location) has schema version \(found); this program knows versions up to \(known) (upgrade patchcore)"
        case let .badBlob(message): return message
        case let .closed(location): return "the database \(location) is closed"
        case let .invalid(field, problem): return "\(field): \(problem)"
        case let .queryFailed(location, reason): return "the database \(location) refused a statement: \(reason)"
        }
    }
}
