import ArgumentParser
import Foundation
import PatchCore
import TensorCore

@main
struct PatchCoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patchcore",
        abstract: "Industrial anomaly detection with PatchCore: fit on good images, score new ones, evaluate.",
        subcommands: [Fit.self, Predict.self, Evaluate.self, Synthesize.self, Review.self, Ablation.self, Weights.self, Demo.self])

    /// Interrupts remove this run's temporary files; errors reach the user in words, never as Foundation dumps.
    static func main() {
        InterruptCleanup.install()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: UserFacingError.translate(error))
        }
    }
}
