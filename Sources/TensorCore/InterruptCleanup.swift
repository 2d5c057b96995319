import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Paths a process is writing and must not leave behind when it is interrupted: temporaries of atomic writes and
/// staging folders. `install()` (called once by an executable) turns SIGINT, SIGTERM and SIGHUP into: remove what is
/// registered, then die of the same signal (so the shell still sees "interrupted").
///
/// The handlers are Dispatch signal sources, not C signal handlers, so the removal runs as ordinary code on a
/// Dispatch thread while the interrupted work stops where it is. kill -9 cannot be caught: what it leaves is removed
/// by the next write into the same place (`AtomicFile.removeStaleTemporaries`), since the names carry the writer's pid.
public enum InterruptCleanup {
    private static let lock = NSLock()
    private nonisolated(unsafe) static var registered: [Int: String] = [:]
    private nonisolated(unsafe) static var nextToken = 0
    private nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []

    /// Registers `path` (a file, or a folder removed with its contents) for removal on interrupt; returns the token
    /// that `unregister` takes once the path is renamed into place or removed.
    public static func register(_ path: String) -> Int {
        lock.withLock {
            nextToken += 1
            registered[nextToken] = path
            return nextToken
        }
    }

    public static func unregister(_ token: Int) {
        _ = lock.withLock { registered.removeValue(forKey: token) }
    }

    /// The paths registered now (for tests and diagnostics).
    public static var pending: [String] { lock.withLock { Array(registered.values) } }

    /// Installs the handlers once; later calls do nothing.
    public static func install(signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]) {
        lock.withLock {
            guard sources.isEmpty else { return }
            for signalNumber in signals {
                // The default action must not run first: Dispatch sees the signal only while it is ignored.
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
                source.setEventHandler { cleanUpAndDie(of: signalNumber) }
                source.resume()
                sources.append(source)
            }
        }
    }

    /// Removes every registered path now; returns those removed.
    @discardableResult
    public static func removeRegistered() -> [String] {
        let paths = lock.withLock { () -> [String] in
            let values = Array(registered.values)
            registered.removeAll()
            return values
        }
        var removed: [String] = []
        for path in paths where (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
        return removed
    }

    private static func cleanUpAndDie(of signalNumber: Int32) {
        removeRegistered()
        signal(signalNumber, SIG_DFL)
        // This runs on a Dispatch worker, which blocks signals: unblock it here or raise only leaves it pending.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signalNumber)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(signalNumber)
        // Not reached for the default actions of SIGINT/SIGTERM/SIGHUP; exit as a shell would report it anyway.
        exit(128 + signalNumber)
    }
}
