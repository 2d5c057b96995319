import Datasets
import ImageIO
import Foundation
import MemoryBank
import PatchCore
import PatchCoreExperiments
import Scoring
import TensorCore
import Testing

/// The library path an ablation takes (features once, then banks and rules) gives the same scores as `PatchCoreTrainer.fit`
/// + `PatchCoreScorer`, and the ablation's own positive extraction (`PatchCoreExperiments`) the same rows.
@Suite struct DualAblationAPITests {
    @Test func featuresOnceThenBanksAndRulesMatchesFitDual() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pc-dual-api-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let ds = try DemoDataset.generate(at: root.appendingPathComponent("a"), seed: 5, trainCount: 4, testGoodCount: 1,
                                          testDefectCount: 2, size: 96)
        let defects = try DemoDataset.generate(at: root.appendingPathComponent("b"), seed: 6, trainCount: 1, testGoodCount: 0,
                                               testDefectCount: 3, size: 96)
        let examples = defects.samples.filter { $0.label == .defect }.map {
            PositiveExample(image: $0.image, mask: $0.mask!, source: PositiveSource(kind: .folder, path: "b"))
        }
        var config = try PatchCorePipeline.defaultConfig(backbone: "mobilenet_v2")
        config.transform = .resize(width: 96, height: 96)
        let extractor = try FeatureExtractor(config: config, weights: try WeightsCatalog.locate("mobilenet_v2"))
        let options = DualFitOptions(negativeCoresetRatio: 0.2, positiveCoresetRatio: 0.5)
        // The ablation scores against banks of every training image, so the fit here holds none out.
        let fit = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(ds.train.map(\.image)),
                                           options: FitOptions(positives: examples, dual: options, calibration: .trainingImages))
        let scorer = try PatchCoreScorer(model: fit.model, extractor: extractor)

        // Features once.
        let good = try PatchCoreTrainer.trainingFeatures(extractor: extractor, images: ds.train.map(\.image))
        let positives = try PositivePatchExtractor.extract(extractor: extractor, examples: examples, isolation: options.isolation)
        #expect(positives.examples.count == 3)
        #expect(positives.rows { $0.image == examples[0].image }.shape[0] == positives.examples[0].rows.count)
        // The ablation's extraction (PatchCoreExperiments) builds the rows `fit --dual` would for its isolation.
        let mode = try #require(AblationIsolation.fitDefault)
        #expect(mode.isolation(padding: options.isolation.padding) == options.isolation)
        let ablation = try AblationPositives.extract(extractor: extractor, examples: examples, padding: options.isolation.padding,
                                                     isolations: [mode])
        #expect(ablation.patches[mode]?.features == positives.features)
        var cfg = config
        cfg.coresetRatio = options.negativeCoresetRatio
        let banks = try DualBankBuilder(negativeRatio: 0.2, positiveRatio: 0.5, projectionDimension: config.projectionDimension,
                                        seed: config.seed).build(negative: good.features, positive: positives.features)
        #expect(banks.negative == fit.model.banks.normal)
        #expect(banks.positive == fit.model.banks.positive?.bank)
        let scoring = try PatchCoreTrainer.calibratedScoring(options.scoring, negative: banks.negative, positive: banks.positive,
                                                             training: good, config: cfg)
        #expect(scoring == fit.model.banks.positive?.info.scoring)
        for sample in ds.test {
            let input = try extractor.prepare(try ImageFile.read(sample.image))
            let features = try extractor.patchFeatures([input]).features
            let viaLibrary = try ImageScorer(config: cfg, bank: banks.negative, positive: banks.positive, dual: scoring)
                .score(features: features)
            let viaScorer = try scorer.predict(prepared: input)
            #expect(viaLibrary.imageScore == viaScorer.score)
            // Several rules from one k-NN per bank.
            let nn = try banks.negative.nearestNeighbours(of: features, k: 1)
            let pp = try banks.positive.nearestNeighbours(of: features, k: 1)
            for rule in DualScoreRule.allCases {
                let s = try DualScoring(rule: rule).imageScore(features: features, negative: nn, positive: pp,
                                                               negativeBank: banks.negative, positiveBank: banks.positive)
                #expect(s.score.isFinite || s.positive.score == 0)
            }
        }
    }
}
