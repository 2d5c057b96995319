import Foundation
import Testing
import ImageIO
import TensorCore
import TestSupport
@testable import Inpainting

/// The inpainting loop against diffusers with the networks replayed: the text encoders, UNet and VAE return what
/// diffusers' got for the same inputs, and every input the pipeline hands them is compared with diffusers'. This
/// checks the glue (prompt embeddings and their order, guidance batch, time ids, preprocessing, VAE sampling noise,
/// mask latents, the 9-channel concatenation, strength, scheduler steps, decode scaling, postprocess, paste) apart
/// from the networks.
@Suite struct PipelineReplayTests {
    @Test(arguments: ["sd_case0", "sd_case1", "sdxl_case0", "sdxl_case1"])
    func loopMatchesDiffusers(_ name: String) throws {
        let c = try #require(Fixtures.meta.cases[name])
        let t = try Fixtures.tensors(name)
        let (model, unet, vae) = try replayModel(c, tensors: t)
        var noise = ReplayNoise(t: t)
        var worstStep: Float = 0
        var steps = 0
        let result = try InpaintingPipeline(model: model).run(try request(for: c), noise: &noise) { step in
            steps += 1
            if let ref = t["step_latents_\(step.index)"] { worstStep = max(worstStep, relativeError(step.latents, ref).rel) }
            else { worstStep = .infinity }
        }
        print("\(name): UNet input rel \(unet.worstInput), conditions \(unet.worstCondition), per-step latents rel "
              + "\(worstStep), VAE encode input abs \(vae.worstEncodeInput), decode input rel \(vae.worstDecodeInput)")
        #expect(noise.order == c.noiseOrder)
        #expect(steps == c.callbacks)
        #expect(unet.calls == c.unetCalls)
        #expect(vae.encodes == (c.strength < 1 ? 2 : 1))
        #expect(unet.worstInput <= 1e-5)
        #expect(unet.worstCondition <= 1e-6)
        #expect(worstStep <= 1e-5)
        #expect(vae.worstEncodeInput == 0)
        #expect(vae.worstDecodeInput <= 1e-5)
        #expect(result.warnings.isEmpty)
        let reference = try Fixtures.image(c.output)
        if c.paddingMaskCrop != nil {
            #expect(result.cropRegion.map { [$0.x0, $0.y0, $0.x1, $0.y1] } == c.cropRegion)
            let d = maxPixelDifference(result.image, reference)
            print("\(name): final image max pixel diff \(d)")
            #expect(d == 0)
        } else {
            // diffusers returns the generated image as is; ours is also pasted over the original.
            #expect(maxPixelDifference(result.generated, reference) == 0)
            let original = try Fixtures.image(c.image), mask = try Fixtures.image(c.mask)
            for i in 0..<(mask.width * mask.height) {
                let src = mask.pixels[i] == 0 ? original : (mask.pixels[i] == 255 ? result.generated : nil)
                if let s = src { #expect(Array(result.image.pixels[(3 * i)..<(3 * i + 3)]) == Array(s.pixels[(3 * i)..<(3 * i + 3)])) }
            }
        }
    }

    @Test func emptyMaskIsRefused() throws {
        let c = try #require(Fixtures.meta.cases["sd_case0"])
        let t = try Fixtures.tensors("sd_case0")
        let (model, unet, _) = try replayModel(c, tensors: t)
        var r = try request(for: c)
        r.mask = Image(width: r.image.width, height: r.image.height, channels: 1,
                       pixels: [UInt8](repeating: 100, count: r.image.width * r.image.height))
        r.source = "good_001.png"
        var noise = ReplayNoise(t: t)
        #expect(throws: InpaintingError.emptyMask(source: "good_001.png")) {
            try InpaintingPipeline(model: model).run(r, noise: &noise)
        }
        #expect(unet.calls == 0)
    }

    @Test func maskOfAnotherSizeIsResizedWithAWarning() throws {
        let c = try #require(Fixtures.meta.cases["sd_case0"])
        let t = try Fixtures.tensors("sd_case0")
        let (model, unet, _) = try replayModel(c, tensors: t)
        var r = try request(for: c)
        // Twice the size, nearest-upsampled: resizing it back gives the fixture's mask exactly.
        r.mask = r.mask.resizedNearest(width: r.mask.width * 2, height: r.mask.height * 2)
        var noise = ReplayNoise(t: t)
        let result = try InpaintingPipeline(model: model).run(r, noise: &noise)
        #expect(result.warnings.count == 1)
        #expect(result.warnings.first?.contains("mask resized") == true)
        #expect(result.mask == (try Fixtures.image(c.mask)))
        #expect(unet.worstInput <= 1e-5)
    }

    @Test func longPromptIsTruncatedWithAWarning() throws {
        let c = try #require(Fixtures.meta.cases["sd_case0"])
        let t = try Fixtures.tensors("sd_case0")
        var (model, _, _) = try replayModel(c, tensors: t)
        var tok = model.tokenizers[0] as! ReplayTokenizer
        tok.dropped[c.prompt] = 12
        model.tokenizers = [tok]
        var noise = ReplayNoise(t: t)
        let result = try InpaintingPipeline(model: model).run(try request(for: c), noise: &noise)
        #expect(result.warnings.count == 1)
        #expect(result.warnings[0].contains("longer than 77 tokens") && result.warnings[0].contains("12"))
    }

    @Test func textToImageUNetIsRefused() throws {
        let c = try #require(Fixtures.meta.cases["sd_case0"])
        let t = try Fixtures.tensors("sd_case0")
        var (model, _, _) = try replayModel(c, tensors: t)
        model.unet = ReplayUNet(tensors: t, inChannels: 4)
        var noise = ReplayNoise(t: t)
        #expect(throws: InpaintingError.self) { try InpaintingPipeline(model: model).run(try request(for: c), noise: &noise) }
    }

    @Test func cancellationStopsBeforeTheNextStep() async throws {
        let c = try #require(Fixtures.meta.cases["sd_case0"])
        let t = try Fixtures.tensors("sd_case0")
        let (model, unet, _) = try replayModel(c, tensors: t)
        let r = try request(for: c)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            var noise = ReplayNoise(t: t)
            return try InpaintingPipeline(model: model).run(r, noise: &noise)
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(unet.calls == 0)
    }

    @Test func sdxlTimeIDs() throws {
        let c = try #require(Fixtures.meta.cases["sdxl_case0"])
        let t = try Fixtures.tensors("sdxl_case0")
        var (model, _, _) = try replayModel(c, tensors: t)
        let p = InpaintingPipeline(model: model)
        #expect(p.addTimeIDs(width: 64, height: 64, aestheticScore: 6, negativeAestheticScore: 2.5, guidance: true)
                == t["unet_time_ids_0"]!)
        model.requiresAestheticsScore = true
        let a = InpaintingPipeline(model: model).addTimeIDs(width: 96, height: 64, aestheticScore: 6,
                                                            negativeAestheticScore: 2.5, guidance: true)
        #expect(a.shape == [2, 5] && a.scalars == [64, 96, 0, 0, 2.5, 64, 96, 0, 0, 6])
    }
}
