import Foundation
import Testing
import ImageIO
import TensorCore
import TestSupport
@testable import Inpainting

@Suite struct ImageProcessingTests {
    @Test func cropRegionMatchesDiffusers() throws {
        let cases = Fixtures.meta.cropRegions
        #expect(cases.count >= 20)
        for c in cases {
            var px = [UInt8](repeating: 0, count: c.width * c.height)
            for r in c.rects {
                for y in r[1]..<r[3] { for x in r[0]..<r[2] { px[y * c.width + x] = UInt8(r[4]) } }
            }
            let mask = Image(width: c.width, height: c.height, channels: 1, pixels: px)
            let box = try #require(cropRegion(ofMask: mask, workingWidth: c.working[0], workingHeight: c.working[1], pad: c.pad))
            #expect([box.x0, box.y0, box.x1, box.y1] == c.region, "\(c.width)x\(c.height) pad \(c.pad) working \(c.working)")
        }
        #expect(cropRegion(ofMask: Image(width: 5, height: 5, channels: 1, pixels: [UInt8](repeating: 0, count: 25)),
                           workingWidth: 8, workingHeight: 8, pad: 1) == nil)
    }

    @Test func lanczosMatchesPillow() throws {
        let f = try Fixtures.pillow().lanczos
        let h = f.source.count, w = f.source[0].count
        let src = Image(width: w, height: h, channels: 3, pixels: f.source.flatMap { $0.flatMap { $0.map { UInt8($0) } } })
        for r in f.resized {
            let rgb = src.resizedLanczos(width: r.size[0], height: r.size[1])
            #expect(rgb.pixels == r.rgb.flatMap { $0.flatMap { $0.map { UInt8($0) } } }, "RGB \(r.size)")
            let gray = src.toGray().resizedLanczos(width: r.size[0], height: r.size[1])
            #expect(gray.pixels == r.gray.flatMap { $0.map { UInt8($0) } }, "L \(r.size)")
        }
    }

    @Test func maskBlurMatchesPillow() throws {
        let b = try Fixtures.pillow().blur
        let mask = Image(width: b.mask[0].count, height: b.mask.count, channels: 1, pixels: b.mask.flatMap { $0.map { UInt8($0) } })
        for r in b.blurred {
            let out = InpaintImageProcessor.blurred(mask, radius: r.radius)
            let ref = Image(width: mask.width, height: mask.height, channels: 1, pixels: r.pixels.flatMap { $0.map { UInt8($0) } })
            let d = maxPixelDifference(out, ref)
            print("blur radius \(r.radius): max pixel diff \(d)")
            #expect(d == 0, "radius \(r.radius)")
        }
        #expect(InpaintImageProcessor.blurred(mask, radius: 0) == mask)
    }

    /// Image and mask preprocessing (crop, fill resize, normalisation, binarisation, masking) reproduce the tensors
    /// diffusers handed to the VAE encoder, and the mask channel of the first UNet input.
    @Test(arguments: ["sd_case0", "sd_case1", "sdxl_case0", "sdxl_case1"])
    func preprocessingMatchesDiffusers(_ name: String) throws {
        let c = try #require(Fixtures.meta.cases[name])
        let t = try Fixtures.tensors(name)
        let image = try Fixtures.image(c.image), mask = try Fixtures.image(c.mask)
        var crop: CropBox?
        if let pad = c.paddingMaskCrop {
            let box: CropBox = try #require(cropRegion(ofMask: mask, workingWidth: c.width, workingHeight: c.height, pad: pad))
            #expect([box.x0, box.y0, box.x1, box.y1] == c.cropRegion!)
            crop = box
        }
        let mode: VAEResizeMode = crop == nil ? .stretch : .fill
        let x = InpaintImageProcessor.imageTensor(image, width: c.width, height: c.height, crop: crop, mode: mode)
        let m = InpaintImageProcessor.maskTensor(mask, width: c.width, height: c.height, crop: crop, mode: mode)
        var masked = x
        for ch in 0..<3 { for i in 0..<(c.width * c.height) where m.scalars[i] >= 0.5 { masked.scalars[ch * c.width * c.height + i] = 0 } }
        // strength < 1 encodes the image first, then the masked image.
        if c.strength < 1 {
            let d = relativeError(x, t["vae_encode_input_0"]!)
            print("\(name) init image: max abs diff \(d.abs)")
            #expect(d.abs == 0)
        }
        let maskedRef = t["vae_encode_input_\(c.strength < 1 ? 1 : 0)"]!
        let d = relativeError(masked, maskedRef)
        print("\(name) masked image: max abs diff \(d.abs)")
        #expect(d.abs == 0)
        // The mask at latent size is channel 4 of the UNet input.
        let small = InpaintImageProcessor.nearestDownsample(m, height: c.height / 8, width: c.width / 8)
        let sample = t["unet_sample_0"]!
        let plane = (c.height / 8) * (c.width / 8)
        let channel4 = Array(sample.scalars[(4 * plane)..<(5 * plane)])
        #expect(small.scalars == channel4)
    }

    /// Postprocess + apply_overlay of diffusers' decoded image gives diffusers' final 8-bit image exactly.
    @Test(arguments: ["sd_case1", "sdxl_case0"])
    func overlayMatchesDiffusers(_ name: String) throws {
        let c = try #require(Fixtures.meta.cases[name])
        let t = try Fixtures.tensors(name)
        let generated = try InpaintImageProcessor.postprocess(t["vae_decode_output_0"]!)
        let r = c.cropRegion!
        let box = CropBox(x0: r[0], y0: r[1], x1: r[2], y1: r[3])
        let out = try InpaintImageProcessor.applyOverlay(mask: try Fixtures.image(c.mask), original: try Fixtures.image(c.image),
                                                         generated: generated, crop: box)
        let ref = try Fixtures.image(c.output)
        let d = maxPixelDifference(out, ref)
        print("\(name) overlay: max pixel diff \(d)")
        #expect(d == 0)
    }

    @Test func postprocessMatchesDiffusersWithoutCrop() throws {
        let c = try #require(Fixtures.meta.cases["sd_case0"])
        let t = try Fixtures.tensors("sd_case0")
        let generated = try InpaintImageProcessor.postprocess(t["vae_decode_output_0"]!)
        #expect(maxPixelDifference(generated, try Fixtures.image(c.output)) == 0)
    }

    @Test func overlayKeepsOriginalOutsideMaskAndGeneratedInside() throws {
        var rng = SplitMix64(seed: 3)
        let w = 12, h = 9
        let original = Image(width: w, height: h, channels: 3, pixels: (0..<(w * h * 3)).map { _ in UInt8(rng.next() % 256) })
        let generated = Image(width: w, height: h, channels: 3, pixels: (0..<(w * h * 3)).map { _ in UInt8(rng.next() % 256) })
        let mask = Image(width: w, height: h, channels: 1, pixels: (0..<(w * h)).map { $0 % 3 == 0 ? 255 : 0 })
        let out = try InpaintImageProcessor.applyOverlay(mask: mask, original: original, generated: generated, crop: nil)
        for i in 0..<(w * h) {
            let src = mask.pixels[i] == 255 ? generated : original
            #expect(Array(out.pixels[(i * 3)..<(i * 3 + 3)]) == Array(src.pixels[(i * 3)..<(i * 3 + 3)]))
        }
    }

    @Test func nearestDownsampleMatchesTorchRule() {
        // 5 -> 2: torch picks floor(dst * 5 / 2) = 0, 2.
        let x = Tensor(shape: [1, 1, 1, 5], scalars: [0, 1, 2, 3, 4])
        #expect(InpaintImageProcessor.nearestDownsample(x, height: 1, width: 2).scalars == [0, 2])
        let y = Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4])
        #expect(InpaintImageProcessor.nearestDownsample(y, height: 4, width: 4).scalars
                == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
    }

    @Test func seededNoiseIsReproducibleAndStandardNormal() throws {
        var a = SeededGaussianNoise(seed: 11), b = SeededGaussianNoise(seed: 11), c = SeededGaussianNoise(seed: 12)
        let x = try a.noise(shape: [1, 4, 32, 32], purpose: .initialLatents)
        #expect(x == (try b.noise(shape: [1, 4, 32, 32], purpose: .initialLatents)))
        #expect(x != (try c.noise(shape: [1, 4, 32, 32], purpose: .initialLatents)))
        let n = Float(x.count)
        let mean = x.scalars.reduce(0, +) / n
        let variance = x.scalars.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / n
        #expect(abs(mean) < 0.05 && abs(variance - 1) < 0.08)
    }
}
