import Foundation
import Testing
import Datasets
import ImageIO
import TensorCore
@testable import Defects

@Suite struct ClassicalDefectGeneratorTests {
    func generator(_ demo: DemoFolder, _ configure: (inout ClassicalGeneratorOptions) -> Void = { _ in }) throws -> ClassicalDefectGenerator {
        var options = ClassicalGeneratorOptions()
        configure(&options)
        let masks = try DefectMaskSampler(dataset: demo.dataset, includeTest: true)
        return try ClassicalDefectGenerator(goodImages: demo.goodImages, masks: masks, options: options)
    }

    @Test func sameSeedGivesTheSameSampleAndSeedsDiffer() throws {
        let demo = try DemoFolder()
        defer { demo.remove() }
        let gen = try generator(demo)
        #expect(gen.methods == [.cutPaste, .perlinTexture, .perlinIntensity])
        var images: [Image] = []
        for seed in UInt64(0)..<6 {
            let a = try gen.sample(seed: seed), b = try gen.sample(seed: seed)
            #expect(a == b)
            images.append(a.image)
        }
        #expect(Set(images.map(\.pixels)).count == images.count)
    }

    @Test func masksAreExactlyThePixelsThatChanged() throws {
        let demo = try DemoFolder()
        defer { demo.remove() }
        let gen = try generator(demo)
        var minChangedShare = 1.0
        var methods: Set<String> = []
        for seed in UInt64(100)..<136 {
            let s = try gen.sample(seed: seed)
            let good = try ImageFile.read(URL(fileURLWithPath: try #require(s.record.sourceImage)))
            #expect(s.image.width == good.width && s.image.height == good.height && s.image.channels == good.channels)
            #expect(s.mask.width == good.width && s.mask.height == good.height && s.mask.channels == 1)
            #expect(s.mask.pixels.allSatisfy { $0 == 0 || $0 == 255 })
            let changed = changedPixels(s.image, good), masked = foreground(s.mask)
            #expect(!masked.isEmpty)
            #expect(changed.isSubset(of: masked), "seed \(seed) \(s.record.method!): \(changed.subtracting(masked).count) changed pixels outside the mask")
            minChangedShare = min(minChangedShare, Double(changed.count) / Double(masked.count))
            methods.insert(s.record.method!)
        }
        print("classical: smallest share of mask pixels that changed: \(minChangedShare)")
        #expect(methods.count == 3)
        #expect(minChangedShare > 0.5)
    }

    @Test func cutPasteWithoutTransformCopiesTheDefectPixelsExactly() throws {
        let demo = try DemoFolder(size: 96)
        defer { demo.remove() }
        for feather in [0.0, 1.0] {
            let gen = try generator(demo) {
                $0.methods = [.cutPaste]; $0.scaleRange = 1...1; $0.angleRange = 0...0
                $0.featherSigma = feather; $0.matchColour = false
            }
            for seed in UInt64(0)..<6 {
                let s = try gen.sample(seed: seed)
                let p = s.record.parameters
                let defect = try ImageFile.read(URL(fileURLWithPath: try #require(p["defect_image"])))
                let map = DefectRegionMap(mask: try ImageFile.read(URL(fileURLWithPath: try #require(s.record.sourceMask))))
                let region = map.regions[try #require(Int(p["region_index"] ?? ""))]
                let box = try #require(p["crop_box"]).split(separator: ",").compactMap { Int($0) }
                let x = try #require(Int(p["x"] ?? "")), y = try #require(Int(p["y"] ?? ""))
                let W = s.image.width, C = s.image.channels
                var target = Set<Int>(), mismatches = 0
                for py in region.box.y0..<region.box.y1 {
                    for px in region.box.x0..<region.box.x1 where map.labels[py * map.width + px] == Int32(region.label) {
                        let o = (y + py - box[1]) * W + (x + px - box[0])
                        target.insert(o)
                        // With a feather, only pixels 3 sigma inside the region keep alpha 1; check all with sigma 0.
                        let interior = feather == 0 || (-3...3).allSatisfy { dy in (-3...3).allSatisfy { dx in
                            let qx = px + dx, qy = py + dy
                            return qx >= 0 && qy >= 0 && qx < map.width && qy < map.height && map.labels[qy * map.width + qx] == Int32(region.label)
                        } }
                        if interior && (0..<C).contains(where: { s.image.pixels[o * C + $0] != defect.pixels[(py * defect.width + px) * C + $0] }) {
                            mismatches += 1
                        }
                    }
                }
                #expect(mismatches == 0, "feather \(feather) seed \(seed): \(mismatches) defect pixels not copied")
                if feather == 0 {
                    #expect(foreground(s.mask) == target)
                } else {
                    #expect(target.isSubset(of: foreground(s.mask)))
                }
            }
        }
    }

    @Test func rotatedAndScaledPasteMovesTheRegionShape() {
        // A 12 x 8 block of colour (200, 30, 30) with padding 4 in a 20 x 16 crop; good image grey.
        let cw = 20, ch = 16
        var crop = [UInt8](repeating: 90, count: cw * ch * 3), mask = [UInt8](repeating: 0, count: cw * ch)
        for y in 4..<12 { for x in 4..<16 { mask[y * cw + x] = 255; crop[(y * cw + x) * 3] = 200; crop[(y * cw + x) * 3 + 1] = 30; crop[(y * cw + x) * 3 + 2] = 30 } }
        let cropImage = Image(width: cw, height: ch, channels: 3, pixels: crop), cropMask = Image(width: cw, height: ch, channels: 1, pixels: mask)
        let good = Image(width: 64, height: 64, channels: 3, pixels: [UInt8](repeating: 120, count: 64 * 64 * 3))
        let turned = CutPaste.paste(crop: cropImage, cropMask: cropMask, onto: good, scale: 1, angleDegrees: 90, x: 20, y: 20,
                                    featherSigma: 0, matchColour: false, alphaThreshold: 0.05)
        // Centre (30, 28): the block becomes 8 wide, 12 tall: columns 26..<34, rows 22..<34.
        #expect(foreground(turned.mask) == Set((22..<34).flatMap { y in (26..<34).map { y * 64 + $0 } }))
        #expect(foreground(turned.mask).allSatisfy { Array(turned.image.pixels[($0 * 3)..<($0 * 3 + 3)]) == [200, 30, 30] })
        let doubled = CutPaste.paste(crop: cropImage, cropMask: cropMask, onto: good, scale: 2, angleDegrees: 0, x: 20, y: 20,
                                     featherSigma: 0, matchColour: false, alphaThreshold: 0.05)
        let area = foreground(doubled.mask).count
        // 24 x 16 pixels of full alpha plus a one-pixel ring of partial (bilinear) alpha above the threshold.
        #expect(area >= 24 * 16 && area <= 26 * 18, "scaled area \(area)")
        // Colour matching moves the crop's context level (90) to the target's (120): the block becomes (230, 60, 60).
        let matched = CutPaste.paste(crop: cropImage, cropMask: cropMask, onto: good, scale: 1, angleDegrees: 0, x: 20, y: 20,
                                     featherSigma: 0, matchColour: true, alphaThreshold: 0.05)
        #expect(matched.colourShift == [30, 30, 30])
        #expect(foreground(matched.mask).allSatisfy { Array(matched.image.pixels[($0 * 3)..<($0 * 3 + 3)]) == [230, 60, 60] })
    }

    @Test func withoutRealDefectsOnlyProceduralMethodsRun() throws {
        let demo = try DemoFolder()
        defer { demo.remove() }
        let gen = try ClassicalDefectGenerator(goodImages: demo.goodImages)
        #expect(gen.methods == [.perlinTexture, .perlinIntensity])
        var options = ClassicalGeneratorOptions()
        options.methods = [.cutPaste]
        #expect {
            try ClassicalDefectGenerator(goodImages: demo.goodImages, options: options)
        } throws: { "\($0)".contains("cut_paste") && "\($0)".contains("perlin_texture") }
        // Mask files alone carry no defect pixels.
        let dir = try demo.folder("masks")
        try FileManager.default.copyItem(at: try #require(demo.defects[0].mask), to: dir.appendingPathComponent("m.png"))
        let files = try DefectMaskSampler(maskFolder: dir)
        #expect {
            try ClassicalDefectGenerator(goodImages: demo.goodImages, masks: files, options: options)
        } throws: { "\($0)".contains("without defect images") }
        #expect(throws: DefectSynthesisError.noGoodImages(source: "good image list")) { try ClassicalDefectGenerator(goodImages: []) }
    }

    @Test func everySampleRegeneratesFromItsRecordAlone() throws {
        let demo = try DemoFolder()
        defer { demo.remove() }
        let dir = try demo.folder("masks")
        for (k, d) in demo.defects.enumerated() {
            try FileManager.default.copyItem(at: try #require(d.mask), to: dir.appendingPathComponent("m\(k).png"))
        }
        var fileOptions = ClassicalGeneratorOptions()
        fileOptions.givenMaskProbability = 1
        let fromFiles = try ClassicalDefectGenerator(goodImages: demo.goodImages, masks: try DefectMaskSampler(maskFolder: dir),
                                                     options: fileOptions)
        let fromData = try generator(demo)
        var kinds: Set<String> = []
        for gen in [fromFiles, fromData] {
            for seed in UInt64(0)..<12 {
                let s = try gen.sample(seed: seed)
                var record = s.record
                record.id = "x"
                // Through JSON, as the manifest stores it.
                let decoded = try JSONDecoder().decode(SyntheticDefectRecord.self, from: try JSONEncoder().encode(record))
                let again = try ClassicalDefectGenerator.regenerate(record: decoded)
                #expect(again.image == s.image && again.mask == s.mask, "seed \(seed) \(s.record.method!)")
                kinds.insert("\(s.record.method!)/\(s.record.parameters["mask_source"] ?? "-")/\(s.record.parameters["texture"] ?? "-")")
            }
        }
        print("regenerated kinds: \(kinds.sorted())")
        #expect(kinds.contains { $0.hasPrefix("cut_paste") } && kinds.contains { $0.contains("/file/") } && kinds.contains { $0.contains("/perlin/") })
        var foreign = try fromData.sample(seed: 1).record
        foreign.generator = "diffusion"
        #expect(throws: DefectSynthesisError.self) { try ClassicalDefectGenerator.regenerate(record: foreign) }
        var broken = try fromData.sample(seed: 1).record
        broken.parameters["alpha_threshold"] = nil
        #expect(throws: DefectSynthesisError.self) { try ClassicalDefectGenerator.regenerate(record: broken) }
    }

    @Test func grayGoodImagesGiveGrayDefectsAndMismatchedMasksAreResized() throws {
        let demo = try DemoFolder()
        defer { demo.remove() }
        let grayDir = try demo.folder("gray")
        var grays: [URL] = []
        for (k, url) in demo.goodImages.enumerated() {
            let g = grayDir.appendingPathComponent("g\(k).png")
            try ImageFile.writePNG(try ImageFile.read(url).toGray(), to: g)
            grays.append(g)
        }
        // One defect whose mask is half its image's size.
        let d = demo.defects[0]
        let small = try demo.folder("small").appendingPathComponent("mask.png")
        try ImageFile.writePNG(try ImageFile.read(try #require(d.mask)).resizedNearest(width: 32, height: 32), to: small)
        let entry = DefectMaskSampler.Entry(maskFile: small, image: d.image, mask: try ImageFile.read(small),
                                            regions: DefectRegionMap(mask: try ImageFile.read(small)))
        var options = ClassicalGeneratorOptions()
        options.methods = [.cutPaste, .perlinTexture]
        let gen = try ClassicalDefectGenerator(goodImages: grays, masks: DefectMaskSampler(entries: [entry], source: "test"), options: options)
        var sawCutPaste = false
        for seed in UInt64(0)..<6 {
            let s = try gen.sample(seed: seed)
            #expect(s.image.channels == 1)
            let good = try ImageFile.read(URL(fileURLWithPath: s.record.sourceImage!))
            #expect(changedPixels(s.image, good).isSubset(of: foreground(s.mask)))
            if s.record.method == "cut_paste" {
                sawCutPaste = true
                #expect(s.record.parameters["mask_resized"] == "true")
            }
        }
        #expect(sawCutPaste)
    }
}
