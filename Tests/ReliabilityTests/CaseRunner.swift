import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One line of `cases.jsonl` (format: scripts/make_malformed_corpus.py, bench/CORPUS.md).
struct CorpusCase: Decodable, Sendable {
    var id: String
    var `class`: String
    var description: String
    var inputs: [String]
    var argv: [String]
    var expect: String
    var names: [String]
    var stdin: String?
    var timeout_s: Double?
    var env: [String: String]?
}

/// What one run of a case did.
struct CaseOutcome: Sendable {
    enum End: Sendable, Equatable { case exited(Int32), signalled(Int32), timedOut }
    var end: End
    var seconds: Double
    var stderr: String
}

/// Runs an executable in its own process group with a wall-clock limit; on time-out the whole group is killed.
/// Standard output and error go to files (no pipe can fill and block the child).
enum CaseProcess {
    static func run(executable: String, arguments: [String], stdin: String?, workDir: URL,
                    timeout: Double, environment: [String: String] = [:]) throws -> CaseOutcome {
        let errURL = workDir.appendingPathComponent(".stderr"), outURL = workDir.appendingPathComponent(".stdout")
        let inURL = workDir.appendingPathComponent(".stdin")
        try Data((stdin ?? "").utf8).write(to: inURL)

        #if os(Linux)
        var attr = posix_spawnattr_t()
        var actions = posix_spawn_file_actions_t()
        #else
        var attr: posix_spawnattr_t? = nil
        var actions: posix_spawn_file_actions_t? = nil
        #endif
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin == nil ? "/dev/null" : inURL.path, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let envp: [UnsafeMutablePointer<CChar>?] = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let start = DispatchTime.now()
        let rc = posix_spawn(&pid, executable, &actions, &attr, argv, envp)
        guard rc == 0 else {
            throw NSError(domain: "CaseProcess", code: Int(rc),
                          userInfo: [NSLocalizedDescriptionKey: "posix_spawn \(executable): \(String(cString: strerror(rc)))"])
        }
        // waitpid blocks on another thread; this one waits for it with the time limit (no polling).
        final class Box: @unchecked Sendable { var status: Int32 = 0 }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let child = pid
        Thread.detachNewThread {
            var status: Int32 = 0
            while waitpid(child, &status, 0) == -1 && errno == EINTR {}
            box.status = status
            done.signal()
        }
        var timedOut = false
        if done.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            kill(-child, SIGKILL)
            done.wait()
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        // Anything still alive in the group (a grandchild) goes too.
        kill(-child, SIGKILL)
        let errData = (try? FileHandle(forReadingFrom: errURL).readData(ofLength: 256 * 1024)) ?? Data()
        let stderr = String(decoding: errData, as: UTF8.self)
        let status = box.status
        let end: CaseOutcome.End
        if timedOut {
            end = .timedOut
        } else if status & 0x7F == 0 {
            end = .exited((status >> 8) & 0xFF)
        } else {
            end = .signalled(status & 0x7F)
        }
        return CaseOutcome(end: end, seconds: seconds, stderr: stderr)
    }
}

/// The verdict on one case: nil when it passed, else why not.
enum CaseCheck {
    /// Text that must never reach a user: Foundation's raw error rendering and Swift runtime traps.
    static let rawErrorText = ["NSCocoaErrorDomain", "Error Domain=", "NSError", "Fatal error", "Swift/"]

    /// Whether `text` names `name`: any of its "|"-separated alternatives appears; an option "--foo-bar" is also
    /// named by "foo bar" or "foo_bar" in any case (messages that say "coreset ratio must be in (0, 1]").
    static func names(_ name: String, in text: String) -> Bool {
        name.split(separator: "|", omittingEmptySubsequences: true).contains { alternative in
            let a = String(alternative)
            if text.contains(a) { return true }
            guard a.hasPrefix("--") else { return false }
            let word = a.dropFirst(2).lowercased(), lower = text.lowercased()
            return lower.contains(word.replacingOccurrences(of: "-", with: " "))
                || lower.contains(word.replacingOccurrences(of: "-", with: "_"))
        }
    }

    /// `names` are already substituted (placeholders replaced by paths).
    static func failure(of c: CorpusCase, names: [String], _ o: CaseOutcome) -> String? {
        switch o.end {
        case .timedOut: return "hang (killed after \(String(format: "%.1f", o.seconds)) s)"
        case let .signalled(s): return "crash (signal \(s))"
        case let .exited(status):
            if let raw = rawErrorText.first(where: { o.stderr.contains($0) }) {
                return "raw error text '\(raw)' (exit \(status))"
            }
            let missing = names.filter { !Self.names($0, in: o.stderr) }
            switch c.expect {
            case "ok":
                return status == 0 ? nil : "expected success, exit \(status)"
            case "error":
                if status == 0 { return "expected an error, exit 0" }
                return missing.isEmpty ? nil : "exit \(status), error does not name \(missing)"
            default: // "any"
                if status == 0 { return nil }
                return missing.isEmpty ? nil : "exit \(status), error does not name \(missing)"
            }
        }
    }
}
