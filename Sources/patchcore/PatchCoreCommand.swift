import ArgumentParser
import Foundation
import PatchCore
import TensorCore

@main
struct PatchCoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patchcore",
        abstract: "Industrial anomaly detection with PatchCore: fit on good images, score new ones, evaluate.",
        subcommands: [Fit.self, Predict.self, Evaluate.self, Synthesize.self, Review.self, Ablation.self, Weights.self, Demo.self, Serve.self])

    /// Interrupts remove this run's temporary files; errors reach the user in words, never as Foundation dumps.
    /// Standard output is line-buffered even into a pipe, so `| tee` or a supervising process sees each result
    /// line when it is scored, not when a 4 KB buffer fills or the run ends.
    static func main() {
        lineBufferStandardOutput()
        do {
            var command = try parseAsRoot()
            // `serve` shuts down gracefully on SIGTERM / SIGINT itself (swift-service-lifecycle).
            if !(command is Serve) { InterruptCleanup.install() }
            try command.run()
        } catch {
            exit(withError: UserFacingError.translate(error))
        }
    }
}

/// `setvbuf(stdout, nil, _IOLBF, 0)`. Swift 6 refuses to name C's mutable global `stdout`, so the FILE pointer is
/// read through its exported symbol.
private func lineBufferStandardOutput() {
    guard let symbol = dlsym(nil, "stdout"),
          let file = symbol.assumingMemoryBound(to: UnsafeMutablePointer<FILE>?.self).pointee else { return }
    setvbuf(file, nil, _IOLBF, 0)
}
