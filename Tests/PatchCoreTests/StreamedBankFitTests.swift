import Foundation
import PatchCore
import Testing

/// Fitting past `FitOptions.featureMemory` on the demo data with the real MobileNetV2 weights: the bank is built
/// chunk by chunk, recorded in the model file, scores as well as the plain bank, and the stages that need every
/// training image's features (calibration on the training images, the dual log-ratio statistics) extract them again.
@Suite(.serialized) struct StreamedBankFitTests {
    let fixture: LibraryFixture.Shared
    init() throws { fixture = try LibraryFixture.shared() }

    var train: [URL] { fixture.data.train.map(\.image) }

    /// Feature bytes of `images` training images of the demo geometry (every image has the same grid).
    func bytes(ofImages images: Int, _ plain: FitResult) -> Int {
        plain.patchCount / plain.model.info.trainImageCount * plain.model.info.featureDimension * 4 * images
    }

    @Test func aBankPastTheFeatureMemoryIsStreamedRecordedAndScoresLikeThePlainOne() throws {
        let extractor = try LibraryFixture.extractor(try LibraryFixture.config())
        let plain = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(train))
        #expect(plain.streamedBank == nil)
        // A memory larger than the features changes nothing: the same model, byte for byte.
        let roomy = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(train),
                                             options: FitOptions(featureMemory: bytes(ofImages: 35, plain)))
        #expect(roomy.model == plain.model && roomy.model.id == plain.model.id && roomy.streamedBank == nil)

        // 35 bank images, a chunk every 8: reduced at 8, 16, 24, 32 and the last 3 at the end.
        let log = ProgressLog()
        let streamed = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(train),
                                                options: FitOptions(featureMemory: bytes(ofImages: 8, plain)), progress: log.handler)
        let record = try #require(streamed.streamedBank)
        #expect(record.chunks == 5 && record.oversampling == 2 && record.chunkBytes == bytes(ofImages: 8, plain))
        #expect(streamed.model.banks.normal.count == plain.model.banks.normal.count)
        #expect(streamed.patchCount == plain.patchCount && streamed.model.info.trainPatchCount == plain.patchCount)
        #expect(streamed.model.id != plain.model.id)
        #expect(streamed.notes.contains { $0.contains("5 chunks") })
        // One coreset stage per pass: 4 chunks while reading, then the last chunk and the final pass.
        #expect(log.all.filter { $0.stage == .coreset && $0.isFinished }.count == 6)
        #expect(streamed.calibrationImages == plain.calibrationImages)

        // The record survives the model file, and a file claiming a nonsense record is refused by name.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("streamed-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try ModelFile.write(streamed.model, to: url)
        #expect(try ModelFile.read(url) == streamed.model)
        var bad = streamed.model
        bad.info.streamedBank?.chunks = 0
        try ModelFile.write(bad, to: url)
        #expect { try ModelFile.read(url) } throws: { "\($0)".contains("model.streamed_bank") }

        // Scores as well as the plain bank on the demo test set.
        func auroc(_ model: PatchCoreModel) throws -> (Double, Double?) {
            let report = try PatchCoreEvaluator.evaluate(scorer: try PatchCoreScorer(model: model, extractor: extractor),
                                                         samples: fixture.data.test, fitSeconds: 0).report
            return (report.imageAUROC, report.pixelAUROC)
        }
        let (plainImage, plainPixel) = try auroc(plain.model), (streamedImage, streamedPixel) = try auroc(streamed.model)
        print("demo: plain image/pixel AUROC \(plainImage)/\(plainPixel ?? .nan), streamed \(streamedImage)/\(streamedPixel ?? .nan)")
        #expect(streamedImage >= plainImage - 0.02)
        #expect((streamedPixel ?? 0) >= (plainPixel ?? 1) - 0.02)
    }

    /// With the training images setting the threshold, their features are extracted again: the recorded good scores
    /// are exactly the scores `predict` gives those images with the fitted model.
    @Test func calibrationOnStreamedTrainingImagesMatchesPredict() throws {
        let extractor = try LibraryFixture.extractor(try LibraryFixture.config())
        let images = Array(train.prefix(12))
        var options = FitOptions(calibration: .trainingImages)
        options.featureMemory = 1 << 20     // about 2 demo images a chunk
        let result = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(images), options: options)
        #expect((result.streamedBank?.chunks ?? 0) >= 4)
        let scorer = try PatchCoreScorer(model: result.model, extractor: extractor)
        let predicted = try images.map { try scorer.predict(.file($0)).score }
        #expect(result.model.calibration.goodScores.sorted() == predicted.sorted())
    }

    @Test func dualFitStreamsTheNormalBankAndCalibratesTheLogRatio() throws {
        let extractor = try LibraryFixture.extractor(try LibraryFixture.config())
        let options = FitOptions(positives: try LibraryFixture.positives(count: 3), featureMemory: 1 << 20)
        let result = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(Array(train.prefix(16))),
                                              options: options)
        #expect(result.model.isDual && result.streamedBank != nil)
        let (_, dual) = try #require(result.model.banks.positive)
        #expect(dual.scoring.logRatioCalibration != nil)
        #expect(result.model.banks.normal.count == Int(Double(result.patchCount) * DualFitOptions.defaultNegativeCoresetRatio))
    }
}
