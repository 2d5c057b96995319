import Foundation
import InspectionStore

/// The two engines every store and service test runs against.
public enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres
    public var description: String { rawValue }
}

/// Fresh, empty databases for tests: a SQLite file in a temporary folder, or a new database on the test PostgreSQL
/// server (`PATCHCORE_TEST_POSTGRES_URL`, which `make test` sets; otherwise `scripts/test-postgres.sh start` starts
/// one on loopback). Nothing is mocked: both are the real engines.
public enum TestDatabases {
    /// The test server's URL (its maintenance database `patchcore`).
    public static func postgresServerURL() throws -> String {
        if let url = ProcessInfo.processInfo.environment["PATCHCORE_TEST_POSTGRES_URL"], !url.isEmpty { return url }
        return try startedServerURL.get()
    }

    private static let startedServerURL: Result<String, any Error> = Result { try serverScript("start") }

    /// Runs `scripts/test-postgres.sh COMMAND` (start, pause: stop keeping the data, ...) and returns its output.
    @discardableResult
    public static func serverScript(_ command: String) throws -> String {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/test-postgres.sh")
        // Output to files, not pipes: a server that `start` launches must not hold a pipe of ours open.
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("pg-script-\(UUID().uuidString).out")
        let err = URL(fileURLWithPath: out.path + ".err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: err) }
        let process = Process()
        // In its own session: started from the test process, pg_ctl (under runuser) did not return otherwise.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["-w", "/bin/bash", script.path, command]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        // Reaped here with waitpid: in a process that has run a service, Foundation's own reaping of this child did
        // not happen (it stayed a zombie and `isRunning` true), so the wait never ended.
        let pid = process.processIdentifier
        let deadline = Date().addingTimeInterval(60)
        var exitStatus: Int32? = nil
        while exitStatus == nil, Date() < deadline {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            } else if r == -1, errno == ECHILD {
                exitStatus = process.isRunning ? nil : process.terminationStatus   // Foundation reaped it first
                if exitStatus == nil { usleep(20_000) }
            } else {
                usleep(20_000)
            }
        }
        guard exitStatus == 0 else {
            if exitStatus == nil { kill(pid, SIGKILL) }
            throw TestDatabaseError("scripts/test-postgres.sh \(command) failed (\(exitStatus.map { "exit \($0)" } ?? "timed out")): \((try? String(contentsOf: err, encoding: .utf8)) ?? "")")
        }
        return ((try? String(contentsOf: out, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A URL of a new, empty PostgreSQL database (dropped by `dropPostgresDatabase`).
    public static func newPostgresDatabase() async throws -> (url: String, name: String) {
        let server = try postgresServerURL()
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        let admin = try await PostgresDriver.connect(url: server, maximumConnections: 1)
        try await admin.query("CREATE DATABASE \(name)", [])
        await admin.close()
        return (server.replacingOccurrences(of: "/patchcore?", with: "/\(name)?"), String(name))
    }

    public static func dropPostgresDatabase(_ name: String) async {
        guard let server = try? postgresServerURL(),
              let admin = try? await PostgresDriver.connect(url: server, maximumConnections: 1) else { return }
        _ = try? await admin.query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", [])
        await admin.close()
    }

    /// Runs `body` with a migrated store on an empty database of `backend` and a temporary data folder.
    public static func withStore<T>(_ backend: Backend,
                                    _ body: (InspectionStore, URL, String?) async throws -> T) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        switch backend {
        case .sqlite:
            let store = try await InspectionStore.open(databaseURL: nil, dataDirectory: folder)
            do {
                let result = try await body(store, folder, nil)
                await store.close()
                return result
            } catch {
                await store.close()
                throw error
            }
        case .postgres:
            let (url, name) = try await newPostgresDatabase()
            let store = try await InspectionStore.open(databaseURL: url, dataDirectory: folder)
            do {
                let result = try await body(store, folder, url)
                await store.close()
                await dropPostgresDatabase(name)
                return result
            } catch {
                await store.close()
                await dropPostgresDatabase(name)
                throw error
            }
        }
    }
}

public struct TestDatabaseError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
