import Foundation

/// The two SQL engines the store runs on. The schema and every query are written once; the few places where the
/// engines differ (identity columns, row locking of job claims, notifications) ask the dialect.
public enum SQLDialect: String, Sendable {
    case sqlite
    case postgres
}

/// Runs statements inside one transaction (or, outside `transaction`, each on its own).
public protocol SQLExecutor: Sendable {
    /// Runs a statement with `?` placeholders bound to `binds` in order; rows of a SELECT or of RETURNING.
    @discardableResult
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]
}

extension SQLExecutor {
    @discardableResult
    public func query(_ sql: String, _ binds: any SQLBindable...) async throws -> [SQLRow] {
        try await query(sql, binds.map(\.sqlValue))
    }

    public func queryOne(_ sql: String, _ binds: any SQLBindable...) async throws -> SQLRow? {
        try await query(sql, binds.map(\.sqlValue)).first
    }
}

/// One database: SQLite (`SQLiteDriver`) or PostgreSQL (`PostgresDriver`). The store's single implementation of
/// every operation runs on either.
public protocol SQLDriver: SQLExecutor {
    var dialect: SQLDialect { get }
    /// Where it is, without secrets (a PostgreSQL URL's password is never printed).
    var location: String { get }
    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) async throws -> T) async throws -> T
    /// Ends the connections; later calls fail with `StoreError.closed`.
    func close() async
}

/// `?` placeholders -> PostgreSQL's `$1, $2, ...` (outside quoted literals and identifiers).
func numberedPlaceholders(_ sql: String) -> String {
    var out = ""
    out.reserveCapacity(sql.count + 16)
    var n = 0
    var quote: Character? = nil
    for c in sql {
        if let q = quote {
            if c == q { quote = nil }
            out.append(c)
        } else if c == "'" || c == "\"" {
            quote = c
            out.append(c)
        } else if c == "?" {
            n += 1
            out += "$\(n)"
        } else {
            out.append(c)
        }
    }
    return out
}
