import Foundation
import ImageIO
import MemoryBank
import PatchFeatures
import Scoring
import TensorCore

/// An image that could not be used, and why.
public struct SkippedImage: Sendable, Codable, Equatable {
    public var file: String
    public var reason: String

    public init(file: String, reason: String) { self.file = file; self.reason = reason }
}

/// Fitting: features of every good image, greedy coreset, training-score statistics and threshold.
///
/// ```swift
/// let result = try PatchCoreTrainer.fit(config: config, weights: weightsURL, images: goodImageURLs)
/// try ModelFile.write(result.model, to: URL(fileURLWithPath: "bottle.safetensors"))
/// ```
public enum PatchCoreTrainer {
    public struct Result: Sendable {
        public var model: PatchCoreModel
        public var skipped: [SkippedImage]
        /// Patch rows before the coreset.
        public var patchCount: Int
        public var featureSeconds: Double
        public var coresetSeconds: Double
    }

    public static func fit(config: PatchCoreConfig, weights: URL, images: [URL], skipBad: Bool = false,
                           showProgress: Bool = true) throws -> Result {
        let extractor = try FeatureExtractor(config: config, weights: weights)
        return try fit(extractor: extractor, images: images, skipBad: skipBad, showProgress: showProgress)
    }

    public static func fit(extractor: FeatureExtractor, images: [URL], skipBad: Bool = false,
                           showProgress: Bool = true) throws -> Result {
        let config = extractor.config
        let start = Date()

        // 1. Patch features of every training image, appended into one (P, D) buffer.
        let training = try trainingFeatures(extractor: extractor, images: images, skipBad: skipBad, showProgress: showProgress)
        let all = training.features, grid = training.grid, used = training.imageCount, skipped = training.skipped
        let dimension = all.shape[1]
        let featureSeconds = Date().timeIntervalSince(start)

        // 2. Greedy coreset of the patch features.
        let coresetStart = Date()
        let bank = try DualBankBuilder.coreset(all, ratio: config.coresetRatio, projectionDimension: config.projectionDimension,
                                               seed: config.seed, label: "coreset", showProgress: showProgress)
        let coresetSeconds = Date().timeIntervalSince(coresetStart)

        // 3. Scores of the training images against the bank: normalisation statistics and threshold.
        let perImage = grid.patchesPerImage
        var trainScores: [Float] = []
        for i in 0..<used {
            let features = all.sliceRows(i * perImage, perImage)
            trainScores.append(try ImageScorer(config: config, bank: bank).imageScore(features: features))
        }
        let calibration = try ScoreCalibration.fit(referenceScores: trainScores, method: .minMax, threshold: .maxOfReference)
        let info = ModelInfo(weightsSHA256: extractor.weightsSHA256, gridHeight: grid.height, gridWidth: grid.width,
                             featureDimension: dimension, trainImageCount: used, trainPatchCount: all.shape[0],
                             calibration: calibration,
                             thresholdRule: "largest training-image score (accepts every training image)",
                             fitSeconds: Date().timeIntervalSince(start))
        let model = PatchCoreModel(config: config, info: info, bank: bank.features)
        return Result(model: model, skipped: skipped, patchCount: all.shape[0],
                      featureSeconds: featureSeconds, coresetSeconds: coresetSeconds)
    }
}

/// Patch features of a set of training images, all rows in one tensor.
public struct TrainingFeatures: Sendable {
    /// (imageCount * grid.patchesPerImage, D), rows (n, y, x).
    public var features: Tensor
    public var grid: PatchGrid
    /// Images read (unreadable ones are in `skipped`).
    public var imageCount: Int
    public var skipped: [SkippedImage]

    /// The (P, D) rows of image `i`.
    public func image(_ i: Int) -> Tensor { features.sliceRows(i * grid.patchesPerImage, grid.patchesPerImage) }
}

extension PatchCoreTrainer {
    /// Patch features of every image (one backbone pass each), for fitting or for an ablation that builds several
    /// banks from them (`DualBankBuilder`).
    public static func trainingFeatures(extractor: FeatureExtractor, images: [URL], skipBad: Bool = false,
                                        showProgress: Bool = true) throws -> TrainingFeatures {
        guard !images.isEmpty else { throw PatchCoreError.emptyTrainingSet("the training set lists no images") }
        var rows: [Float] = []
        var grid: PatchGrid?
        var skipped: [SkippedImage] = []
        var used = 0
        let progress = ProgressReporter("features", total: images.count, enabled: showProgress)
        for url in images {
            let image: Image
            do { image = try ImageFile.read(url) } catch {
                guard skipBad else { throw error }
                skipped.append(SkippedImage(file: url.path, reason: "\(error)"))
                progress.advance()
                continue
            }
            let set = try extractor.patchFeatures([extractor.prepare(image)])
            if rows.isEmpty { rows.reserveCapacity(images.count * set.features.count) }
            rows.append(contentsOf: set.features.scalars)
            grid = set.grid
            used += 1
            progress.advance()
        }
        progress.finish()
        guard let grid, used > 0 else {
            throw PatchCoreError.emptyTrainingSet("all \(images.count) training image(s) were unreadable")
        }
        let dimension = rows.count / (used * grid.patchesPerImage)
        return TrainingFeatures(features: Tensor(shape: [used * grid.patchesPerImage, dimension], scalars: rows),
                                grid: grid, imageCount: used, skipped: skipped)
    }
}

extension Tensor {
    /// Rows `indices` of a rank-2 tensor, in that order.
    func gatherRows(_ indices: [Int]) -> Tensor {
        let d = shape[1]
        var out = [Float](repeating: 0, count: indices.count * d)
        withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (r, i) in indices.enumerated() {
                    (dst.baseAddress! + r * d).update(from: src.baseAddress! + i * d, count: d)
                }
            }
        }
        return Tensor(shape: [indices.count, d], scalars: out)
    }

    /// `count` consecutive rows starting at `start` of a rank-2 tensor.
    func sliceRows(_ start: Int, _ count: Int) -> Tensor {
        let d = shape[1]
        return Tensor(shape: [count, d], scalars: Array(scalars[(start * d)..<((start + count) * d)]))
    }
}
