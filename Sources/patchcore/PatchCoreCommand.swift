import ArgumentParser
import Foundation
import PatchCore

@main
struct PatchCoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patchcore",
        abstract: "Industrial anomaly detection with PatchCore: fit on good images, score new ones, evaluate.",
        subcommands: [Fit.self, Predict.self, Evaluate.self, Synthesize.self, Review.self, Ablation.self, Weights.self, Demo.self])
}
