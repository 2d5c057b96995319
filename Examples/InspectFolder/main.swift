// Fits PatchCore on a folder of good images and inspects another folder: score and decision per image.
// swift run -c release InspectFolder GOOD_DIR NEW_DIR
import Foundation
import PatchCore

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: InspectFolder GOOD_DIR NEW_DIR")
    exit(2)
}
let good = try DatasetLoader.imageFiles(in: URL(fileURLWithPath: arguments[1]), recursive: true)
let new = try DatasetLoader.imageFiles(in: URL(fileURLWithPath: arguments[2]), recursive: true)

let config = try PatchCorePipeline.defaultConfig(backbone: "mobilenet_v2")
let weights = try WeightsCatalog.locate("mobilenet_v2")          // `patchcore weights fetch mobilenet_v2`
let fit = try PatchCoreTrainer.fit(config: config, weights: weights, good: ImageSource.files(good))
let scorer = try PatchCoreScorer(model: fit.model, weights: weights)
print("threshold \(fit.model.calibration.threshold): \(fit.model.calibration.provenance)")

for url in new {
    let p = try scorer.predict(.file(url))
    print("\(p.decision.rawValue)\t\(String(format: "%.3f", p.score))\t\(String(format: "%.2f", p.normalizedScore))\t\(url.lastPathComponent)")
}
