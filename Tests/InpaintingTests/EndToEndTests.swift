import Foundation
import Testing
import ImageIO
import Defects
import TensorCore
import TestSupport
@testable import Inpainting

/// The tiny diffusers folders loaded with the Swift networks (CLIP, UNet, VAE) and run end to end with diffusers'
/// noise: token ids, prompt embeddings, every UNet input, per-step latents, the decoded image and the final 8-bit
/// image against diffusers 0.42.1.
@Suite struct InpaintingEndToEndTests {
    /// Wraps a real component and compares what flows through it with the recording.
    final class CheckedUNet: InpaintingDenoiser, @unchecked Sendable {
        let inner: any InpaintingDenoiser
        let t: [String: Tensor]
        private(set) var calls = 0
        private(set) var worstInput: Float = 0, worstOutput: Float = 0, worstConditioning: Float = 0
        init(_ inner: any InpaintingDenoiser, _ t: [String: Tensor]) { self.inner = inner; self.t = t }
        var inChannels: Int { inner.inChannels }
        func predictNoise(sample: Tensor, timestep: Float, encoderHiddenStates: Tensor,
                          addedConditions: AddedConditions?) throws -> Tensor {
            let k = calls
            calls += 1
            worstInput = max(worstInput, relativeError(sample, t["unet_sample_\(k)"]!).rel)
            worstConditioning = max(worstConditioning, relativeError(encoderHiddenStates, t["unet_encoder_hidden_states_0"]!).rel)
            if let a = addedConditions {
                worstConditioning = max(worstConditioning, relativeError(a.textEmbeds, t["unet_text_embeds_0"]!).rel)
            }
            let out = try inner.predictNoise(sample: sample, timestep: timestep, encoderHiddenStates: encoderHiddenStates,
                                             addedConditions: addedConditions)
            worstOutput = max(worstOutput, relativeError(out, t["unet_output_\(k)"]!).rel)
            return out
        }
    }

    @Test(arguments: ["sd_case0", "sd_case1", "sdxl_case0", "sdxl_case1"])
    func tinyPipelineMatchesDiffusers(_ name: String) throws {
        let c = try #require(Fixtures.meta.cases[name])
        let t = try Fixtures.tensors(name)
        let folder = try DiffusersModelFolder.open(Fixtures.url(c.model), variant: c.family == "sdxl" ? "fp16" : nil)
        var model = try InpaintingModel.load(folder)
        // Token ids of both prompts, per tokenizer.
        let texts = [c.prompt] + (c.negativePrompt.map { [$0] } ?? [])
        for (e, tok) in model.tokenizers.enumerated() {
            for (k, text) in texts.enumerated() {
                #expect(try tok.tokenize(text).ids == ids(t["te\(e + 1)_input_ids_\(k)"]!), "\(name) tokenizer \(e + 1) \"\(text)\"")
            }
        }
        let unet = CheckedUNet(model.unet, t)
        model.unet = unet
        var noise = ReplayNoise(t: t)
        var worstStep: Float = 0
        let result = try InpaintingPipeline(model: model).run(try request(for: c), noise: &noise) { step in
            worstStep = max(worstStep, relativeError(step.latents, t["step_latents_\(step.index)"]!).rel)
        }
        let decoded = relativeError(result.decoded, t["vae_decode_output_0"]!)
        let reference = try Fixtures.image(c.output)
        let pixels = maxPixelDifference(c.paddingMaskCrop == nil ? result.generated : result.image, reference)
        print("\(name) end to end: conditioning rel \(unet.worstConditioning), UNet input rel \(unet.worstInput), "
              + "UNet output rel \(unet.worstOutput), per-step latents rel \(worstStep), decoded rel \(decoded.rel) "
              + "(abs \(decoded.abs)), final max pixel diff \(pixels)")
        #expect(unet.calls == c.unetCalls)
        #expect(unet.worstConditioning <= 1e-4)
        #expect(unet.worstOutput <= 1e-4)
        #expect(worstStep <= 1e-4)
        #expect(decoded.rel <= 1e-3)
        #expect(pixels <= 1)
    }

    @Test func longPromptIsTruncatedLikeCLIPWithAWarning() throws {
        let c = try #require(Fixtures.meta.cases["sd_case0"])
        let t = try Fixtures.tensors("sd_case0")
        var model = try InpaintingModel.load(try DiffusersModelFolder.open(Fixtures.url("sd_tiny")))
        let long = Array(repeating: "copper metal scratches", count: 40).joined(separator: " ")
        let tok = try model.tokenizers[0].tokenize(long)
        #expect(tok.ids.count == 77 && tok.droppedTokens > 0)
        model.unet = CheckedUNet(model.unet, t)
        var r = try request(for: c)
        r.prompt = long
        var noise = ReplayNoise(t: t)
        let result = try InpaintingPipeline(model: model).run(r, noise: &noise)
        #expect(result.warnings.count == 1)
        #expect(result.warnings[0].contains("\(tok.droppedTokens) token"))
    }

    /// diffusers' clip_skip conditions the prompt on an earlier layer and leaves the negative prompt alone; the
    /// layer choice itself is checked against transformers in CLIPTextModelTests.
    @Test(arguments: ["sd_tiny", "sdxl_tiny"])
    func clipSkipChangesThePromptOnly(_ name: String) throws {
        let folder = try DiffusersModelFolder.open(Fixtures.url(name), variant: name == "sdxl_tiny" ? "fp16" : nil)
        let pipeline = InpaintingPipeline(model: try InpaintingModel.load(folder))
        var warnings: [String] = []
        let plain = try pipeline.encodePrompt("copper metal scratches", negativePrompt: "smooth, plain", guidance: true,
                                              warnings: &warnings)
        let skipped = try pipeline.encodePrompt("copper metal scratches", negativePrompt: "smooth, plain", guidance: true,
                                                clipSkip: 1, warnings: &warnings)
        let half = plain.hiddenStates.count / 2
        #expect(Array(skipped.hiddenStates.scalars[..<half]) == Array(plain.hiddenStates.scalars[..<half]))  // negative
        #expect(Array(skipped.hiddenStates.scalars[half...]) != Array(plain.hiddenStates.scalars[half...]))  // prompt
        #expect(skipped.pooled?.scalars == plain.pooled?.scalars)  // pooled output: unchanged, as in diffusers
        let zero = try pipeline.encodePrompt("copper metal scratches", negativePrompt: "smooth, plain", guidance: true,
                                             clipSkip: 0, warnings: &warnings)
        #expect(zero.hiddenStates.scalars == plain.hiddenStates.scalars)
        #expect(throws: InpaintingError.self) {
            _ = try pipeline.encodePrompt("x", negativePrompt: nil, guidance: false, clipSkip: 50, warnings: &warnings)
        }
    }

    @Test func synthesisJobWithTheTinyModel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synth-e2e-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = try DiffusersModelFolder.open(Fixtures.url("sdxl_tiny"), variant: "fp16")
        let pipeline = InpaintingPipeline(model: try InpaintingModel.load(folder))
        let settings = DiffusionSynthesisSettings(
            model: folder.root.path, prompts: ["white marks on the wall"], negativePrompt: "smooth, plain, black, dark, shadow",
            perPrompt: 2, steps: 3, guidanceScale: 20, strength: 0.99, paddingMaskCrop: 2, width: 64, height: 64,
            scheduler: "EulerDiscreteScheduler", seed: 1)
        let job = DiffusionSynthesisJob(settings: settings, goodImages: [Fixtures.url("sdxl_case0_image.png")],
                                        masks: MaskFiles(files: [Fixtures.url("sdxl_case0_mask.png")]))
        var steps: [Double] = []
        let summary = try job.run(pipeline: pipeline, writer: try SyntheticDefectSet.Writer(folder: dir)) { e in
            if case let .step(_, s) = e { steps.append(s.seconds) }
        }
        #expect(summary.written == 2 && steps.count == 2 * 2)  // strength 0.99 of 3 steps: 2 run
        let records = try SyntheticDefectSet.records(in: dir)
        let good = try Fixtures.image("sdxl_case0_image.png")
        let a = try ImageFile.read(dir.appendingPathComponent(records[0].image))
        let b = try ImageFile.read(dir.appendingPathComponent(records[1].image))
        let mask = try ImageFile.read(dir.appendingPathComponent(records[0].mask))
        #expect(a != b)  // different seeds
        for i in 0..<(mask.width * mask.height) where mask.pixels[i] == 0 {
            #expect(Array(a.pixels[(3 * i)..<(3 * i + 3)]) == Array(good.pixels[(3 * i)..<(3 * i + 3)]))
        }
    }
}
