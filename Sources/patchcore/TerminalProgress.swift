import Foundation
import PatchCore

/// Draws the library's progress reports on standard error: redrawn in place on a terminal, one summary line per
/// finished stage otherwise (or when `CI` is set), so logs stay readable.
///
/// ```swift
/// let progress = TerminalProgress()
/// let result = try PatchCoreTrainer.fit(extractor: e, good: images, progress: progress.handler)
/// ```
final class TerminalProgress: @unchecked Sendable {
    private let lock = NSLock()
    private let interactive = isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["CI"] == nil
    private var lastDraw = Date.distantPast

    var handler: ProgressHandler { { [self] in self.show($0) } }

    private func show(_ p: ProgressReport) {
        lock.lock(); defer { lock.unlock() }
        let line = Self.line(p)
        if interactive {
            let now = Date()
            guard p.isFinished || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
            lastDraw = now
            FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K" + (p.isFinished ? "\n" : "")).utf8))
        } else if p.isFinished {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    static func line(_ p: ProgressReport) -> String {
        var s = "\(p.stage.rawValue.replacingOccurrences(of: "_", with: " "))  \(p.done)/\(p.total)  \(String(format: p.rate >= 10 ? "%.0f" : "%.2f", p.rate))/s"
        if !p.isFinished, p.rate > 0 { s += "  ETA \(format(Double(p.total - p.done) / p.rate))" } else { s += "  \(format(p.elapsed))" }
        return s
    }

    static func format(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
             : s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : String(format: "%.1fs", seconds)
    }
}
