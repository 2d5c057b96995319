import Checkpoints
import Datasets
import Defects
import Foundation
import ImageIO
import MemoryBank
@testable import PatchCore
import PatchFeatures
import Scoring
import TensorCore
import Testing

@Suite struct DualModelTests {
    func plainModel() throws -> PatchCoreModel {
        let config = PatchCoreConfig(backbone: "mobilenet_v2", taps: ["features.6"], coresetRatio: 0.02, seed: 2)
        let info = ModelInfo(weightsSHA256: String(repeating: "cd", count: 32), gridHeight: 2, gridWidth: 2,
                             featureDimension: 3, trainImageCount: 2, trainPatchCount: 8,
                             calibration: try ScoreCalibration.fit(referenceScores: [1, 2]), thresholdRule: "test", fitSeconds: 1)
        return PatchCoreModel(config: config, info: info, banks: .single(try MemoryBank(features: Tensor(shape: [4, 3], scalars: (0..<12).map(Float.init)))))
    }

    func dualModel() throws -> PatchCoreModel {
        var m = try plainModel()
        let source = PositiveSource(kind: .synthetic, generator: "classical", count: 50, seed: 7)
        m.banks = .dual(negative: m.banks.normal, positive: try MemoryBank(features: Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])), DualBankInfo(scoring: DualScoring(rule: .logRatio, logRatioCalibration: .identity),
                              isolation: DefectIsolation(mode: .maskOverlap, padding: 0.05),
                              negativeCoresetRatio: 0.02, positiveCoresetRatio: 0.1,
                              sources: [PositiveSourceSummary(source: source, images: 3, regions: 4, patches: 40)],
                              files: ["a.png", "b.png", "c.png"],
                              warnings: [SkippedImage(file: "d.png", reason: "empty mask")], positivePatchCount: 40))
        return m
    }

    func tempURL() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("dual-\(UUID().uuidString).safetensors") }

    @Test func dualModelRoundTripsAndPlainStaysVersion1() throws {
        let url = tempURL()
        defer { try? FileManager.default.removeItem(at: url) }
        let dual = try dualModel()
        try ModelFile.write(dual, to: url)
        let read = try ModelFile.read(url)
        #expect(read == dual)
        #expect(read.isDual)
        let meta = try SafeTensors.read(url).metadata
        #expect(meta["format_version"] == "2")
        let json = try #require(meta["dual"])
        for key in ["\"log_ratio\"", "mask_overlap", "positive_coreset_ratio", "\"classical\"", "\"synthetic\""] {
            #expect(json.contains(key), "dual metadata lacks \(key)")
        }

        let plain = try plainModel()
        try ModelFile.write(plain, to: url)
        #expect(try SafeTensors.read(url).metadata["format_version"] == "1")
        #expect(try ModelFile.read(url) == plain)
        #expect(try ModelFile.read(url).isDual == false)
    }

    @Test func inconsistentDualFilesAreRefused() throws {
        let url = tempURL()
        defer { try? FileManager.default.removeItem(at: url) }
        try ModelFile.write(try dualModel(), to: url)
        let contents = try SafeTensors.read(url)
        var tensors = contents.tensors
        tensors["positive_bank"] = nil
        try SafeTensors.write(tensors, metadata: contents.metadata, to: url)
        #expect { try ModelFile.read(url) } throws: { "\($0)".contains(url.path) && "\($0)".contains("positive_bank") }
        var meta = contents.metadata
        meta["dual"] = nil
        try SafeTensors.write(contents.tensors, metadata: meta, to: url)
        #expect { try ModelFile.read(url) } throws: { "\($0)".contains("without dual metadata") }
    }

    func mask(_ w: Int, _ h: Int, _ box: PixelBox) -> Image {
        var px = [UInt8](repeating: 0, count: w * h)
        for y in box.y0..<box.y1 { for x in box.x0..<box.x1 { px[y * w + x] = 255 } }
        return Image(width: w, height: h, channels: 1, pixels: px)
    }

    @Test func cropBoxIsPaddedGrownToTheInputAspectAndClipped() {
        let iso = DefectIsolation(padding: 0.1)
        // 200x100 image: pad 10 px; a 4x20 region grows to 24x40, then to the square aspect 40x40.
        let box = iso.cropBox(for: PixelBox(x0: 100, y0: 40, x1: 104, y1: 60), imageWidth: 200, imageHeight: 100, aspect: 1)
        #expect(box.width == 40 && box.height == 40)
        #expect(box.x0 <= 90 && box.x1 >= 114 && box.y0 == 30 && box.y1 == 70)
        // Near a corner: clipped, shifted inside, never outside the image.
        let corner = iso.cropBox(for: PixelBox(x0: 0, y0: 0, x1: 3, y1: 3), imageWidth: 200, imageHeight: 100, aspect: 2)
        #expect(corner.x0 == 0 && corner.y0 == 0 && corner.x1 <= 200 && corner.y1 <= 100)
        #expect(corner.width == 2 * corner.height)
        // A region as large as the image: the whole image.
        let all = iso.cropBox(for: PixelBox(x0: 0, y0: 0, x1: 200, y1: 100), imageWidth: 200, imageHeight: 100, aspect: 1)
        #expect(all == PixelBox(x0: 0, y0: 0, x1: 200, y1: 100))
    }

    @Test func cropsPerRegionAndBadMasks() {
        let image = Image(width: 120, height: 80, channels: 3, pixels: [UInt8](repeating: 90, count: 120 * 80 * 3))
        var two = mask(120, 80, PixelBox(x0: 10, y0: 10, x1: 20, y1: 20))
        for y in 50..<70 { for x in 80..<110 { two.pixels[y * 120 + x] = 255 } }
        let iso = DefectIsolation(mode: .crop, padding: 0.05)
        let (crops, notes) = iso.crops(image: image, mask: two, inputSize: (64, 64), file: "x.png")
        #expect(crops.count == 2 && notes.isEmpty)
        #expect(crops.allSatisfy { $0.image.width == 64 && $0.image.height == 64 && $0.image.channels == 3 })
        #expect(crops[0].regionArea == 100)
        // Empty mask: no crop, a warning naming the file.
        let empty = iso.crops(image: image, mask: mask(120, 80, PixelBox(x0: 0, y0: 0, x1: 0, y1: 0)), inputSize: (64, 64), file: "e.png")
        #expect(empty.crops.isEmpty && empty.warnings.first?.contains("e.png: empty mask") == true)
        // Mask of another size: resized (nearest) with a warning, regions kept.
        let small = iso.crops(image: image, mask: mask(60, 40, PixelBox(x0: 5, y0: 5, x1: 10, y1: 10)), inputSize: (64, 64), file: "s.png")
        #expect(small.crops.count == 1 && small.warnings.first?.contains("60x40") == true)
        // Specks below minRegionPixels are skipped with a warning.
        let strict = DefectIsolation(minRegionPixels: 200)
        let skipped = strict.crops(image: image, mask: two, inputSize: (64, 64), file: "t.png")
        #expect(skipped.crops.count == 1 && skipped.warnings.count == 1)
    }

    @Test func maskOverlapKeepsCellsUnderTheMaskAndAtLeastOne() {
        let grid = PatchGrid(batch: 1, height: 8, width: 8, inputHeight: 64, inputWidth: 64)
        let region = PixelBox(x0: 0, y0: 0, x1: 64, y1: 64)
        var crop = DefectCrop(image: Image(width: 64, height: 64, channels: 3, pixels: [UInt8](repeating: 0, count: 64 * 64 * 3)),
                              mask: mask(64, 64, PixelBox(x0: 8, y0: 8, x1: 24, y1: 16)), box: region, region: region, regionArea: 128)
        #expect(DefectIsolation(mode: .crop, scale: .resizedCrop).keptPatches(of: crop, grid: grid).count == 64)
        #expect(DefectIsolation(mode: .maskOverlap, scale: .resizedCrop).keptPatches(of: crop, grid: grid) == [9, 10])
        // The region's pixels vanished in a downscaled crop: the cell under the region's centre is kept.
        crop.mask = mask(64, 64, PixelBox(x0: 0, y0: 0, x1: 0, y1: 0))
        crop.region = PixelBox(x0: 40, y0: 0, x1: 42, y1: 2)
        #expect(DefectIsolation(mode: .maskOverlap, scale: .resizedCrop).keptPatches(of: crop, grid: grid) == [5])
    }

    @Test func imageScaleKeepsThePatchesAroundEachRegion() throws {
        let input = Image(width: 64, height: 64, channels: 3, pixels: [UInt8](repeating: 0, count: 64 * 64 * 3))
        let grid = PatchGrid(batch: 1, height: 8, width: 8, inputHeight: 64, inputWidth: 64)
        var m = mask(64, 64, PixelBox(x0: 8, y0: 8, x1: 16, y1: 16))
        m.pixels[60 * 64 + 60] = 255  // a second, 1-pixel region
        let iso = DefectIsolation(mode: .crop, scale: .imageScale, padding: 0.125)  // 8 px
        let same = InputTransform.resize(width: 64, height: 64)
        let (crops, notes) = try iso.imageScaleRegions(input: input, mask: m, transform: same, prepareMask: { $0 }, file: "x.png")
        #expect(crops.count == 2 && notes.isEmpty)
        #expect(crops[0].box == PixelBox(x0: 0, y0: 0, x1: 24, y1: 24))
        // crop: the 3x3 cells of the padded box; mask_overlap: the one cell under the mask.
        #expect(iso.keptPatches(of: crops[0], grid: grid) == [0, 1, 2, 8, 9, 10, 16, 17, 18])
        var overlap = iso
        overlap.mode = .maskOverlap
        #expect(overlap.keptPatches(of: crops[0], grid: grid) == [9])
        #expect(overlap.keptPatches(of: crops[1], grid: grid) == [63], "a 1-pixel region keeps the patch covering it")
        let none = try iso.imageScaleRegions(input: input, mask: mask(64, 64, PixelBox(x0: 0, y0: 0, x1: 0, y1: 0)),
                                         transform: same, prepareMask: { $0 }, file: "e.png")
        #expect(none.crops.isEmpty && none.warnings.first?.contains("e.png: empty mask") == true)
        // A 1-pixel region of a 640x640 mask survives the downscale to 64x64 (found at source size, box mapped):
        // mask_overlap keeps the patch under it although its downscaled mask may be empty.
        var big = mask(640, 640, PixelBox(x0: 0, y0: 0, x1: 0, y1: 0))
        big.pixels[603 * 640 + 605] = 255
        let tiny = try overlap.imageScaleRegions(input: input, mask: big, transform: same,
                                             prepareMask: { $0.resizedNearest(width: 64, height: 64) }, file: "t.png")
        #expect(tiny.crops.count == 1)
        #expect(tiny.crops[0].region == PixelBox(x0: 60, y0: 60, x1: 61, y1: 61))
        #expect(overlap.keptPatches(of: tiny.crops[0], grid: grid) == [63])
        // resize 256 + centre crop 224 of a 512x512 image: a region in the cropped-away border is skipped.
        let border = try overlap.imageScaleRegions(input: input, mask: mask(512, 512, PixelBox(x0: 0, y0: 200, x1: 10, y1: 210)),
                                               transform: .resizeCrop(resize: 256, crop: 224), prepareMask: { $0 }, file: "b.png")
        #expect(border.crops.isEmpty && border.warnings.first?.contains("outside the model input") == true)
        #expect(InputTransform.resizeCrop(resize: 256, crop: 224).inputBox(of: PixelBox(x0: 256, y0: 256, x1: 258, y1: 258),
                                                                             imageWidth: 512, imageHeight: 512)
                == PixelBox(x0: 112, y0: 112, x1: 113, y1: 113))
        // Older dual model files without `scale` decode as the thesis' resized crops.
        let old = try JSONDecoder().decode(DefectIsolation.self, from: Data(#"{"mode":"crop","padding":0.07,"min_region_pixels":1}"#.utf8))
        #expect(old.scale == .resizedCrop)
    }

    @Test func positiveExamplesFromADataset() {
        let u = { (s: String) in URL(fileURLWithPath: "/d/\(s)") }
        let ds = Dataset(name: "mt", root: u(""), layout: .csvManifest, samples: [
            Sample(image: u("g.png"), mask: nil, label: .good, split: .train, defectType: "good"),
            Sample(image: u("d.png"), mask: u("d_m.png"), label: .defect, split: .train, defectType: "crack"),
            Sample(image: u("n.png"), mask: nil, label: .defect, split: .train, defectType: "crack"),
            Sample(image: u("t.png"), mask: u("t_m.png"), label: .defect, split: .test, defectType: "crack"),
        ])
        let examples = PositiveExample.trainDefects(of: ds)
        #expect(examples.map(\.image) == [u("d.png")], "train defects with a mask only")
        #expect(examples.first?.source.kind == .trainDefects)
    }
}
