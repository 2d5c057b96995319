import Foundation
import Logging
import NIOCore
import PostgresNIO

/// PostgreSQL through postgres-nio's connection pool (`PostgresClient`), for several `serve` replicas on one
/// database. The pool runs in a task this driver owns; `close` ends it.
public final class PostgresDriver: SQLDriver {
    public let dialect = SQLDialect.postgres
    public let location: String
    let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger
    /// Longest wait for one query or transaction, connection included.
    let operationTimeout: Double

    /// Connects to `url` (`postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]`)
    /// and checks that the server answers.
    public static func connect(url: String, maximumConnections: Int = 8, operationTimeout: Double = 5,
                               logger: Logger = Logger(label: "patchcore.store")) async throws -> PostgresDriver {
        let settings = try PostgresURL(url)
        var configuration = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: settings.password,
            database: settings.database, tls: settings.tls)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        // The pool's own logger stays at error level: it warns when the first lease races the pool's start, which
        // is harmless (the lease waits) and would otherwise print on every start.
        var poolLogger = logger
        poolLogger.logLevel = .error
        let driver = PostgresDriver(client: PostgresClient(configuration: configuration, backgroundLogger: poolLogger),
                                    location: settings.redacted, logger: logger, operationTimeout: operationTimeout)
        do {
            _ = try await driver.query("SELECT 1 AS one", [])
        } catch {
            await driver.close()
            throw error
        }
        return driver
    }

    private init(client: PostgresClient, location: String, logger: Logger, operationTimeout: Double) {
        self.operationTimeout = operationTimeout
        self.client = client
        self.location = location
        self.logger = logger
        self.runner = Task { await client.run() }
    }

    @discardableResult
    public func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try await withDeadline {
            try await self.mapErrors {
                try await Self.collect(self.client.query(Self.statement(sql, binds), logger: self.logger))
            }
        }
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        try await withDeadline { try await self.runTransaction(body) }
    }

    private func runTransaction<T: Sendable>(_ body: @Sendable (any SQLExecutor) async throws -> T) async throws -> T {
        try await mapErrors {
            try await self.client.withConnection { connection in
                _ = try await connection.query("BEGIN", logger: self.logger)
                do {
                    let result = try await body(Executor(connection: connection, driver: self))
                    _ = try await connection.query("COMMIT", logger: self.logger)
                    return result
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: self.logger)
                    throw error
                }
            }
        }
    }

    public func close() async {
        runner.cancel()
        _ = await runner.value
    }

    private struct Executor: SQLExecutor {
        let connection: PostgresConnection
        let driver: PostgresDriver
        func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
            try await driver.mapErrors {
                try await PostgresDriver.collect(
                    connection.query(PostgresDriver.statement(sql, binds), logger: driver.logger))
            }
        }
    }

    static func statement(_ sql: String, _ binds: [SQLValue]) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            switch value {
            case .integer(let v): bindings.append(v)
            case .double(let v): bindings.append(v)
            case .text(let v): bindings.append(v)
            case .null: bindings.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: numberedPlaceholders(sql), binds: bindings)
    }

    static func collect(_ rows: PostgresRowSequence) async throws -> [SQLRow] {
        var out: [SQLRow] = []
        for try await row in rows {
            var values: [String: SQLValue] = [:]
            for cell in row {
                guard cell.bytes != nil else { values[cell.columnName] = .null; continue }
                switch cell.dataType {
                case .int2, .int4, .int8: values[cell.columnName] = .integer(try cell.decode(Int64.self))
                case .float4, .float8: values[cell.columnName] = .double(try cell.decode(Double.self))
                case .bool: values[cell.columnName] = .integer(try cell.decode(Bool.self) ? 1 : 0)
                default: values[cell.columnName] = .text(try cell.decode(String.self))
                }
            }
            out.append(SQLRow(values))
        }
        return out
    }

    /// postgres-nio's pool waits for a connection as long as it takes (it retries a server that is down), so every
    /// operation gets a deadline: past it the caller gets `StoreError.unavailable` (a 503, `/readyz` failing)
    /// instead of waiting with the client's request.
    func withDeadline<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let seconds = operationTimeout, location = self.location
        let once = ResumeOnce<T>()
        // Not a task group: a group waits for every child, and a lease waiting on a down server may not end when
        // cancelled. The caller is answered by whichever ends first; the other is cancelled and left to finish.
        return try await withCheckedThrowingContinuation { continuation in
            once.set(continuation)
            let work = Task {
                do { once.resume(.success(try await body())) } catch { once.resume(.failure(error)) }
            }
            let timer = Task {
                try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                if once.resume(.failure(StoreError.unavailable(location: location, reason: "no answer within \(seconds) s"))) {
                    work.cancel()
                }
            }
            once.onResume { timer.cancel() }
        }
    }

    /// PostgreSQL's errors -> `StoreError`: integrity violations (SQLSTATE class 23) are conflicts, other server
    /// errors failed statements, and everything about the connection means the database is unavailable.
    func mapErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError {
            if error.code == .server {
                let state = error.serverInfo?[.sqlState] ?? ""
                let message = error.serverInfo?[.message] ?? "\(error)"
                if state.hasPrefix("23") { throw StoreError.conflict(message) }
                // 57P01 admin shutdown, 08xxx connection exceptions, 53xxx insufficient resources.
                if state.hasPrefix("08") || state.hasPrefix("57") || state.hasPrefix("53") {
                    throw StoreError.unavailable(location: location, reason: message)
                }
                throw StoreError.queryFailed(location: location, reason: "\(message) (SQLSTATE \(state))")
            }
            throw StoreError.unavailable(location: location, reason: "\(error.code)")
        }
    }
}

/// The parts of a PostgreSQL URL; the password never appears in `redacted`.
struct PostgresURL {
    var host: String
    var port: Int
    var user: String
    var password: String?
    var database: String?
    var tls: PostgresClient.Configuration.TLS
    var redacted: String

    init(_ text: String) throws {
        guard let c = URLComponents(string: text), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme),
              let host = c.host, !host.isEmpty else {
            throw StoreError.unavailable(location: "(database URL)",
                                         reason: "expected postgres://user[:password]@host[:port]/database")
        }
        self.host = host
        self.port = c.port ?? 5432
        self.user = c.user ?? "postgres"
        self.password = c.password
        let path = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
        self.database = path.isEmpty ? nil : path
        let mode = c.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        switch mode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default:
            throw StoreError.unavailable(location: "(database URL)",
                                         reason: "sslmode '\(mode)' is not one of disable, prefer, require")
        }
        redacted = "postgres://\(user)@\(host):\(port)/\(database ?? "")"
    }
}

/// Resumes a continuation once, from whichever of several tasks gets there first.
final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    private var pending: Result<T, any Error>?
    private var resumed = false
    private var after: (@Sendable () -> Void)?

    func set(_ c: CheckedContinuation<T, any Error>) {
        let early: Result<T, any Error>? = lock.withLock {
            continuation = c
            return pending
        }
        if let early { c.resume(with: early) }
    }

    /// Runs `action` once the continuation is resumed (now, if it already was).
    func onResume(_ action: @escaping @Sendable () -> Void) {
        let now: Bool = lock.withLock {
            if resumed { return true }
            after = action
            return false
        }
        if now { action() }
    }

    /// True when this call resumed it.
    @discardableResult
    func resume(_ result: Result<T, any Error>) -> Bool {
        lock.lock()
        if resumed { lock.unlock(); return false }
        resumed = true
        if continuation == nil { pending = result }
        let c = continuation, action = after
        lock.unlock()
        c?.resume(with: result)
        action?()
        return true
    }
}
