import Foundation
@testable import PatchCore
import Testing

/// The aspect-keeping input geometries (`--short-side`, `--native`): parsing and ranges, a bank fitted on images of
/// several sizes, maps at each image's own size, the model file round trip, pixel metrics over mixed sizes, and a
/// clear error for images below the network's minimum.
@Suite(.serialized) struct InputGeometryTests {
    let fixture: LibraryFixture.Shared
    init() throws { fixture = try LibraryFixture.shared() }

    @Test func parsingRoundTripsAndRangesAreChecked() throws {
        for t: InputTransform in [.resizeCrop(resize: 256, crop: 224), .resize(width: 320, height: 96), .shortSide(side: 288),
                                  .native(scale: 1), .native(scale: 0.5)] {
            #expect(InputTransform.parse(t.token) == t, "\(t.token)")
        }
        #expect(InputTransform.parse("native:abc") == nil && InputTransform.parse("short-side:") == nil)
        #expect(InputTransform.parse("resize:256:224") == nil && InputTransform.parse("10x10") == nil)
        #expect(same(InputTransform.shortSide(side: 256).inputSize(forWidth: 300, height: 600), (256, 512)))
        #expect(same(InputTransform.shortSide(side: 256).inputSize(forWidth: 600, height: 300), (512, 256)))
        #expect(same(InputTransform.native(scale: 1).inputSize(forWidth: 101, height: 33), (101, 33)))
        #expect(same(InputTransform.native(scale: 0.5).inputSize(forWidth: 101, height: 33), (51, 17)))
        #expect(InputTransform.native(scale: 1).fixedInputSize == nil)
        #expect(same(InputTransform.resize(width: 64, height: 32).fixedInputSize!, (64, 32)))
        var config = try LibraryFixture.config()
        for (bad, field) in [(InputTransform.shortSide(side: 31), "short side"), (.shortSide(side: 5000), "short side"),
                             (.native(scale: 0), "native scale"), (.native(scale: .nan), "native scale"),
                             (.native(scale: 4.5), "native scale")] {
            config.transform = bad
            let message = "\(try #require(throws: PatchCoreError.self) { try config.validate() })"
            #expect(message.contains(field), "\(message)")
        }
    }

    /// Good images of three sizes build one bank; a defect image of a fourth size is scored with a map of its own size
    /// that finds the defect, and the model file keeps the geometry.
    @Test func nativeGeometryFitsMixedSizesAndMapsAtEachImagesSize() throws {
        var config = try LibraryFixture.config(coresetRatio: 0.1)
        config.transform = .native(scale: 1)
        let extractor = try LibraryFixture.extractor(config)
        let sizes = [(224, 224), (224, 160), (160, 208), (192, 96)]
        let good = try fixture.data.train.enumerated().map { i, sample -> ImageSource in
            let (w, h) = sizes[i % sizes.count]
            return .decoded(try ImageFile.read(sample.image).cropped(x: 0, y: 0, width: w, height: h), name: "good-\(i)-\(w)x\(h)")
        }
        let features = try PatchCoreTrainer.trainingFeatures(extractor: extractor, images: good)
        // MobileNetV2's finest default tap has stride 8 (ceil at odd sizes): one grid per image size.
        #expect(Set(features.grids.map { "\($0.height)x\($0.width)" }).count == 4)
        #expect(features.grids[1].height == 20 && features.grids[1].width == 28)
        #expect(features.features.shape[0] == features.grids.reduce(0) { $0 + $1.height * $1.width })
        #expect(features.image(3).shape[0] == 12 * 24)

        let fit = try PatchCoreTrainer.fit(extractor: extractor, good: good)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("native-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        try ModelFile.write(fit.model, to: file)
        let read = try ModelFile.read(file)
        #expect(read.config.transform == .native(scale: 1))
        let scorer = try PatchCoreScorer(model: read, extractor: extractor)

        // A warm-up scores a blank image at the first training image's size (its grid times the stride) and leaves
        // the scorer's results as they were.
        let first = try ImageFile.read(fixture.data.test.first { $0.label == .good }!.image)
        let before = try scorer.predict(first, name: "before").score
        #expect(scorer.warmUpSize == (224, 224))
        #expect(try scorer.warmUp() > 0)
        #expect(try scorer.predict(first, name: "after").score == before)
        var wide = read
        (wide.info.gridHeight, wide.info.gridWidth) = (20, 28)
        #expect(try PatchCoreScorer(model: wide, extractor: extractor).warmUpSize == (224, 160))
        // Within the sides one pass may take, whatever the file records.
        (wide.info.gridHeight, wide.info.gridWidth) = (1, 600)
        #expect(try PatchCoreScorer(model: wide, extractor: extractor).warmUpSize == (PatchCoreConfig.maxInputSide, 32))

        let defects = fixture.data.test.filter { $0.label == .defect }.prefix(4)
        let goods = fixture.data.test.filter { $0.label == .good }.prefix(4)
        var defectScores: [Float] = [], goodScores: [Float] = []
        for sample in defects {
            let image = try ImageFile.read(sample.image), mask = try ImageFile.read(sample.mask!)
            let crop = defectCrop(mask: mask, width: 200, height: 150)
            let p = try scorer.predict(image.cropped(x: crop.x, y: crop.y, width: 200, height: 150), name: "defect")
            #expect(p.map.shape == [150, 200] && p.input.width == 200 && p.patchGrid.height == 19 && p.patchGrid.width == 25)
            #expect(p.mapOnOriginal().shape == [150, 200])
            // The map's peak lies on the defect (mask cropped the same way).
            let peak = p.map.scalars.indices.max { p.map.scalars[$0] < p.map.scalars[$1] }!
            let m = mask.cropped(x: crop.x, y: crop.y, width: 200, height: 150)
            let (py, px) = (peak / 200, peak % 200)
            #expect(nearDefect(m, x: px, y: py, radius: 16), "peak at \(px),\(py) is not on the defect of \(sample.image.lastPathComponent)")
            defectScores.append(p.score)
        }
        for sample in goods {
            let p = try scorer.predict(try ImageFile.read(sample.image).cropped(x: 10, y: 30, width: 200, height: 150), name: "good")
            goodScores.append(p.score)
        }
        #expect(defectScores.min()! > goodScores.max()!, "defects \(defectScores) vs good \(goodScores)")

        // The record of a prediction says the geometry it got.
        let record = PredictionRecord(try scorer.predict(try ImageFile.read(goods.first!.image), name: "whole"))
        #expect(record.inputSize == "224x224" && record.patches == 28 * 28)
    }

    /// Short side 160 on images of mixed aspect: each map has the prepared input's size, and pixel metrics pool maps
    /// of different sizes against masks brought through the same geometry.
    @Test func shortSideEvaluatesMixedAspectWithPixelMetrics() throws {
        var config = try LibraryFixture.config(coresetRatio: 0.1)
        config.transform = .shortSide(side: 160)
        let extractor = try LibraryFixture.extractor(config)
        let good = try fixture.data.train.enumerated().map { i, sample -> ImageSource in
            .decoded(try ImageFile.read(sample.image).cropped(x: 0, y: 0, width: 224, height: i % 2 == 0 ? 224 : 160), name: "g\(i)")
        }
        let model = try PatchCoreTrainer.fit(extractor: extractor, good: good).model
        let scorer = try PatchCoreScorer(model: model, extractor: extractor)
        let items = try fixture.data.test.enumerated().map { i, sample -> LabelledImage in
            let image = try ImageFile.read(sample.image)
            guard i % 2 == 1 else { return LabelledImage(sample) }
            // Every other test image 224 x 176 (aspect 1.27): its mask cropped alike.
            let y = try sample.mask.map { defectCrop(mask: try ImageFile.read($0), width: 224, height: 176).y } ?? 0
            let mask = try sample.mask.map { ImageSource.decoded(try ImageFile.read($0).cropped(x: 0, y: y, width: 224, height: 176), name: "m\(i)") }
            return LabelledImage(image: .decoded(image.cropped(x: 0, y: y, width: 224, height: 176), name: "t\(i)"), mask: mask,
                                 label: sample.label, defectType: sample.defectType)
        }
        let run = try PatchCoreEvaluator.evaluate(scorer: scorer, images: items, fitSeconds: 0)
        #expect(Set(run.records.compactMap { $0.inputSize }) == ["160x160", "203x160"])
        #expect(Set(run.records.compactMap { $0.patches }) == [400, 26 * 20])
        #expect(run.report.imageAUROC > 0.95)
        #expect((run.report.pixelAUROC ?? 0) > 0.9, "pixel AUROC \(String(describing: run.report.pixelAUROC))")
    }

    /// PatchCoreDual under an aspect-keeping geometry: defect patches come from the image at its own size
    /// (image-scale isolation) or from crops brought to the geometry's crop size, and the dual model separates the
    /// test split as well as at the default geometry.
    @Test(arguments: [DefectScale.imageScale, .resizedCrop])
    func dualFitsUnderNativeGeometry(scale: DefectScale) throws {
        var config = try LibraryFixture.config(coresetRatio: 0.1)
        config.transform = .native(scale: 0.75)
        let extractor = try LibraryFixture.extractor(config)
        let positives = try LibraryFixture.positives(count: 6)
        var options = FitOptions(positives: positives)
        options.dual.isolation = DefectIsolation(mode: .maskOverlap, scale: scale)
        let fit = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(fixture.data.train.map(\.image)),
                                           options: options)
        #expect(fit.positivePatchCount > 0 && fit.model.banks.positive != nil)
        let scorer = try PatchCoreScorer(model: fit.model, extractor: extractor)
        let run = try PatchCoreEvaluator.evaluate(scorer: scorer, samples: fixture.data.test, fitSeconds: 0)
        #expect(Set(run.records.compactMap(\.inputSize)) == ["168x168"])
        #expect(run.report.imageAUROC > 0.95 && (run.report.pixelAUROC ?? 0) > 0.9)
    }

    /// Pixel metrics at the ground truth's own resolution: natively they equal the input-resolution figures; with a
    /// centre crop the pixels the model never saw rank below every seen one, so a defect there counts as missed.
    @Test func pixelMetricsAtTheGroundTruthsResolution() throws {
        var config = try LibraryFixture.config(coresetRatio: 0.1)
        config.transform = .native(scale: 1)
        let native = try LibraryFixture.extractor(config)
        let nativeModel = try PatchCoreTrainer.fit(extractor: native, good: ImageSource.files(fixture.data.train.map(\.image))).model
        let run = try PatchCoreEvaluator.evaluate(scorer: try PatchCoreScorer(model: nativeModel, extractor: native),
                                                  samples: fixture.data.test, fitSeconds: 0)
        let (full, input) = (try #require(run.report.pixelAUROC), try #require(run.report.pixelAUROCInput))
        #expect(abs(full - input) < 1e-9 && abs(run.report.aupro! - run.report.auproInput!) < 1e-9, "\(full) vs \(input)")
        // The evaluator reuses the input pixels there; the projection onto the image gives the same map.
        let nativeScorer = try PatchCoreScorer(model: nativeModel, extractor: native)
        let defect = try #require(fixture.data.test.first { $0.label == .defect })
        let np = try nativeScorer.predict(.file(defect.image))
        #expect(PatchCoreEvaluator.seesWholeImageAtItsSize(np))
        let projected = try PatchCoreEvaluator.groundTruthResolution(np, mask: try ImageFile.read(defect.mask!))
        #expect(zip(projected.scores, np.map.scalars).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })

        let cropped = try LibraryFixture.extractor(try LibraryFixture.config(coresetRatio: 0.1))   // resize 256 + crop 224
        let model = try PatchCoreTrainer.fit(extractor: cropped, good: ImageSource.files(fixture.data.train.map(\.image))).model
        let scorer = try PatchCoreScorer(model: model, extractor: cropped)
        let sample = try #require(fixture.data.test.first { $0.label == .defect })
        let p = try scorer.predict(.file(sample.image))
        let mask = try ImageFile.read(sample.mask!)
        let item = try PatchCoreEvaluator.groundTruthResolution(p, mask: mask)
        #expect(item.width == 224 && item.height == 224 && item.mask!.count == 224 * 224)
        // 224 -> 256 -> centre 224: the outer 14 source pixels (16 of 256, scaled back) were never seen.
        #expect(item.scores[0] == -Float.greatestFiniteMagnitude && item.scores[5 * 224 + 112] == -Float.greatestFiniteMagnitude)
        #expect(item.scores[112 * 224 + 112].isFinite && item.scores[112 * 224 + 112] >= 0)
        #expect(item.scores.filter { $0 == -Float.greatestFiniteMagnitude }.count < 224 * 224 / 4)
    }

    /// Tiled extraction against one whole-image pass on a 448 x 320 input: an input no larger than a tile is the
    /// whole pass bit for bit; 128 x 128 tiles with 64 px of overlap agree within the stated tolerance (the receptive
    /// field past the overlap), and the scores and maps of a tiled model stay close to the whole-image model's.
    @Test func tiledFeaturesAgreeWithTheWholeImagePass() throws {
        var config = try LibraryFixture.config(coresetRatio: 0.1)
        config.transform = .native(scale: 2)
        let whole = try LibraryFixture.extractor(config)
        let image = try whole.prepare(ImageFile.read(fixture.data.train[0].image).cropped(x: 0, y: 0, width: 224, height: 160))
        #expect(image.width == 448 && image.height == 320)
        let reference = try whole.patchFeatures([image])

        config.tile = TileSpec(width: 512, height: 512, overlap: 64)
        let oneTile = try LibraryFixture.extractor(config).patchFeatures([image])
        #expect(oneTile.features.scalars == reference.features.scalars)

        let scale = reference.features.scalars.map(abs).max()!
        var errors: [Int: (worst: Float, mean: Float)] = [:]
        for overlap in [64, 128, 192] {
            config.tile = TileSpec(width: 128, height: 128, overlap: overlap)
            let set = try LibraryFixture.extractor(config).patchFeatures([image])
            #expect(set.grid.height == reference.grid.height && set.grid.width == reference.grid.width)
            let diff = zip(set.features.scalars, reference.features.scalars).map { abs($0 - $1) }
            errors[overlap] = (diff.max()! / scale, diff.reduce(0, +) / Float(diff.count) / scale)
        }
        print("tiled vs whole (relative to the largest feature): \(errors.sorted { $0.key < $1.key })")
        // The stated tolerance at the default overlap (128 px): 1% of the feature scale at the worst value, 0.01% on
        // average (measured 0.33% / 0.004%; at 64 px 10% / 0.5%, hence the default).
        let atDefault = errors[TileSpec(width: 128, height: 128).overlap]!
        #expect(atDefault.worst < 0.01 && atDefault.mean < 0.0001, "\(errors)")
        #expect(errors[192]!.mean <= errors[64]!.mean)
        config.tile = TileSpec(width: 128, height: 128)
        let tiled = try LibraryFixture.extractor(config)

        // Bad tile sizes are refused by name.
        config.tile = TileSpec(width: 100, height: 128, overlap: 64)
        #expect(throws: PatchCoreError.self) { try config.validate() }
        config.tile = TileSpec(width: 128, height: 128, overlap: 10)
        let message = "\(try #require(throws: PatchCoreError.self) { try config.validate() })"
        #expect(message.contains("overlap"), "\(message)")

        // Whole-image and tiled models score alike.
        let good = ImageSource.files(fixture.data.train.prefix(12).map(\.image))
        let a = try PatchCoreScorer(model: PatchCoreTrainer.fit(extractor: whole, good: good).model, extractor: whole)
        let b = try PatchCoreScorer(model: PatchCoreTrainer.fit(extractor: tiled, good: good).model, extractor: tiled)
        let sample = try #require(fixture.data.test.first { $0.label == .defect })
        let (pa, pb) = (try a.predict(.file(sample.image)), try b.predict(.file(sample.image)))
        #expect(pa.map.shape == pb.map.shape && pa.map.shape == [448, 448])
        #expect(abs(pa.score - pb.score) / pa.score < 0.05, "whole \(pa.score) vs tiled \(pb.score)")
    }

    @Test func imagesBelowTheNetworksMinimumAreRefusedByName() throws {
        var config = try LibraryFixture.config()
        config.transform = .native(scale: 0.25)
        let extractor = try LibraryFixture.extractor(config)
        let image = try ImageFile.read(fixture.data.train[0].image)   // 224 -> 56 at scale 0.25
        #expect(try extractor.prepare(image, file: "ok.png").width == 56)
        let small = image.cropped(x: 0, y: 0, width: 224, height: 100)   // 100 -> 25
        let error = #expect(throws: ImageError.self) { try extractor.prepare(small, file: "thin-part.png") }
        let message = "\(error!)"
        #expect(message.contains("thin-part.png") && message.contains("56x25") && message.contains("minimum of 32"), "\(message)")
        // The same image is fine as the only too-small one of a fit with --skip-bad.
        let fit = try PatchCoreTrainer.fit(extractor: extractor, good: [.decoded(small, name: "thin-part.png")]
            + fixture.data.train.prefix(8).map { .file($0.image) }, options: FitOptions(skipBad: true))
        #expect(fit.skipped.map(\.file) == ["thin-part.png"])

        // With pad the same image is padded to 56 x 32 (edge pixels repeated) and its map cropped back onto it.
        config.pad = true
        let padding = try LibraryFixture.extractor(config)
        let padded = try padding.prepare(small, file: "thin-part.png")
        #expect(padded.width == 56 && padded.height == 32)
        #expect(Array(padded.pixels[(31 * 56 + 10) * 3..<(31 * 56 + 11) * 3]) == Array(padded.pixels[(24 * 56 + 10) * 3..<(24 * 56 + 11) * 3]))
        let mask = try padding.prepareMask(Image(width: 224, height: 100, channels: 1, pixels: [UInt8](repeating: 255, count: 22_400)))
        #expect(mask.width == 56 && mask.height == 32 && mask.pixels[31 * 56] == 0 && mask.pixels[24 * 56] == 255)
        let model = try PatchCoreTrainer.fit(extractor: padding, good: [.decoded(small, name: "thin-part.png")]
            + fixture.data.train.prefix(8).map { .file($0.image) }).model
        let p = try PatchCoreScorer(model: model, extractor: padding).predict(small, name: "thin-part.png")
        #expect(p.map.shape == [32, 56])
        let onImage = p.mapOnOriginal()
        #expect(onImage.shape == [100, 224] && onImage.scalars.allSatisfy(\.isFinite))
    }

    /// Tuples are not Equatable for `#expect`; (width, height) against (width, height).
    private func same(_ a: (width: Int, height: Int), _ b: (Int, Int)) -> Bool { a.width == b.0 && a.height == b.1 }

    /// A crop origin of `width` x `height` inside the 224 x 224 mask that keeps the defect's centre in the middle.
    private func defectCrop(mask: Image, width: Int, height: Int) -> (x: Int, y: Int) {
        var sx = 0, sy = 0, n = 0
        for y in 0..<mask.height { for x in 0..<mask.width where mask.pixels[(y * mask.width + x) * mask.channels] > 127 {
            sx += x; sy += y; n += 1
        } }
        guard n > 0 else { return (0, 0) }
        return (min(max(sx / n - width / 2, 0), mask.width - width), min(max(sy / n - height / 2, 0), mask.height - height))
    }

    private func nearDefect(_ mask: Image, x: Int, y: Int, radius: Int) -> Bool {
        for yy in max(0, y - radius)..<min(mask.height, y + radius + 1) {
            for xx in max(0, x - radius)..<min(mask.width, x + radius + 1) where mask.pixels[(yy * mask.width + xx) * mask.channels] > 127 {
                return true
            }
        }
        return false
    }
}
