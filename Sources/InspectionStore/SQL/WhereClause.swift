/// A WHERE clause assembled from fixed fragments, each with its bound values. PostgreSQL cannot type a parameter
/// that appears only in `? IS NULL`, so optional filters add their condition only when set instead.
struct WhereClause {
    private(set) var conditions: [String] = []
    private(set) var binds: [SQLValue] = []

    mutating func add(_ condition: String, _ values: SQLValue...) {
        conditions.append(condition)
        binds += values
    }

    var sql: String { conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ") }
}
