import Foundation
import Defects
import ImageIO
import TensorCore

/// A sample's defect mask as a provider drew it for one image.
public struct ProvidedMask: Sendable {
    /// Where to paint (>= 128), ideally at the image's size (the pipeline resizes it, with a warning, otherwise).
    public var mask: Image
    /// The record's `source_mask`: the mask file, or a description.
    public var source: String
    /// How the mask was drawn (flips, scale, shift ...), merged into the record's parameters.
    public var parameters: [String: String]
    public init(mask: Image, source: String, parameters: [String: String] = [:]) {
        self.mask = mask; self.source = source; self.parameters = parameters
    }
}

/// Supplies the defect mask of a sample. `MaskFiles` picks from mask image files; `SampledDefectMasks` draws
/// expert-drawn or a data set's real defect masks with flips / scales / shifts through the same protocol.
public protocol DefectMaskProvider {
    /// How many masks there are to choose from (the job draws an index below this with the sample's generator).
    var count: Int { get }
    /// Mask `index`, and a name for the record (a path relative to something stable, or a description).
    func mask(at index: Int, using rng: inout SplitMix64) throws -> (mask: Image, source: String)
    /// Mask `index` for an image of `width` x `height`; random choices come from `rng` (the sample's own generator),
    /// so the draw is reproducible. Default: `mask(at:using:)` as it is, with no parameters.
    func mask(at index: Int, width: Int, height: Int, using rng: inout SplitMix64) throws -> ProvidedMask
}

extension DefectMaskProvider {
    public func mask(at index: Int, width: Int, height: Int, using rng: inout SplitMix64) throws -> ProvidedMask {
        let (mask, source) = try mask(at: index, using: &rng)
        return ProvidedMask(mask: mask, source: source)
    }
}

/// Masks read from image files (foreground >= 128).
public struct MaskFiles: DefectMaskProvider {
    public var files: [URL]
    public init(files: [URL]) { self.files = files }
    public var count: Int { files.count }
    public func mask(at index: Int, using rng: inout SplitMix64) throws -> (mask: Image, source: String) {
        (try ImageFile.read(files[index]), files[index].path)
    }
}

/// Settings of a diffusion synthesis run; all of them go into every sample's record.
public struct DiffusionSynthesisSettings: Sendable, Codable, Equatable {
    /// The diffusers model folder (recorded as given).
    public var model: String
    public var prompts: [String]
    public var negativePrompt: String?
    /// Samples per prompt.
    public var perPrompt: Int
    public var steps: Int
    public var guidanceScale: Double
    public var strength: Double
    public var paddingMaskCrop: Int?
    /// Working size; nil: each image's size rounded down to a multiple of 8.
    public var width: Int?
    public var height: Int?
    public var maskBlur: Double?
    /// diffusers' `clip_skip` (nil: none).
    public var clipSkip: Int?
    /// Scheduler class name (recorded; the caller builds the model with it).
    public var scheduler: String
    public var seed: UInt64

    public init(model: String, prompts: [String], negativePrompt: String? = nil, perPrompt: Int, steps: Int = 30,
                guidanceScale: Double = 7.5, strength: Double = 1.0, paddingMaskCrop: Int? = nil, width: Int? = nil,
                height: Int? = nil, maskBlur: Double? = nil, clipSkip: Int? = nil, scheduler: String, seed: UInt64 = 0) {
        self.model = model; self.prompts = prompts; self.negativePrompt = negativePrompt; self.perPrompt = perPrompt
        self.steps = steps; self.guidanceScale = guidanceScale; self.strength = strength
        self.paddingMaskCrop = paddingMaskCrop; self.width = width; self.height = height; self.maskBlur = maskBlur
        self.clipSkip = clipSkip; self.scheduler = scheduler; self.seed = seed
    }

    /// The most samples one run may plan (prompts x per prompt).
    public static let maxSamples = 1_000_000

    /// Checks the counts and every numeric setting before a sample is planned: samples (prompts x per prompt) at most
    /// `maxSamples`, and the request options as `InpaintingRequest.validate` checks them.
    public func validate() throws {
        let (total, overflow) = prompts.count.multipliedReportingOverflow(by: max(0, perPrompt))
        guard perPrompt >= 0, !overflow, total <= Self.maxSamples else {
            throw InpaintingError.invalidArgument(
                "\(prompts.count) prompt(s) x \(perPrompt) per prompt is out of range (expected 0...\(Self.maxSamples) samples in all)")
        }
        let probe = Image(width: 1, height: 1, channels: 1, pixels: [0])
        try InpaintingRequest(image: probe, mask: probe, prompt: "", steps: steps, guidanceScale: guidanceScale,
                              strength: strength, paddingMaskCrop: paddingMaskCrop, width: width, height: height,
                              maskBlur: maskBlur, source: "synthesis settings", clipSkip: clipSkip).validate()
    }
}

/// What the job reports while it runs.
public enum DiffusionSynthesisEvent {
    /// Already in the output folder (resume).
    case skippedExisting(id: String)
    case started(id: String, number: Int, total: Int, image: String, mask: String)
    case step(id: String, InpaintingStep)
    case wrote(id: String, seconds: Double)
    /// Not made (empty mask, unreadable image); the run goes on.
    case skipped(id: String, reason: String)
    case warning(id: String, message: String)
}

/// Counts of a finished run.
public struct DiffusionSynthesisSummary: Sendable, Equatable {
    public var written = 0
    public var alreadyPresent = 0
    public var skipped = 0
}

/// Synthesises `perPrompt` defect images per prompt: each sample pairs a good image with a defect mask (both drawn
/// with the sample's own generator), inpaints the prompt into the mask, and writes image + mask + record through
/// `SyntheticDefectSet.Writer` (atomic files, manifest line last), so an interrupted run resumes where it stopped
/// and never leaves a half-written pair. Sample ids are `diffusion_p<prompt>_<index, 6 digits>`; the sample seed is
/// derived from the base seed, the prompt index and the sample index alone, so any sample can be regenerated from its
/// record.
///
/// ```swift
/// let job = DiffusionSynthesisJob(settings: settings, goodImages: goods, masks: MaskFiles(files: masks))
/// let summary = try job.run(pipeline: pipeline, writer: try SyntheticDefectSet.Writer(folder: out)) { event in print(event) }
/// ```
public struct DiffusionSynthesisJob<Masks: DefectMaskProvider> {
    public var settings: DiffusionSynthesisSettings
    public var goodImages: [URL]
    public var masks: Masks

    public init(settings: DiffusionSynthesisSettings, goodImages: [URL], masks: Masks) {
        self.settings = settings; self.goodImages = goodImages; self.masks = masks
    }

    public static func sampleID(prompt: Int, index: Int) -> String {
        let digits = String(index)
        return "diffusion_p\(prompt)_" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// The seed of sample `index` of prompt `prompt`: one SplitMix64 output of a state mixing the three.
    public static func sampleSeed(base: UInt64, prompt: Int, index: Int) -> UInt64 {
        var rng = SplitMix64(seed: base ^ (UInt64(prompt) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        return rng.next()
    }

    /// One planned sample.
    public struct Sample: Sendable, Equatable {
        public var id: String
        public var promptIndex: Int
        public var seed: UInt64
        public var imageIndex: Int
        public var maskIndex: Int
    }

    /// Every sample of the run, in order, with its pairing (deterministic in the settings and list sizes).
    public func plan() -> [Sample] {
        var out: [Sample] = []
        for p in settings.prompts.indices {
            for i in 0..<max(0, min(settings.perPrompt, DiffusionSynthesisSettings.maxSamples)) {
                let seed = Self.sampleSeed(base: settings.seed, prompt: p, index: i)
                var rng = SplitMix64(seed: seed)
                let image = goodImages.isEmpty ? 0 : Int(rng.next() % UInt64(goodImages.count))
                let mask = masks.count == 0 ? 0 : Int(rng.next() % UInt64(masks.count))
                out.append(Sample(id: Self.sampleID(prompt: p, index: i), promptIndex: p, seed: seed, imageIndex: image,
                                  maskIndex: mask))
            }
        }
        return out
    }

    /// Runs the samples not yet in `writer`'s folder. Sample-level problems (empty mask, unreadable image) skip that
    /// sample with an event; model and writer errors and task cancellation stop the run (what was written stays
    /// valid, and a rerun resumes).
    public func run(pipeline: InpaintingPipeline, writer: SyntheticDefectSet.Writer,
                    onEvent: (DiffusionSynthesisEvent) -> Void = { _ in }) throws -> DiffusionSynthesisSummary {
        guard !goodImages.isEmpty else { throw InpaintingError.invalidArgument("no good images to paint defects into") }
        guard masks.count > 0 else { throw InpaintingError.invalidArgument("no defect masks to paint into") }
        guard settings.perPrompt >= 0, !settings.prompts.isEmpty else {
            throw InpaintingError.invalidArgument("need at least one prompt and a non-negative count per prompt")
        }
        try settings.validate()
        var summary = DiffusionSynthesisSummary()
        let samples = plan()
        for (n, s) in samples.enumerated() {
            if Task.isCancelled { throw CancellationError() }
            if writer.existingIDs.contains(s.id) {
                summary.alreadyPresent += 1
                onEvent(.skippedExisting(id: s.id))
                continue
            }
            let start = DispatchTime.now().uptimeNanoseconds
            let imageURL = goodImages[s.imageIndex]
            // The mask provider gets its own generator (flips / shifts), independent of the noise.
            var maskRNG = SplitMix64(seed: s.seed ^ 0x5851_F42D_4C95_7F2D)
            let image: Image, drawn: ProvidedMask
            do {
                image = try ImageFile.read(imageURL)
                drawn = try masks.mask(at: s.maskIndex, width: image.width, height: image.height, using: &maskRNG)
            } catch {
                summary.skipped += 1
                onEvent(.skipped(id: s.id, reason: "\(error)"))
                continue
            }
            let mask = drawn.mask, maskSource = drawn.source
            onEvent(.started(id: s.id, number: n + 1, total: samples.count, image: imageURL.path, mask: maskSource))
            let prompt = settings.prompts[s.promptIndex]
            let request = InpaintingRequest(
                image: image, mask: mask, prompt: prompt, negativePrompt: settings.negativePrompt, steps: settings.steps,
                guidanceScale: settings.guidanceScale, strength: settings.strength,
                paddingMaskCrop: settings.paddingMaskCrop, width: settings.width, height: settings.height,
                maskBlur: settings.maskBlur, source: "\(imageURL.lastPathComponent) + \(maskSource)",
                clipSkip: settings.clipSkip)
            var noise = SeededGaussianNoise(seed: s.seed)
            let result: InpaintingResult
            do {
                result = try pipeline.run(request, noise: &noise) { step in onEvent(.step(id: s.id, step)) }
            } catch let InpaintingError.emptyMask(source) {
                summary.skipped += 1
                onEvent(.skipped(id: s.id, reason: "empty mask (\(source))"))
                continue
            }
            for w in result.warnings { onEvent(.warning(id: s.id, message: w)) }
            // The mask written is the one used, at the image's size, as 0/255.
            let written = Image(width: result.mask.width, height: result.mask.height, channels: 1,
                                pixels: result.mask.pixels.map { $0 >= 128 ? 255 : 0 })
            let record = SyntheticDefectRecord(
                id: s.id, image: "", mask: "", generator: "diffusion", seed: s.seed, sourceImage: imageURL.path,
                sourceMask: maskSource, prompt: prompt, negativePrompt: settings.negativePrompt,
                parameters: parameters(result: result, sample: s, family: pipeline.model.family)
                    .merging(drawn.parameters) { own, _ in own })
            try writer.write(id: s.id, image: result.image, mask: written, record: record)
            summary.written += 1
            onEvent(.wrote(id: s.id, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
        }
        return summary
    }

    func parameters(result: InpaintingResult, sample: Sample, family: InpaintingFamily) -> [String: String] {
        var p: [String: String] = [
            "model": settings.model,
            "family": family.rawValue, "scheduler": settings.scheduler,
            "steps": String(settings.steps), "guidance_scale": String(settings.guidanceScale),
            "strength": String(settings.strength),
            "padding_mask_crop": settings.paddingMaskCrop.map(String.init) ?? "none",
            "width": String(result.width), "height": String(result.height),
            "mask_blur": settings.maskBlur.map { String($0) } ?? "none",
            "clip_skip": settings.clipSkip.map(String.init) ?? "none",
            "base_seed": String(settings.seed), "prompt_index": String(sample.promptIndex),
            "noise": "splitmix64-box-muller",
        ]
        if let c = result.cropRegion { p["crop_region"] = "\(c.x0),\(c.y0),\(c.x1),\(c.y1)" }
        return p
    }
}
