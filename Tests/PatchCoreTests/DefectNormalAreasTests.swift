import Foundation
import ImageIO
@testable import PatchCore
import PatchFeatures
import Testing

/// `fit --normal-from-defects`: which cells of a defect image count as normal, that exactly those join the normal
/// bank (a bank of every patch then scores them 0 and the defect above 0), the model file's record, and the defined
/// behaviour on an empty mask or a bad margin.
@Suite(.serialized) struct DefectNormalAreasTests {
    let fixture: LibraryFixture.Shared
    init() throws { fixture = try LibraryFixture.shared() }

    func grid(_ h: Int, _ w: Int) -> PatchGrid {
        PatchGrid(batch: 1, height: h, width: w, inputHeight: h * 4, inputWidth: w * 4)
    }

    @Test func normalCellsLeaveOutTheMarginAroundEveryMaskPixel() {
        // 16 x 16 mask on a 4 x 4 grid: one defect pixel at (5, 5) lies in cell (1, 1).
        var pixels = [UInt8](repeating: 0, count: 256)
        pixels[5 * 16 + 5] = 255
        let mask = Image(width: 16, height: 16, channels: 1, pixels: pixels)
        #expect(DefectNormalAreas.normalCells(mask: mask, grid: grid(4, 4), marginCells: 0) == (0..<16).filter { $0 != 5 })
        // Margin 1: the 3 x 3 cells around (1, 1) are left out, the last row and column stay.
        #expect(DefectNormalAreas.normalCells(mask: mask, grid: grid(4, 4), marginCells: 1) == [3, 7, 11, 12, 13, 14, 15])
        #expect(DefectNormalAreas.normalCells(mask: mask, grid: grid(4, 4), marginCells: 3).isEmpty)
        // A second pixel in the far corner cell (3, 3) takes that cell too; values up to 127 are not defect.
        pixels[15 * 16 + 15] = 255
        pixels[0] = 127
        let two = Image(width: 16, height: 16, channels: 1, pixels: pixels)
        #expect(DefectNormalAreas.normalCells(mask: two, grid: grid(4, 4), marginCells: 0) == (0..<16).filter { $0 != 5 && $0 != 15 })
        // An empty mask keeps every cell; a grid finer than the mask maps pixels by proportion.
        let empty = Image(width: 16, height: 16, channels: 1, pixels: [UInt8](repeating: 0, count: 256))
        #expect(DefectNormalAreas.normalCells(mask: empty, grid: grid(2, 8), marginCells: 2).count == 16)
        #expect(DefectNormalAreas.normalCells(mask: mask, grid: grid(2, 8), marginCells: 0) == (0..<16).filter { $0 != 2 })
    }

    @Test func theNormalAreasJoinTheBankAndScoreZeroThere() throws {
        // Coreset ratio 1: every patch is kept, so a patch of the bank scores exactly 0 against it.
        let config = try LibraryFixture.config(coresetRatio: 1)
        let extractor = try LibraryFixture.extractor(config)
        let good = ImageSource.files(fixture.data.train.prefix(4).map(\.image))
        let defects = try LibraryFixture.positives(count: 3)
        var options = FitOptions(calibration: .trainingImages)
        options.defectNormalAreas = DefectNormalAreas(examples: defects, marginCells: 1)
        let fit = try PatchCoreTrainer.fit(extractor: extractor, good: good, options: options)
        let plain = try PatchCoreTrainer.fit(extractor: extractor, good: good, options: FitOptions(calibration: .trainingImages))

        var expected = 0
        let scorer = ImageScorer(config: config, bank: fit.model.banks.normal)
        for example in defects {
            let input = try extractor.prepare(try ImageFile.read(example.image))
            let mask = try extractor.prepareMask(try ImageFile.read(example.mask))
            let set = try extractor.patchFeatures([input])
            let normal = DefectNormalAreas.normalCells(mask: mask, grid: set.grid, marginCells: 1)
            #expect(!normal.isEmpty && normal.count < set.grid.height * set.grid.width, "the margin leaves some cells out, not all")
            expected += normal.count
            let scores = try scorer.score(features: set.features).patchScores
            #expect(normal.allSatisfy { scores[$0] == 0 }, "every normal cell of \(example.image.lastPathComponent) is in the bank")
            let onDefect = DefectNormalAreas.normalCells(mask: mask, grid: set.grid, marginCells: 0)
            let defectCells = Set(0..<scores.count).subtracting(onDefect)
            #expect(defectCells.contains { scores[$0] > 0 }, "the defect's own cells were not added")
        }
        let record = try #require(fit.model.info.defectNormalAreas)
        #expect(record == DefectNormalAreasRecord(images: 3, patches: expected, marginCells: 1))
        #expect(fit.model.banks.normal.count == plain.model.banks.normal.count + expected)
        #expect(plain.model.info.defectNormalAreas == nil)
        #expect(fit.model.id != plain.model.id)

        // The model file keeps the record; a file that claims an impossible margin is refused by name.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("normal-areas-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        try ModelFile.write(fit.model, to: file)
        #expect(try ModelFile.read(file).info.defectNormalAreas == record)
        var bad = fit.model.info
        bad.defectNormalAreas?.marginCells = 65
        #expect(throws: PatchCoreError.self) { try bad.validate() }
        do { try bad.validate() } catch { #expect("\(error)".contains("defect_normal_areas")) }
    }

    @Test func anEmptyMaskIsLeftOutWithAWarningAndABadMarginIsRefused() throws {
        let config = try LibraryFixture.config(coresetRatio: 0.5)
        let extractor = try LibraryFixture.extractor(config)
        let defects = try LibraryFixture.positives(count: 2)
        // The second example's mask marks nothing.
        let blank = FileManager.default.temporaryDirectory.appendingPathComponent("blank-mask-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: blank) }
        let size = try ImageFile.read(defects[1].image)
        try ImageFile.writePNG(Image(width: size.width, height: size.height, channels: 1,
                                     pixels: [UInt8](repeating: 0, count: size.width * size.height)), to: blank)
        var examples = defects
        examples[1].mask = blank
        var options = FitOptions(calibration: .trainingImages)
        options.defectNormalAreas = DefectNormalAreas(examples: examples)
        let good = ImageSource.files(fixture.data.train.prefix(3).map(\.image))
        let fit = try PatchCoreTrainer.fit(extractor: extractor, good: good, options: options)
        #expect(fit.model.info.defectNormalAreas?.images == 1)
        #expect(fit.positiveWarnings.contains { $0.reason.contains(blank.lastPathComponent) && $0.reason.contains("marks no defect") })

        // A streamed bank (a feature memory of 64 KiB) takes the normal areas image by image into its chunks: the
        // same rows are offered, and the bank gets the ratio of all of them, as the bank of one coreset does.
        var streamed = options
        streamed.featureMemory = 64 << 10
        let chunked = try PatchCoreTrainer.fit(extractor: extractor, good: good, options: streamed)
        #expect(chunked.model.info.streamedBank != nil)
        #expect(chunked.model.info.defectNormalAreas == fit.model.info.defectNormalAreas)
        #expect(chunked.model.banks.normal.count == fit.model.banks.normal.count)
        let plain = try PatchCoreTrainer.fit(extractor: extractor, good: good, options: FitOptions(calibration: .trainingImages))
        #expect(fit.model.banks.normal.count > plain.model.banks.normal.count)

        // Only blank masks: nothing to use is an error, not a silent plain fit.
        options.defectNormalAreas = DefectNormalAreas(examples: [examples[1]])
        #expect(throws: PatchCoreError.self) { try PatchCoreTrainer.fit(extractor: extractor, good: good, options: options) }
        options.defectNormalAreas = DefectNormalAreas(examples: defects, marginCells: 65)
        do {
            _ = try PatchCoreTrainer.fit(extractor: extractor, good: good, options: options)
            Issue.record("a margin of 65 cells was accepted")
        } catch { #expect("\(error)".contains("65")) }
    }
}
