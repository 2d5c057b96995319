import Foundation

/// Progress of a long loop as `label  done/total  rate/s  ETA`, redrawn in place on a terminal.
///
/// Quiet when standard error is not a terminal or `CI` is set, so CI logs stay readable; `finish()` then prints
/// one summary line.
///
/// ```swift
/// let progress = ProgressReporter("features", total: urls.count)
/// for url in urls { ...; progress.advance() }
/// progress.finish()
/// ```
public final class ProgressReporter: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let start = Date()
    private var done = 0
    private var lastDraw = Date.distantPast
    private let lock = NSLock()
    private let interactive: Bool
    private let enabled: Bool

    public init(_ label: String, total: Int, enabled: Bool = true) {
        self.label = label
        self.total = total
        self.enabled = enabled
        self.interactive = enabled && isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["CI"] == nil
    }

    public func advance(by n: Int = 1) { update(to: nil, delta: n) }

    /// Sets the absolute count (for callbacks that report `done`).
    public func update(_ done: Int) { update(to: done, delta: 0) }

    private func update(to absolute: Int?, delta: Int) {
        lock.lock(); defer { lock.unlock() }
        done = absolute ?? (done + delta)
        guard interactive else { return }
        let now = Date()
        if now.timeIntervalSince(lastDraw) < 0.1 && done < total { return }
        lastDraw = now
        FileHandle.standardError.write(Data(("\r" + line(now: now) + "\u{1B}[K").utf8))
    }

    public func finish() {
        lock.lock(); defer { lock.unlock() }
        guard enabled else { return }
        let text = line(now: Date())
        FileHandle.standardError.write(Data(((interactive ? "\r" : "") + text + (interactive ? "\u{1B}[K" : "") + "\n").utf8))
    }

    private func line(now: Date) -> String {
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var s = "\(label)  \(done)/\(total)  \(String(format: rate >= 10 ? "%.0f" : "%.2f", rate))/s"
        if done < total, rate > 0 { s += "  ETA \(Self.format(Double(total - done) / rate))" } else { s += "  \(Self.format(elapsed))" }
        return s
    }

    static func format(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
             : s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : String(format: "%.1fs", seconds)
    }
}
