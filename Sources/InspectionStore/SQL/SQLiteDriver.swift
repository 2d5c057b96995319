import Foundation
import Logging
import SQLiteNIO

/// The embedded store: one SQLite file (sqlite-nio) in WAL mode with `synchronous=FULL`, so a committed row
/// survives a kill -9 and a power cut. One connection, one transaction at a time (`SerialGate`).
public final class SQLiteDriver: SQLDriver {
    public let dialect = SQLDialect.sqlite
    public let location: String
    private let connection: SQLiteConnection
    private let gate = SerialGate()

    private init(connection: SQLiteConnection, location: String) {
        self.connection = connection
        self.location = location
    }

    /// Opens (creating when missing) the database file at `path`.
    public static func open(path: String, logger: Logger = Logger(label: "patchcore.store")) async throws -> SQLiteDriver {
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        } catch {
            throw StoreError.unavailable(location: path, reason: "\(error)")
        }
        let driver = SQLiteDriver(connection: connection, location: path)
        do {
            // busy_timeout: another process (a second `serve` on the same folder, the sqlite3 shell) may hold the
            // write lock for a moment.
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON",
                           "PRAGMA busy_timeout=5000"] {
                _ = try await connection.query(pragma, [])
            }
        } catch {
            try? await connection.close()
            throw StoreError.unavailable(location: path, reason: "\(error)")
        }
        return driver
    }

    @discardableResult
    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await gate.withLock { try await self.run(sql, binds) }
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        try await gate.withLock {
            // IMMEDIATE takes the write lock now, so two transactions never both read and then fail to write.
            _ = try await self.run("BEGIN IMMEDIATE", [])
            do {
                let result = try await body(Executor(driver: self))
                _ = try await self.run("COMMIT", [])
                return result
            } catch {
                _ = try? await self.run("ROLLBACK", [])
                throw error
            }
        }
    }

    public func close() async {
        await gate.acquire()
        try? await connection.close()
        await gate.release()
    }

    /// Statements inside a transaction: the gate is already held.
    private struct Executor: SQLExecutor {
        let driver: SQLiteDriver
        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] { try await driver.run(sql, binds) }
    }

    private func run(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        guard !connection.isClosed else { throw StoreError.closed(location: location) }
        let data: [SQLiteData] = binds.map {
            switch $0 {
            case .integer(let v): return .integer(Int(v))
            case .double(let v): return .float(v)
            case .text(let v): return .text(v)
            case .null: return .null
            }
        }
        let rows: [SQLiteRow]
        do {
            rows = try await connection.query(sql, data)
        } catch let error as SQLiteError {
            throw Self.storeError(error, location: location)
        }
        return rows.map { row in
            var values: [String: SQLValue] = [:]
            for column in row.columns {
                switch column.data {
                case .integer(let v): values[column.name] = .integer(Int64(v))
                case .float(let v): values[column.name] = .double(v)
                case .text(let v): values[column.name] = .text(v)
                case .blob(let b): values[column.name] = .text(String(decoding: b.readableBytesView, as: UTF8.self))
                case .null: values[column.name] = .null
                }
            }
            return SQLRow(values)
        }
    }

    private static func storeError(_ error: SQLiteError, location: String) -> StoreError {
        let reason = "\(error.reason)"
        if reason.hasPrefix("constraint") { return .conflict(error.message) }
        if ["busy", "locked", "cantOpen", "ioError", "full", "readOnly", "readonly", "notADatabase", "corrupt",
            "noMemory", "permission"].contains(where: reason.hasPrefix) {
            return .unavailable(location: location, reason: error.message)
        }
        return .queryFailed(location: location, reason: error.message)
    }
}
