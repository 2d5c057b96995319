import Foundation
import Testing
import Defects
import ImageIO
import TensorCore
@testable import Inpainting

/// Small deterministic stand-ins for the networks: the job logic does not depend on what they compute.
struct FakeTokenizer: PromptTokenizer {
    func tokenize(_ text: String) throws -> TokenizedPrompt {
        let body = text.utf8.map { Int($0) % 97 + 1 }
        let kept = Array(body.prefix(75))
        return TokenizedPrompt(ids: ([0] + kept + [99] + [Int](repeating: 99, count: 75 - kept.count)),
                               droppedTokens: body.count - kept.count)
    }
}

struct FakeTextEncoder: PromptTextEncoder {
    func encode(tokenIDs: [Int]) throws -> TextEncoderOutput {
        let h = Tensor(shape: [1, 77, 4], scalars: tokenIDs.flatMap { id in (0..<4).map { Float(id * ($0 + 1)) / 400 } })
        return TextEncoderOutput(lastHiddenState: h, penultimateHiddenState: h, pooled: Tensor(zeros: [1, 4]))
    }
}

final class FakeUNet: InpaintingDenoiser, @unchecked Sendable {
    let inChannels = 9
    private let lock = NSLock()
    private(set) var calls = 0
    func predictNoise(sample: Tensor, timestep: Float, encoderHiddenStates: Tensor,
                      addedConditions: AddedConditions?) throws -> Tensor {
        lock.lock(); calls += 1; lock.unlock()
        let b = sample.shape[0], h = sample.shape[2], w = sample.shape[3]
        var out = [Float](repeating: 0, count: b * 4 * h * w)
        for n in 0..<b { for i in 0..<(4 * h * w) { out[n * 4 * h * w + i] = 0.1 * sample.scalars[n * 9 * h * w + i] } }
        return Tensor(shape: [b, 4, h, w], scalars: out)
    }
}

struct FakeVAE: InpaintingAutoencoder {
    let scalingFactor: Float = 0.5
    let latentChannels = 4
    let downscaleFactor = 8
    func encode(_ image: Tensor) throws -> LatentDistribution {
        let h = image.shape[2] / 8, w = image.shape[3] / 8
        var mean = [Float](repeating: 0, count: 4 * h * w)
        for y in 0..<h { for x in 0..<w { for c in 0..<4 { mean[(c * h + y) * w + x] = image.scalars[(8 * y) * image.shape[3] + 8 * x] } } }
        return LatentDistribution(mean: Tensor(shape: [1, 4, h, w], scalars: mean), logVariance: Tensor(repeating: -4, shape: [1, 4, h, w]))
    }
    func decode(_ latents: Tensor) throws -> Tensor {
        let h = latents.shape[2], w = latents.shape[3], H = 8 * h, W = 8 * w
        var out = [Float](repeating: 0, count: 3 * H * W)
        for c in 0..<3 { for y in 0..<H { for x in 0..<W { out[(c * H + y) * W + x] = tanh(latents.scalars[(c * h + y / 8) * w + x / 8]) } } }
        return Tensor(shape: [1, 3, H, W], scalars: out)
    }
}

@Suite struct SynthesisJobTests {
    struct Setup {
        var dir: URL
        var goods: [URL]
        var masks: [URL]
        var unet: FakeUNet
        var pipeline: InpaintingPipeline
    }

    func setup(emptyMask: Bool = false) throws -> Setup {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: 1)
        var goods: [URL] = []
        for i in 0..<3 {
            let im = Image(width: 24, height: 16, channels: 3, pixels: (0..<(24 * 16 * 3)).map { _ in UInt8(rng.next() % 256) })
            let u = dir.appendingPathComponent("good_\(i).png")
            try ImageFile.writePNG(im, to: u)
            goods.append(u)
        }
        var masks: [URL] = []
        for i in 0..<2 {
            var px = [UInt8](repeating: 0, count: 24 * 16)
            if !(emptyMask && i == 1) { for y in 4..<9 { for x in (3 + 8 * i)..<(9 + 8 * i) { px[y * 24 + x] = 255 } } }
            let u = dir.appendingPathComponent("mask_\(i).png")
            try ImageFile.writePNG(Image(width: 24, height: 16, channels: 1, pixels: px), to: u)
            masks.append(u)
        }
        let folder = try DiffusersModelFolder.open(Fixtures.url("sd_tiny"))
        let unet = FakeUNet()
        let model = InpaintingModel(family: .stableDiffusion, tokenizers: [FakeTokenizer()], textEncoders: [FakeTextEncoder()],
                                    unet: unet, vae: FakeVAE(), scheduler: try folder.scheduler())
        return Setup(dir: dir, goods: goods, masks: masks, unet: unet, pipeline: InpaintingPipeline(model: model))
    }

    func settings(perPrompt: Int) -> DiffusionSynthesisSettings {
        DiffusionSynthesisSettings(model: "sd_tiny", prompts: ["white marks on the wall", "copper metal scratches"],
                                   negativePrompt: "smooth, plain", perPrompt: perPrompt, steps: 3, guidanceScale: 5,
                                   strength: 1, paddingMaskCrop: 2, width: 16, height: 16, scheduler: "PNDMScheduler", seed: 9)
    }

    @Test func writesEverySampleWithItsParametersAndResumes() throws {
        let s = try setup()
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let out = s.dir.appendingPathComponent("out")
        let job = DiffusionSynthesisJob(settings: settings(perPrompt: 2), goodImages: s.goods, masks: MaskFiles(files: s.masks))
        var steps = 0
        let first = try job.run(pipeline: s.pipeline, writer: try SyntheticDefectSet.Writer(folder: out)) { e in
            if case .step = e { steps += 1 }
        }
        #expect(first == DiffusionSynthesisSummary(written: 4, alreadyPresent: 0, skipped: 0))
        #expect(steps == 4 * 4)  // PNDM: 3 steps -> 4 model calls
        let records = try SyntheticDefectSet.records(in: out)
        #expect(records.map(\.id) == ["diffusion_p0_000000", "diffusion_p0_000001", "diffusion_p1_000000", "diffusion_p1_000001"])
        let plan = job.plan()
        for (r, p) in zip(records, plan) {
            #expect(r.generator == "diffusion" && r.seed == p.seed)
            #expect(r.sourceImage == s.goods[p.imageIndex].path && r.sourceMask == s.masks[p.maskIndex].path)
            #expect(r.prompt == job.settings.prompts[p.promptIndex] && r.negativePrompt == "smooth, plain")
            for key in ["model", "scheduler", "steps", "guidance_scale", "strength", "padding_mask_crop", "width", "height",
                        "mask_blur", "base_seed", "crop_region", "family"] {
                #expect(r.parameters[key] != nil, "missing \(key)")
            }
            #expect(r.parameters["padding_mask_crop"] == "2" && r.parameters["steps"] == "3")
            // The written mask is the source mask; outside it the image is the source image.
            let image = try ImageFile.read(out.appendingPathComponent(r.image))
            let mask = try ImageFile.read(out.appendingPathComponent(r.mask))
            let good = try ImageFile.read(s.goods[p.imageIndex])
            #expect(mask == (try ImageFile.read(s.masks[p.maskIndex])))
            for i in 0..<(24 * 16) where mask.pixels[i] == 0 {
                #expect(Array(image.pixels[(3 * i)..<(3 * i + 3)]) == Array(good.pixels[(3 * i)..<(3 * i + 3)]))
            }
        }
        // Same settings, same plan; different seed, different seeds.
        #expect(plan == DiffusionSynthesisJob(settings: settings(perPrompt: 2), goodImages: s.goods, masks: MaskFiles(files: s.masks)).plan())
        var other = settings(perPrompt: 2); other.seed = 10
        #expect(plan.map(\.seed) != DiffusionSynthesisJob(settings: other, goodImages: s.goods, masks: MaskFiles(files: s.masks)).plan().map(\.seed))

        // Rerun with one more per prompt: only the two new samples run.
        let callsBefore = s.unet.calls
        let bigger = DiffusionSynthesisJob(settings: settings(perPrompt: 3), goodImages: s.goods, masks: MaskFiles(files: s.masks))
        let second = try bigger.run(pipeline: s.pipeline, writer: try SyntheticDefectSet.Writer(folder: out))
        #expect(second == DiffusionSynthesisSummary(written: 2, alreadyPresent: 4, skipped: 0))
        #expect(s.unet.calls - callsBefore == 2 * 4 * 1)  // batch 2 per call, counted once per call
        #expect(try SyntheticDefectSet.records(in: out).count == 6)
        // Samples do not depend on which others ran: a fresh folder regenerates p1_000002 identically.
        let fresh = s.dir.appendingPathComponent("fresh")
        _ = try bigger.run(pipeline: s.pipeline, writer: try SyntheticDefectSet.Writer(folder: fresh))
        #expect(try ImageFile.read(out.appendingPathComponent("images/diffusion_p1_000002.png"))
                == (try ImageFile.read(fresh.appendingPathComponent("images/diffusion_p1_000002.png"))))
    }

    @Test func emptyMaskSamplesAreSkippedWithAnEvent() throws {
        let s = try setup(emptyMask: true)
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let out = s.dir.appendingPathComponent("out")
        let job = DiffusionSynthesisJob(settings: settings(perPrompt: 4), goodImages: s.goods, masks: MaskFiles(files: s.masks))
        let emptyPlanned = job.plan().filter { $0.maskIndex == 1 }.count
        #expect(emptyPlanned > 0)
        var reasons: [String] = []
        let summary = try job.run(pipeline: s.pipeline, writer: try SyntheticDefectSet.Writer(folder: out)) { e in
            if case let .skipped(_, reason) = e { reasons.append(reason) }
        }
        #expect(summary.skipped == emptyPlanned && summary.written == 8 - emptyPlanned)
        #expect(reasons.allSatisfy { $0.contains("empty mask") })
        #expect(try SyntheticDefectSet.records(in: out).count == 8 - emptyPlanned)
    }

    @Test func sampleIDsAndSeeds() {
        typealias Job = DiffusionSynthesisJob<MaskFiles>
        #expect(Job.sampleID(prompt: 0, index: 12) == "diffusion_p0_000012")
        #expect(Job.sampleID(prompt: 3, index: 1_234_567) == "diffusion_p3_1234567")
        let seeds = Set((0..<3).flatMap { p in (0..<50).map { Job.sampleSeed(base: 7, prompt: p, index: $0) } })
        #expect(seeds.count == 150)
    }
}
