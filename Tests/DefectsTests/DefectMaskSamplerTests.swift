import Foundation
import Testing
import Datasets
import ImageIO
import TensorCore
@testable import Defects

@Suite struct DefectMaskSamplerTests {
    func rectMask(_ w: Int, _ h: Int, _ box: PixelBox?) -> Image {
        var px = [UInt8](repeating: 0, count: w * h)
        if let box { for y in box.y0..<box.y1 { for x in box.x0..<box.x1 { px[y * w + x] = 255 } } }
        return Image(width: w, height: h, channels: 1, pixels: px)
    }

    @Test func maskFolderSkipsEmptyAndUnreadableFilesWithReasons() throws {
        let demo = try DemoFolder()
        defer { demo.remove() }
        let dir = try demo.folder("masks")
        try ImageFile.writePNG(rectMask(20, 16, PixelBox(x0: 2, y0: 3, x1: 9, y1: 8)), to: dir.appendingPathComponent("a.png"))
        try ImageFile.writePNG(rectMask(20, 16, nil), to: dir.appendingPathComponent("b_empty.png"))
        try Data("not a png".utf8).write(to: dir.appendingPathComponent("c_broken.png"))
        try ImageFile.writePNG(rectMask(30, 30, PixelBox(x0: 10, y0: 10, x1: 12, y1: 25)), to: dir.appendingPathComponent("d.png"))
        let sampler = try DefectMaskSampler(maskFolder: dir)
        #expect(sampler.entries.map(\.maskFile.lastPathComponent) == ["a.png", "d.png"])
        #expect(!sampler.hasDefectImages)
        #expect(sampler.skipped.count == 2)
        #expect(sampler.skipped[0].file.hasSuffix("b_empty.png") && sampler.skipped[0].reason.contains("empty"))
        #expect(sampler.skipped[1].file.hasSuffix("c_broken.png") && sampler.skipped[1].reason.contains("unreadable"))
    }

    @Test func folderWithOnlyEmptyMasksOrNoFolderIsAnError() throws {
        let demo = try DemoFolder()
        defer { demo.remove() }
        let dir = try demo.folder("masks")
        try ImageFile.writePNG(rectMask(8, 8, nil), to: dir.appendingPathComponent("e.png"))
        #expect {
            try DefectMaskSampler(maskFolder: dir)
        } throws: { error in
            "\(error)".contains("no usable defect masks") && "\(error)".contains("e.png") && "\(error)".contains("empty")
        }
        #expect(throws: DefectSynthesisError.self) { try DefectMaskSampler(maskFolder: dir.appendingPathComponent("nope")) }
    }

    @Test func datasetMasksComeFromTheTrainSplitUnlessTestIsAsked() throws {
        // The demo data set's defects are all in the test split.
        let demo = try DemoFolder(testDefects: 3)
        defer { demo.remove() }
        #expect {
            try DefectMaskSampler(dataset: demo.dataset)
        } throws: { error in
            "\(error)".contains("train split") && "\(error)".contains("test split holds 3")
        }
        let sampler = try DefectMaskSampler(dataset: demo.dataset, includeTest: true)
        #expect(sampler.entries.count == 3 && sampler.hasDefectImages)
        #expect(sampler.entries.allSatisfy { $0.image != nil && !$0.regions.isEmpty })

        // A training defect (as a CSV manifest marks it) is used by default.
        let d = demo.defects[0]
        let moved = Dataset(name: "x", root: demo.root, layout: .csvManifest, samples: demo.dataset.samples.map {
            var s = $0
            if s == d { s.split = .train }
            return s
        })
        let trainOnly = try DefectMaskSampler(dataset: moved)
        #expect(trainOnly.entries.map(\.maskFile) == [d.mask!])
    }

    @Test func identityPlacementIsANearestResizeAndShiftsAndFlipsAreExact() throws {
        let m = rectMask(20, 10, PixelBox(x0: 2, y0: 1, x1: 6, y1: 4))
        #expect(DefectMaskSampler.place(m, .identity, width: 40, height: 20) == m.resizedNearest(width: 40, height: 20))
        let moved = DefectMaskSampler.place(m, MaskPlacement(shiftX: 5, shiftY: 2), width: 20, height: 10)
        #expect(foreground(moved) == Set((3..<6).flatMap { y in (7..<11).map { y * 20 + $0 } }))
        let flipped = DefectMaskSampler.place(m, MaskPlacement(flipHorizontal: true, flipVertical: true), width: 20, height: 10)
        #expect(foreground(flipped) == Set((6..<9).flatMap { y in (14..<18).map { y * 20 + $0 } }))
        // Scale 2 about the centre: columns 8..<12 -> 6..<14, rows 4..<6 -> 3..<7.
        let centred = rectMask(20, 10, PixelBox(x0: 8, y0: 4, x1: 12, y1: 6))
        let doubled = DefectMaskSampler.place(centred, MaskPlacement(scale: 2), width: 20, height: 10)
        #expect(foreground(doubled) == Set((3..<7).flatMap { y in (6..<14).map { y * 20 + $0 } }))
    }

    @Test func sampledMasksAreNonEmptyInsideTheTargetAndReproducible() throws {
        let masks = (0..<3).map { k in rectMask(32, 32, PixelBox(x0: 4 + 6 * k, y0: 5, x1: 9 + 6 * k, y1: 20)) }
        let entries = masks.enumerated().map { k, m in
            DefectMaskSampler.Entry(maskFile: URL(fileURLWithPath: "/m\(k).png"), image: nil, mask: m, regions: DefectRegionMap(mask: m))
        }
        let sampler = DefectMaskSampler(entries: entries, augmentation: .init(scaleRange: 0.7...1.3, maxShift: 0.5), source: "test")
        for seed in UInt64(0)..<20 {
            var rng = SplitMix64(seed: seed), again = SplitMix64(seed: seed)
            let drawn = try sampler.sample(width: 48, height: 40, rng: &rng)
            #expect(drawn.mask.width == 48 && drawn.mask.height == 40 && drawn.mask.channels == 1)
            let area = foreground(drawn.mask).count
            // A 5 x 15 rectangle at 1.5 x 1.25 of its size, scaled by 0.7...1.3: never shifted out of the image.
            let full = 5.0 * 15 * 1.5 * 1.25
            #expect(Double(area) >= 0.4 * full && Double(area) <= 1.9 * full, "seed \(seed): area \(area)")
            #expect(drawn.mask == DefectMaskSampler.place(entries[drawn.entryIndex].mask, drawn.placement, width: 48, height: 40))
            let second = try sampler.sample(width: 48, height: 40, rng: &again)
            #expect(second.mask == drawn.mask && second.placement == drawn.placement)
        }
    }
}
