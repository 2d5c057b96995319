import Foundation

/// A value bound to, or read from, a SQL statement. The store's queries are written once with `?` placeholders and
/// run unchanged on SQLite and PostgreSQL, so they only use the types both have: 64-bit integers, doubles, text and
/// NULL (times are integer milliseconds since 1970, booleans 0/1, JSON documents text).
public enum SQLValue: Sendable, Equatable, CustomStringConvertible {
    case integer(Int64)
    case double(Double)
    case text(String)
    case null

    public var description: String {
        switch self {
        case .integer(let v): return String(v)
        case .double(let v): return String(v)
        case .text(let v): return "'\(v)'"
        case .null: return "NULL"
        }
    }
}

/// Values that bind as a `SQLValue`.
public protocol SQLBindable: Sendable { var sqlValue: SQLValue { get } }
extension Int: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { public var sqlValue: SQLValue { .integer(self) } }
extension Double: SQLBindable { public var sqlValue: SQLValue { .double(self) } }
extension Float: SQLBindable { public var sqlValue: SQLValue { .double(Double(self)) } }
extension String: SQLBindable { public var sqlValue: SQLValue { .text(self) } }
extension Bool: SQLBindable { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension SQLValue: SQLBindable { public var sqlValue: SQLValue { self } }
extension Optional: SQLBindable where Wrapped: SQLBindable {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// One result row, columns by name. Typed getters throw `StoreError.corruptRow` naming the column when a stored
/// value has the wrong type, so a damaged database is reported, never trapped on.
public struct SQLRow: Sendable {
    public var values: [String: SQLValue]

    public init(_ values: [String: SQLValue]) { self.values = values }

    public func value(_ column: String) throws -> SQLValue {
        guard let v = values[column] else { throw StoreError.corruptRow(column: column, problem: "missing") }
        return v
    }

    public func int(_ column: String) throws -> Int64 {
        switch try value(column) {
        case .integer(let v): return v
        case .double(let v) where v.rounded() == v && abs(v) < 9.0e15: return Int64(v)
        case let other: throw StoreError.corruptRow(column: column, problem: "expected an integer, found \(other)")
        }
    }

    public func optionalInt(_ column: String) throws -> Int64? {
        if case .null = try value(column) { return nil }
        return try int(column)
    }

    public func double(_ column: String) throws -> Double {
        switch try value(column) {
        case .double(let v): return v
        case .integer(let v): return Double(v)
        case let other: throw StoreError.corruptRow(column: column, problem: "expected a number, found \(other)")
        }
    }

    public func optionalDouble(_ column: String) throws -> Double? {
        if case .null = try value(column) { return nil }
        return try double(column)
    }

    public func text(_ column: String) throws -> String {
        switch try value(column) {
        case .text(let v): return v
        case let other: throw StoreError.corruptRow(column: column, problem: "expected text, found \(other)")
        }
    }

    public func optionalText(_ column: String) throws -> String? {
        if case .null = try value(column) { return nil }
        return try text(column)
    }

    public func bool(_ column: String) throws -> Bool { try int(column) != 0 }
}
