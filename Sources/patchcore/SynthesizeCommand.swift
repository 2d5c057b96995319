import ArgumentParser
import Datasets
import Defects
import Foundation
import Inpainting
import PatchCore
import TensorCore

/// `patchcore synthesize`: image + mask pairs in the layout `--positives DIR` reads (images/, masks/, manifest.jsonl).
struct Synthesize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make synthetic defects (image + mask pairs and manifest.jsonl) for the positive memory bank.",
        discussion: """
        Generators: classical (no model needed: cut_paste pastes real defect crops, perlin_texture and \
        perlin_intensity paint inside Perlin-noise or given masks) and diffusion (an inpainting latent-diffusion model \
        folder, --model). Good images come from --good DIR or the good training images of --data; masks from \
        --masks DIR (expert-drawn files) or --defect-masks-from DATASET (its training defects; add \
        --include-test-defects to use test masks too, which leaks them into evaluation). Rerunning with the same \
        arguments skips the samples already in --out.
        """)

    @Option(help: "classical or diffusion (default: diffusion when --model is given, else classical).") var generator: String?
    @Option(help: "Folder of good images (PNG/JPEG, sub-folders included).") var good: String?
    @Option(help: "Data set whose good training images are used (MVTec AD, KolektorSDD2, CSV manifest).") var data: String?
    @Option(help: "Folder of mask files (PNG/JPEG, > 127 = defect).") var masks: String?
    @Option(help: "Data set whose real defect masks (and, for cut_paste, defect images) are used.") var defectMasksFrom: String?
    @Flag(help: "With --defect-masks-from: use the test split's defects too (they then leak into evaluation).")
    var includeTestDefects = false
    @Flag(help: "Use given masks as they are (no random flip, scale and shift).") var noMaskAugmentation = false
    @Option(help: "Number of samples (classical); an alias of --per-prompt.") var count: Int?
    @Option(help: "Samples per prompt (diffusion); for classical the number of samples.") var perPrompt: Int?
    @Option(help: "Base seed; sample k uses its own seed derived from it.") var seed: UInt64 = 0
    @Option(help: "Output folder (images/, masks/, manifest.jsonl).") var out: String
    @Option(help: "Classical methods, comma-separated: cut_paste, perlin_texture, perlin_intensity (default: all that the inputs allow).")
    var methods: String?
    @Option(help: "Classical: chance that a procedural method paints inside a given mask instead of a Perlin mask (default 0.5).")
    var givenMaskProbability: Double?

    @Option(help: "Diffusion: diffusers-format inpainting model folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/ ...).")
    var model: String?
    @Option(name: .customLong("prompt"), help: "Diffusion: a defect description; repeat for several prompts.") var prompts: [String] = []
    @Option(help: "Diffusion: negative prompt.") var negativePrompt: String?
    @Option(help: "Diffusion: denoising steps (default 30).") var steps: Int?
    @Option(help: "Diffusion: classifier-free guidance scale (default 20).") var guidance: Double?
    @Option(help: "Diffusion: strength in (0, 1] (default 0.99).") var strength: Double?
    @Option(help: "Diffusion: crop around the mask with this padding, generate at working size, paste back.") var paddingMaskCrop: Int?
    @Option(help: "Diffusion: Gaussian blur of the mask, in pixels.") var maskBlur: Double?
    @Option(help: "Diffusion: condition the prompt on the text encoder's layer N from the end, as diffusers' clip_skip (default: none).")
    var clipSkip: Int?
    @Option(help: "Diffusion: working size WxH, multiples of 8 (default: the model's native size, unet sample_size x 8: 512 for SD, 1024 for SDXL).")
    var size: String?
    @Option(help: "Diffusion: weight-file variant, e.g. fp16 for *.fp16.safetensors (default: plain files, else the variant present).")
    var variant: String?
    @Option(help: "Diffusion: scheduler instead of the model's: euler, ddim, pndm, dpm++2m or a diffusers class name.")
    var scheduler: String?
    @Option(help: "Compute threads (default: all cores).") var threads: Int?

    enum Generator: String { case classical, diffusion }

    var resolvedGenerator: Generator { generator.flatMap(Generator.init(rawValue:)) ?? (model != nil ? .diffusion : .classical) }
    /// `--count` and `--per-prompt` are one number.
    var sampleCount: Int? { count ?? perPrompt }

    func validate() throws {
        if let generator, Generator(rawValue: generator) == nil {
            throw ValidationError("--generator must be classical or diffusion, got '\(generator)'")
        }
        guard (good == nil) != (data == nil) else {
            throw ValidationError("give exactly one source of good images: --good DIR or --data DATASET")
        }
        if masks != nil && defectMasksFrom != nil {
            throw ValidationError("give at most one mask source: --masks DIR or --defect-masks-from DATASET")
        }
        if includeTestDefects && defectMasksFrom == nil {
            throw ValidationError("--include-test-defects applies to --defect-masks-from DATASET")
        }
        if let count, let perPrompt, count != perPrompt {
            throw ValidationError("--count (\(count)) and --per-prompt (\(perPrompt)) are the same number; give one of them")
        }
        guard let n = sampleCount else {
            throw ValidationError("give the number of samples: --count N (classical) or --per-prompt N (diffusion)")
        }
        guard (1...1_000_000).contains(n) else { throw ValidationError("the number of samples must be in 1...1000000, got \(n)") }
        if let p = givenMaskProbability, !(0...1).contains(p) {
            throw ValidationError("--given-mask-probability must be in [0, 1], got \(p)")
        }
        switch resolvedGenerator {
        case .classical:
            let diffusionOnly: [(String, Bool)] = [
                ("--model", model != nil), ("--prompt", !prompts.isEmpty), ("--negative-prompt", negativePrompt != nil),
                ("--steps", steps != nil), ("--guidance", guidance != nil), ("--strength", strength != nil),
                ("--padding-mask-crop", paddingMaskCrop != nil), ("--mask-blur", maskBlur != nil), ("--size", size != nil),
                ("--clip-skip", clipSkip != nil),
                ("--variant", variant != nil), ("--scheduler", scheduler != nil)]
            let given = diffusionOnly.filter(\.1).map(\.0)
            if !given.isEmpty {
                throw ValidationError("\(given.joined(separator: ", ")) apply to --generator diffusion only")
            }
            if let methods {
                do { _ = try ClassicalMethod.parseList(methods) } catch { throw ValidationError("--methods: \(error)") }
            }
        case .diffusion:
            if methods != nil || givenMaskProbability != nil {
                throw ValidationError("--methods and --given-mask-probability apply to --generator classical only")
            }
            guard model != nil else {
                throw ValidationError("--generator diffusion needs --model DIR (a diffusers inpainting model folder); without weights use --generator classical")
            }
            guard !prompts.isEmpty, prompts.allSatisfy({ !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
                throw ValidationError("--generator diffusion needs at least one non-empty --prompt \"...\"")
            }
            guard masks != nil || defectMasksFrom != nil else {
                throw ValidationError("--generator diffusion paints inside masks: give --masks DIR or --defect-masks-from DATASET")
            }
            if let steps, !(1...1000).contains(steps) { throw ValidationError("--steps must be in 1...1000, got \(steps)") }
            if let guidance, !(guidance >= 0 && guidance <= 100) { throw ValidationError("--guidance must be in [0, 100], got \(guidance)") }
            if let strength, !(strength > 0 && strength <= 1) { throw ValidationError("--strength must be in (0, 1], got \(strength)") }
            if let paddingMaskCrop, paddingMaskCrop < 0 { throw ValidationError("--padding-mask-crop must be >= 0, got \(paddingMaskCrop)") }
            if let maskBlur, !(maskBlur >= 0 && maskBlur <= 100) { throw ValidationError("--mask-blur must be in [0, 100], got \(maskBlur)") }
            if let clipSkip, clipSkip < 0 { throw ValidationError("--clip-skip must be >= 0, got \(clipSkip)") }
            if let size, workingSize == nil {
                throw ValidationError("--size must look like 512x512 (width x height, multiples of 8, 32..4096), got '\(size)'")
            }
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1, got \(threads)") }
    }

    /// `--size WxH` parsed (multiples of 8: the VAE's downscale factor).
    var workingSize: (width: Int, height: Int)? {
        guard let size, let t = InputTransform.parseSize(size), case let .resize(w, h) = t, w % 8 == 0, h % 8 == 0 else {
            return nil
        }
        return (w, h)
    }

    func run() throws {
        applyThreads(threads)
        // The diffusion models run Dispatch loops (attention, norms) between sgemm calls: OpenBLAS workers that
        // spin while they wait would take those loops' cores.
        if resolvedGenerator == .diffusion { OpenBLASKernels.setIdleWait(.sleep) }
        // A missing or incomplete model folder is the likeliest mistake: say what to download before reading data.
        let modelFolder = resolvedGenerator == .diffusion
            ? try DiffusersModelFolder.open(URL(fileURLWithPath: model!), variant: variant) : nil
        try modelFolder?.checkWeights()
        let goodImages = try loadGoodImages()
        log("good images: \(goodImages.count)")
        let sampler = try loadMasks()
        if let sampler {
            log("masks: \(sampler.entries.count) from \(sampler.source)")
            if !sampler.skipped.isEmpty {
                log("warning: skipped \(sampler.skipped.count) mask(s):")
                for s in sampler.skipped { log("  \(s)") }
            }
        }
        let outURL = URL(fileURLWithPath: out)
        switch resolvedGenerator {
        case .classical:
            var options = ClassicalGeneratorOptions()
            if let methods { options.methods = try ClassicalMethod.parseList(methods) }
            if let givenMaskProbability { options.givenMaskProbability = givenMaskProbability }
            let generator = try ClassicalDefectGenerator(goodImages: goodImages, masks: sampler, options: options)
            log("methods: \(generator.methods.map(\.rawValue).joined(separator: ", "))")
            let writer = try SyntheticDefectSet.Writer(folder: outURL)
            let summary = try ClassicalSynthesisJob.run(generator: generator, count: sampleCount!, baseSeed: seed,
                                                        writer: writer) { p in
                if !p.skipped { log("[\(p.done)/\(p.total)] \(p.id) \(p.method ?? "") \(fmt(p.seconds)) s") }
            }
            let methodCounts = summary.countsByMethod.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            print("wrote \(summary.written) sample(s) to \(outURL.path)" +
                  (summary.skipped > 0 ? " (\(summary.skipped) already there, skipped)" : "") +
                  (methodCounts.isEmpty ? "" : ": " + methodCounts.joined(separator: ", ")))
        case .diffusion:
            try runDiffusionSynthesis(DiffusionSynthesisRequest(
                folder: modelFolder!, scheduler: scheduler, goodImages: goodImages, masks: sampler!, prompts: prompts,
                perPrompt: sampleCount!, negativePrompt: negativePrompt, steps: steps ?? 30, guidance: guidance ?? 20,
                strength: strength ?? 0.99, paddingMaskCrop: paddingMaskCrop, maskBlur: maskBlur, clipSkip: clipSkip,
                size: workingSize,
                seed: seed, out: outURL))
        }
        // The expert's next step: look at the samples, reject the bad ones (`patchcore review`). No page when every
        // sample was skipped (the warnings above say why); any other failure to write it is an error.
        do {
            print("review page: \(try writeReviewSheet(folder: outURL).path) (record verdicts with `patchcore review \(outURL.path)`)")
        } catch SyntheticDefectSetError.empty, SyntheticDefectSetError.notAFolder {}
    }

    func loadGoodImages() throws -> [URL] {
        if let good {
            return try DatasetLoader.imageFiles(in: URL(fileURLWithPath: good), recursive: true)
        }
        let ds = try DatasetLoader.load(URL(fileURLWithPath: data!))
        log("data: \(ds.summary)")
        guard !ds.train.isEmpty else { throw DefectSynthesisError.noGoodImages(source: ds.root.path) }
        return ds.train.map(\.image)
    }

    func loadMasks() throws -> DefectMaskSampler? {
        let augmentation: MaskAugmentation = noMaskAugmentation ? .none : .init()
        if let masks { return try DefectMaskSampler(maskFolder: URL(fileURLWithPath: masks), augmentation: augmentation) }
        if let defectMasksFrom {
            let ds = try DatasetLoader.load(URL(fileURLWithPath: defectMasksFrom))
            return try DefectMaskSampler(dataset: ds, includeTest: includeTestDefects, augmentation: augmentation)
        }
        return nil
    }
}

// MARK: - Diffusion path

/// Everything `patchcore synthesize --generator diffusion` parsed, for the Inpainting library's synthesis job.
struct DiffusionSynthesisRequest {
    var folder: DiffusersModelFolder
    /// `--scheduler` (nil: the folder's scheduler_config.json class).
    var scheduler: String?
    var goodImages: [URL]
    var masks: DefectMaskSampler
    var prompts: [String]
    var perPrompt: Int
    var negativePrompt: String?
    var steps: Int
    var guidance: Double
    var strength: Double
    var paddingMaskCrop: Int?
    var maskBlur: Double?
    var clipSkip: Int?
    /// nil: the model's native size.
    var size: (width: Int, height: Int)?
    var seed: UInt64
    var out: URL
}

/// THE diffusion call of `patchcore synthesize`: loads the model, runs `DiffusionSynthesisJob` (each sample pairs a
/// random good image with a random mask, placed by `SampledDefectMasks`) into a `SyntheticDefectSet.Writer` (which
/// skips the samples already there), and prints progress on stderr and a summary on stdout.
func runDiffusionSynthesis(_ request: DiffusionSynthesisRequest) throws {
    let size = try request.size ?? request.folder.nativeSize()
    log("loading \(request.folder.family.rawValue) inpainting model from \(request.folder.root.path)"
        + (request.folder.variant.map { " (variant \($0))" } ?? ""))
    let loadStart = Date()
    let model = try InpaintingModel.load(request.folder, schedulerOverride: request.scheduler)
    let schedulerName = type(of: model.scheduler).className
    log("loaded in \(fmt(Date().timeIntervalSince(loadStart))) s; scheduler \(schedulerName), working size \(size.width)x\(size.height)")
    let settings = DiffusionSynthesisSettings(
        model: request.folder.root.path, prompts: request.prompts, negativePrompt: request.negativePrompt,
        perPrompt: request.perPrompt, steps: request.steps, guidanceScale: request.guidance, strength: request.strength,
        paddingMaskCrop: request.paddingMaskCrop, width: size.width, height: size.height, maskBlur: request.maskBlur,
        clipSkip: request.clipSkip, scheduler: schedulerName, seed: request.seed)
    let job = DiffusionSynthesisJob(settings: settings, goodImages: request.goodImages,
                                    masks: SampledDefectMasks(request.masks))
    let writer = try SyntheticDefectSet.Writer(folder: request.out)
    let toMake = job.plan().filter { !writer.existingIDs.contains($0.id) }.count
    log("\(request.prompts.count) prompt(s) x \(request.perPrompt) = \(request.prompts.count * request.perPrompt) sample(s), "
        + "\(toMake) to make")
    var progress = DiffusionProgress(toMake: toMake)
    let summary = try job.run(pipeline: InpaintingPipeline(model: model), writer: writer) { progress.handle($0) }
    var line = "wrote \(summary.written) sample(s) to \(request.out.path)"
    if summary.alreadyPresent > 0 { line += " (\(summary.alreadyPresent) already there, skipped)" }
    if summary.skipped > 0 { line += "; \(summary.skipped) not made (see the warnings above)" }
    print(line)
}

/// Progress lines on stderr: one per denoising step (step i/n, seconds per step, ETA of the run) and one per sample;
/// each distinct warning once.
struct DiffusionProgress {
    let toMake: Int
    var made = 0
    var stepSeconds: [Double] = []
    var sampleSeconds: [Double] = []
    var warned: Set<String> = []

    mutating func handle(_ event: DiffusionSynthesisEvent) {
        switch event {
        case .skippedExisting:
            break
        case let .started(id, number, total, image, mask):
            log("[\(number)/\(total)] \(id): \(URL(fileURLWithPath: image).lastPathComponent) + \(URL(fileURLWithPath: mask).lastPathComponent)")
        case let .step(id, step):
            stepSeconds.append(step.seconds)
            let perStep = stepSeconds.reduce(0, +) / Double(stepSeconds.count)
            let stepsLeft = step.count - step.index - 1
            let samplesAfter = max(0, toMake - made - 1)
            let perSample = sampleSeconds.isEmpty ? perStep * Double(step.count) : sampleSeconds.reduce(0, +) / Double(sampleSeconds.count)
            let eta = Double(stepsLeft) * perStep + Double(samplesAfter) * perSample
            log("  \(id) step \(step.index + 1)/\(step.count)  \(fmt(step.seconds)) s/step  ETA \(duration(eta))")
        case let .wrote(id, seconds):
            made += 1
            sampleSeconds.append(seconds)
            log("  \(id) written in \(fmt(seconds)) s (\(made)/\(toMake))")
        case let .skipped(id, reason):
            made += 1
            log("warning: \(id) not made: \(reason)")
        case let .warning(_, message):
            if warned.insert(message).inserted { log("warning: \(message)") }
        }
    }

    func duration(_ seconds: Double) -> String {
        seconds < 120 ? "\(fmt(seconds, 0)) s" : seconds < 7200 ? "\(fmt(seconds / 60, 1)) min" : "\(fmt(seconds / 3600, 1)) h"
    }
}
