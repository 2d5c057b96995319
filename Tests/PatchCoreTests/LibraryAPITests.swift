import Foundation
import PatchCore
import Testing

/// The embeddable library on the demo data with the real MobileNetV2 weights: in-memory sources, one fit entry
/// point, cancellation, concurrent scoring with a model swap, the heatmap scale, and older model files.
@Suite(.serialized) struct LibraryAPITests {
    let fixture: LibraryFixture.Shared
    init() throws { fixture = try LibraryFixture.shared() }

    var train: [URL] { fixture.data.train.map(\.image) }

    @Test func bytesAndPixelsFitTheSameModelAsFiles() throws {
        let extractor = try LibraryFixture.extractor(try LibraryFixture.config())
        let files = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(train))
        let bytes = try PatchCoreTrainer.fit(extractor: extractor, good: try train.map {
            .encoded(try Data(contentsOf: $0), name: $0.path)
        })
        let pixels = try PatchCoreTrainer.fit(extractor: extractor, good: try train.map { .decoded(try ImageFile.read($0), name: $0.path) })
        let deferred = try PatchCoreTrainer.fit(extractor: extractor, good: train.map { url in
            .deferred(name: url.path) { try Data(contentsOf: url) }
        })
        #expect(files.model.banks == bytes.model.banks && files.model.banks == pixels.model.banks)
        #expect(deferred.model == files.model)
        #expect(files.model.calibration.threshold == bytes.model.calibration.threshold)
        #expect(files.model.id == bytes.model.id)
        // 10% of 40, at least 5, held out and named; the bank saw the other 35.
        #expect(files.calibrationImages.count == 5 && files.model.info.trainImageCount == 35)
        #expect(files.model.calibration.provenance.rule == .falseRejectRate)
        #expect(files.model.calibration.goodScores.count == 5)
        // Scoring from bytes and from the file agree.
        let scorer = try PatchCoreScorer(model: files.model, extractor: extractor)
        let test = fixture.data.test[0].image
        let a = try scorer.predict(.file(test)), b = try scorer.predict(.encoded(try Data(contentsOf: test), name: "upload"))
        #expect(a.score == b.score && b.source == "upload" && a.source == test.path)
    }

    /// Evaluation from bytes in memory gives the report evaluation from the data set's files gives.
    @Test func evaluateFromMemoryEqualsEvaluateFromFiles() throws {
        let extractor = try LibraryFixture.extractor(try LibraryFixture.config())
        let model = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(train)).model
        let scorer = try PatchCoreScorer(model: model, extractor: extractor)
        let test = fixture.data.test
        let files = try PatchCoreEvaluator.evaluate(scorer: scorer, samples: test, fitSeconds: 0)
        let memory = try PatchCoreEvaluator.evaluate(scorer: scorer, images: try test.map {
            LabelledImage(image: .encoded(try Data(contentsOf: $0.image), name: $0.image.path),
                          mask: try $0.mask.map { .decoded(try ImageFile.read($0), name: $0.path) },
                          label: $0.label, defectType: $0.defectType)
        }, fitSeconds: 0)
        #expect(files.records.map(\.score) == memory.records.map(\.score))
        #expect(files.report.imageAUROC == memory.report.imageAUROC && files.report.pixelAUROC == memory.report.pixelAUROC)
        #expect(files.report.aupro == memory.report.aupro)
        #expect(files.report.falseRejectRate != nil && files.report.escapeRate != nil)
    }

    @Test func fitReportsEveryStageAndTheModelFileKeepsTheCalibration() throws {
        let log = ProgressLog()
        let extractor = try LibraryFixture.extractor(try LibraryFixture.config())
        let result = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(train),
                                              options: FitOptions(positives: try LibraryFixture.positives(count: 3)),
                                              progress: log.handler)
        let stages = Set(log.all.map(\.stage))
        #expect(stages == [.features, .positiveFeatures, .coreset, .positiveCoreset, .dualStatistics, .calibration])
        for stage in stages {
            let last = log.all.last { $0.stage == stage }!
            #expect(last.isFinished, "\(stage) did not report its end")
        }
        #expect(result.model.isDual)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lib-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try ModelFile.write(result.model, to: url)
        let read = try ModelFile.read(url)
        #expect(read == result.model)
        #expect(read.calibration == result.model.calibration)
        #expect(read.info.calibration.threshold == read.calibration.threshold)  // what older readers decide with
    }

    /// Cancelling the task that fits, at each stage, throws `CancellationError` within a second. The cancel comes
    /// from the fitting task's own progress report (the first item of the stage), so the measurement does not depend
    /// on when the test's task gets a thread.
    @Test(arguments: [ProgressStage.features, .positiveFeatures, .coreset, .dualStatistics, .calibration])
    func cancellationIsPromptAtEveryStage(_ stage: ProgressStage) async throws {
        let extractor = try LibraryFixture.extractor(try LibraryFixture.config(coresetRatio: 0.25))
        let positives = try LibraryFixture.positives(count: 12)
        let good = ImageSource.files(train)
        // Calibrating on all training images makes the calibration stage long enough to cancel inside it.
        let options = FitOptions(positives: positives, calibration: .images(good))
        let cancel = CancelAtStage(stage)
        let task = Task.detached { try PatchCoreTrainer.fit(extractor: extractor, good: good, options: options, progress: cancel.handler) }
        let outcome = await task.result
        let end = ContinuousClock.now
        guard case let .failure(error) = outcome else { Issue.record("fit finished although cancelled at \(stage)"); return }
        #expect(error is CancellationError, "\(error)")
        let cancelledAt = try #require(cancel.cancelledAt)
        #expect(end - cancelledAt < .seconds(1), "cancelled at \(stage): \(end - cancelledAt)")
        #expect(cancel.lastStage == stage, "a later stage started after the cancel")
    }

    /// 8 tasks score while the model is swapped 20 times: every result is one of the two models' own results.
    @Test func concurrentScoringSurvivesModelSwaps() async throws {
        let extractor = try LibraryFixture.extractor(try LibraryFixture.config(coresetRatio: 0.02, seed: 1))
        let a = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(train)).model
        let b = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(Array(train.prefix(20)))).model
        #expect(a.id != b.id)
        let images = fixture.data.test.prefix(6).map(\.image)
        let scorerA = try PatchCoreScorer(model: a, extractor: extractor), scorerB = try PatchCoreScorer(model: b, extractor: extractor)
        var expected: [String: [String: Float]] = [a.id: [:], b.id: [:]]
        for url in images {
            expected[a.id]![url.path] = try scorerA.predict(.file(url)).score
            expected[b.id]![url.path] = try scorerB.predict(.file(url)).score
        }
        let store = ModelStore()
        await store.install(scorer: try PatchCoreScorer(model: a, extractor: extractor, name: "part", version: 1))
        let results = try await withThrowingTaskGroup(of: [Prediction].self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var out: [Prediction] = []
                    for k in 0..<6 { out.append(try await store.predict(.file(images[(worker + k) % images.count]), with: "part")) }
                    return out
                }
            }
            group.addTask {
                for swap in 0..<20 {
                    let model = swap % 2 == 0 ? b : a
                    await store.install(scorer: try PatchCoreScorer(model: model, extractor: extractor, name: "part", version: swap + 2))
                    await Task.yield()
                }
                return []
            }
            var all: [Prediction] = []
            for try await r in group { all += r }
            return all
        }
        #expect(results.count == 48)
        for p in results {
            let score = expected[p.model.id]?[p.source]
            #expect(score == p.score, "\(p.source) scored \(p.score) by \(p.model), expected \(String(describing: score))")
            #expect(p.model.name == "part" && (p.model.version ?? 0) >= 1)
        }
        let final = try await store.entry("part")
        #expect(final.version == 21 && final.scorer.model.id == a.id)
    }

    /// The heatmap scale agrees with the decision: good test images scored ok show no pixel of the decision colour,
    /// defective ones scored anomalous do, for single and dual models.
    @Test(arguments: [false, true])
    func heatmapRedMeansAnomalous(dual: Bool) throws {
        let extractor = try LibraryFixture.extractor(try LibraryFixture.config())
        let options = FitOptions(positives: dual ? try LibraryFixture.positives(count: 6) : [])
        let model = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(train), options: options).model
        let scorer = try PatchCoreScorer(model: model, extractor: extractor)
        var checkedGood = 0, checkedDefect = 0
        for sample in fixture.data.test {
            let p = try scorer.predict(.file(sample.image))
            let scale = HeatmapRenderer.scale(of: p)
            let map = p.mapOnOriginal()
            #expect(map.shape == [p.original.height, p.original.width])
            let red = map.scalars.filter { !$0.isNaN && scale.colour(of: $0).a > 0 &&
                (scale.colour(of: $0).r, scale.colour(of: $0).g, scale.colour(of: $0).b) == HeatmapScale.thresholdColour }.count
            if sample.label == .good, !p.isAnomalous {
                #expect(red == 0, "good \(sample.image.lastPathComponent) (score \(p.score) < \(p.threshold)) has \(red) red pixels")
                checkedGood += 1
            }
            if sample.label == .defect, p.isAnomalous {
                #expect(red > 0, "defect \(sample.image.lastPathComponent) (score \(p.score) >= \(p.threshold)) has no red pixel")
                checkedDefect += 1
            }
            // The overlay carries the legend band below the image at the original resolution.
            let overlay = try HeatmapRenderer.overlay(p)
            #expect(overlay.width == p.original.width && overlay.height > p.original.height)
        }
        #expect(checkedGood >= 8 && checkedDefect >= 12, "good ok \(checkedGood), defects flagged \(checkedDefect)")
    }

    /// `imageScore: .mapMax`: the score is the blurred map's hottest value, at fit (the threshold is set on the
    /// held-out images' map maxima) and at scoring; the patch rule and dual models keep their own scores.
    @Test func mapMaxImageScoreIsTheMapsLargestValue() throws {
        var config = try LibraryFixture.config()
        let patchModel = try PatchCoreTrainer.fit(extractor: try LibraryFixture.extractor(config), good: ImageSource.files(train)).model
        config.imageScore = .mapMax
        let extractor = try LibraryFixture.extractor(config)
        let fitted = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(train))
        #expect(fitted.model.config.imageScore == .mapMax)
        #expect(fitted.model.banks == patchModel.banks)                 // only the score differs
        let scorer = try PatchCoreScorer(model: fitted.model, extractor: extractor)
        let patchScorer = try PatchCoreScorer(model: patchModel, extractor: extractor)
        var differing = 0
        for sample in fixture.data.test.prefix(8) {
            let p = try scorer.predict(.file(sample.image)), q = try patchScorer.predict(.file(sample.image))
            #expect(p.score == p.map.scalars.max()!, "\(sample.image.lastPathComponent)")
            #expect(p.map.scalars == q.map.scalars)
            if p.score != q.score { differing += 1 }
        }
        #expect(differing > 0, "the map's maximum is not the patch score")
        // The threshold comes from the held-out images scored the same way.
        let held = try fitted.calibrationImages.map { try scorer.predict(.file(URL(fileURLWithPath: $0))).score }
        #expect(held.sorted() == fitted.model.calibration.goodScores.sorted())
        // A dual model scores by its dual rule: map_max with positives is refused, naming the setting.
        #expect {
            _ = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(train),
                                         options: FitOptions(positives: try LibraryFixture.positives(count: 3)))
        } throws: { "\($0)".contains("image_score map_max") }
    }

    /// `patchSize` is part of the features: a wider neighbourhood changes the bank, and a scorer refuses an extractor
    /// whose neighbourhood differs from the model's (or whose taps do), naming why.
    @Test func patchSizeIsPartOfTheFeatures() throws {
        var config = try LibraryFixture.config()
        let three = try PatchCoreTrainer.fit(extractor: try LibraryFixture.extractor(config), good: ImageSource.files(train)).model
        config.patchSize = 5
        let wideExtractor = try LibraryFixture.extractor(config)
        let five = try PatchCoreTrainer.fit(extractor: wideExtractor, good: ImageSource.files(train)).model
        #expect(five.config.patchSize == 5 && three.config.patchSize == nil)
        #expect(five.banks.normal.features.scalars != three.banks.normal.features.scalars)
        for (model, extractor) in [(three, wideExtractor), (five, try LibraryFixture.extractor(try LibraryFixture.config()))] {
            #expect {
                _ = try PatchCoreScorer(model: model, extractor: extractor)
            } throws: { "\($0)".contains("configuration differs") }
        }
        let p = try PatchCoreScorer(model: five, extractor: wideExtractor).predict(.file(fixture.data.test[0].image))
        #expect(p.score.isFinite)
    }

    /// Model files written by the previous release (format 1 plain, format 2 dual; `Fixtures/model_format*`, fitted
    /// with `patchcore fit` on this demo data) still load and score as they did then.
    @Test func olderModelFilesLoadAndScoreAsBefore() throws {
        let cases: [(String, Bool, good: Float, crack: Float, threshold: Float)] = [
            ("model_format1_plain", false, 0.22493352, 0.978956, 0.23469035),
            ("model_format2_dual", true, -1.0877216, 77.096825, 2.91407),
        ]
        for (name, isDual, good, crack, threshold) in cases {
            let url = try #require(Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures"))
            let model = try ModelFile.read(url)
            #expect(model.isDual == isDual)
            #expect(model.calibration.provenance.rule == .maxTraining)
            #expect(model.calibration.threshold == threshold)
            let scorer = try PatchCoreScorer(model: model, weights: fixture.weights)
            let root = fixture.data.root
            let g = try scorer.predict(.file(root.appendingPathComponent("test/good/000.png")))
            let c = try scorer.predict(.file(root.appendingPathComponent("test/crack/000.png")))
            #expect(abs(g.score - good) <= 1e-4 * max(1, abs(good)), "\(name) good \(g.score) vs \(good)")
            #expect(abs(c.score - crack) <= 1e-4 * max(1, abs(crack)), "\(name) crack \(c.score) vs \(crack)")
            #expect(!g.isAnomalous && c.isAnomalous)
            // A new threshold on an old file: recorded, decided with, and the map level (no held-out maps) stays.
            var moved = model
            try moved.setThreshold(crack, provenance: ThresholdProvenance(rule: .manual, images: 0, source: "test", estimator: "given"))
            #expect(moved.calibration.threshold == crack && moved.info.calibration.threshold == crack)
            #expect(moved.calibration.mapThreshold == model.calibration.mapThreshold)
            #expect(try PatchCoreScorer(model: moved, weights: fixture.weights).predict(.file(root.appendingPathComponent("test/crack/000.png"))).isAnomalous == (c.score >= crack))
        }
    }
}
