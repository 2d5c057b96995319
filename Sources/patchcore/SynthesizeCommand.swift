import ArgumentParser
import Datasets
import Defects
import Foundation
import Inpainting
import PatchCore
import TensorCore

/// `patchcore synthesize classical|diffusion`: image + mask pairs in the layout `--positives DIR` reads (images/,
/// masks/, manifest.jsonl). One subcommand per generator, so each lists only the options it uses.
struct Synthesize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make synthetic defects (image + mask pairs and manifest.jsonl) for the positive memory bank.",
        discussion: """
        Generators: `synthesize classical` (no model needed: cut_paste pastes real defect crops, perlin_texture and \
        perlin_intensity paint inside Perlin-noise or given masks) and `synthesize diffusion` (an inpainting \
        latent-diffusion model folder, --model). Both take good images from --good DIR or the good training images of \
        --data; masks from --masks DIR (expert-drawn files) or --defect-masks-from DATASET (its training defects; add \
        --include-test-defects to use test masks too, which leaks them into evaluation). Rerunning with the same \
        arguments skips the samples already in --out.
        """,
        subcommands: [Classical.self, Diffusion.self, WithoutGenerator.self], defaultSubcommand: WithoutGenerator.self)

    /// What runs when no generator is named (`synthesize --model DIR ...`, the syntax before the split): a usage error
    /// saying which subcommand takes the options given, instead of ArgumentParser's bare "unknown option". A hidden
    /// default subcommand, because a catch-all argument on `Synthesize` itself would swallow the subcommand names.
    struct WithoutGenerator: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "without-generator", shouldDisplay: false)

        @Argument(parsing: .allUnrecognized, help: .hidden) var given: [String] = []

        func run() throws {
            guard !given.isEmpty else { throw CleanExit.helpRequest(Synthesize.self) }
            var hint = ""
            if let i = given.firstIndex(of: "--generator"), i + 1 < given.count {
                hint = " (--generator \(given[i + 1]) is now `patchcore synthesize \(given[i + 1])`)"
            } else if let diffusionOnly = given.first(where: Diffusion.ownOptions.contains) {
                hint = " (\(diffusionOnly) is an option of `synthesize diffusion`)"
            } else if let classicalOnly = given.first(where: Classical.ownOptions.contains) {
                hint = " (\(classicalOnly) is an option of `synthesize classical`)"
            }
            throw ValidationError("name the generator: `patchcore synthesize classical ...` (cut-paste, Perlin; no model) or "
                + "`patchcore synthesize diffusion --model DIR --prompt TEXT ...` (an inpainting model)\(hint); "
                + "`patchcore synthesize help classical|diffusion` lists their options")
        }
    }

    /// `synthesize classical`: cut-paste of real defect crops and Perlin-masked texture / intensity changes.
    struct Classical: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Classical synthetic defects: cut_paste, perlin_texture, perlin_intensity (no model needed).")

        /// Options only this subcommand has (for the parent's hint).
        static let ownOptions: Set<String> = ["--count", "--methods", "--given-mask-probability", "--placement"]

        @OptionGroup var inputs: SynthesisInputs
        @Option(help: "Number of samples.") var count: Int
        @Option(help: ArgumentHelp(
            "Methods to draw from, comma-separated: \(ClassicalMethod.allCases.map(\.rawValue).joined(separator: ", ")) (default: all that the inputs allow).",
            valueName: "list"), transform: ClassicalMethod.parseList)
        var methods: [ClassicalMethod]?
        @Option(help: "Chance that a procedural method paints inside a given mask instead of a Perlin mask (default \(ClassicalGeneratorOptions().givenMaskProbability)).")
        var givenMaskProbability: Double?
        @Option(help: ArgumentHelp(
            "Where defects may go: auto (the good images' foreground, estimated; anywhere when the part fills the frame), none (anywhere), or a mask file (white = allowed).",
            valueName: "auto|none|file"))
        var placement: String = "auto"

        /// The library's settings from the options; `ClassicalGeneratorOptions.validate` is the one check of them.
        func generatorOptions() -> ClassicalGeneratorOptions {
            var options = ClassicalGeneratorOptions()
            options.methods = methods
            if let givenMaskProbability { options.givenMaskProbability = givenMaskProbability }
            return options
        }

        func validate() throws {
            try validateSampleCount(count)
            do { try generatorOptions().validate() } catch { throw ValidationError("\(error)") }
        }

        func run() throws {
            applyThreads(inputs.threads)
            let goodImages = try inputs.loadGoodImages()
            let sampler = try inputs.loadMasks()
            let outURL = URL(fileURLWithPath: inputs.out)
            let region: PlacementRegion?
            switch placement {
            case "none": region = nil
            case "auto": region = try PlacementRegion.estimate(goodImages: goodImages)
            default: region = try PlacementRegion.read(URL(fileURLWithPath: placement))
            }
            let generator = try ClassicalDefectGenerator(goodImages: goodImages, masks: sampler, options: generatorOptions(),
                                                         placement: region)
            log("methods: \(generator.methods.map(\.rawValue).joined(separator: ", ")); placement: \(region?.source ?? "anywhere")")
            let writer = try SyntheticDefectSet.Writer(folder: outURL)
            let summary = try ClassicalSynthesisJob.run(generator: generator, count: count, baseSeed: inputs.seed,
                                                        writer: writer) { p in
                if !p.skipped { log("[\(p.done)/\(p.total)] \(p.id) \(p.method ?? "") \(fmt(p.seconds)) s") }
            }
            let methodCounts = summary.countsByMethod.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            print("wrote \(summary.written) sample(s) to \(outURL.path)" +
                  (summary.skipped > 0 ? " (\(summary.skipped) already there, skipped)" : "") +
                  (methodCounts.isEmpty ? "" : ": " + methodCounts.joined(separator: ", ")))
            try printReviewPage(outURL)
        }
    }

    /// `synthesize diffusion`: a prompt inpainted into masks on good images by a diffusers inpainting model.
    struct Diffusion: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Diffusion-made synthetic defects: a prompt inpainted into masks by an SD / SDXL inpainting model.")

        static let ownOptions: Set<String> = [
            "--model", "--prompt", "--per-prompt", "--negative-prompt", "--steps", "--guidance", "--strength",
            "--padding-mask-crop", "--mask-blur", "--clip-skip", "--size", "--variant", "--scheduler",
        ]

        @OptionGroup var inputs: SynthesisInputs
        @Option(help: "Diffusers-format inpainting model folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/ ...).")
        var model: String
        @Option(name: .customLong("prompt"), help: "A defect description; repeat for several prompts.") var prompts: [String]
        @Option(help: "Samples per prompt.") var perPrompt: Int
        @Option(help: "Negative prompt.") var negativePrompt: String?
        @Option(help: "Denoising steps.") var steps: Int = 30
        @Option(help: "Classifier-free guidance scale.") var guidance: Double = 20
        @Option(help: "Strength in (0, 1].") var strength: Double = 0.99
        @Option(help: "Crop around the mask with this padding, generate at working size, paste back.") var paddingMaskCrop: Int?
        @Option(help: "Gaussian blur of the mask, in pixels.") var maskBlur: Double?
        @Option(help: "Condition the prompt on the text encoder's layer N from the end, as diffusers' clip_skip (default: none).")
        var clipSkip: Int?
        @Option(help: ArgumentHelp(
            "Working size WxH, multiples of 8 (default: the model's native size, unet sample_size x 8: 512 for SD, 1024 for SDXL).",
            valueName: "WxH"), transform: WorkingSize.parse)
        var size: WorkingSize?
        @Option(help: "Weight-file variant, e.g. fp16 for *.fp16.safetensors (default: plain files, else the variant present).")
        var variant: String?
        @Option(help: "Scheduler instead of the model's: euler, ddim, pndm, dpm++2m or a diffusers class name.")
        var scheduler: String?

        func validate() throws {
            try validateSampleCount(perPrompt)
            guard inputs.masks != nil || inputs.defectMasksFrom != nil else {
                throw ValidationError("diffusion paints inside masks: give --masks DIR or --defect-masks-from DATASET")
            }
            guard prompts.allSatisfy({ !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
                throw ValidationError("--prompt must not be empty")
            }
            // Ranges the inpainting pipeline would reject only after loading the model.
            if !(1...1000).contains(steps) { throw ValidationError("--steps must be in 1...1000, got \(steps)") }
            if !(guidance >= 0 && guidance <= 100) { throw ValidationError("--guidance must be in [0, 100], got \(guidance)") }
            if !(strength > 0 && strength <= 1) { throw ValidationError("--strength must be in (0, 1], got \(strength)") }
            if let paddingMaskCrop, paddingMaskCrop < 0 { throw ValidationError("--padding-mask-crop must be >= 0, got \(paddingMaskCrop)") }
            if let maskBlur, !(maskBlur >= 0 && maskBlur <= 100) { throw ValidationError("--mask-blur must be in [0, 100], got \(maskBlur)") }
            if let clipSkip, clipSkip < 0 { throw ValidationError("--clip-skip must be >= 0, got \(clipSkip)") }
        }

        func run() throws {
            applyThreads(inputs.threads)
            // The diffusion models run Dispatch loops (attention, norms) between sgemm calls: OpenBLAS workers that
            // spin while they wait would take those loops' cores.
            OpenBLASKernels.setIdleWait(.sleep)
            // A missing or incomplete model folder is the likeliest mistake: say what to download before reading data.
            let modelFolder = try DiffusersModelFolder.open(URL(fileURLWithPath: model), variant: variant)
            try modelFolder.checkWeights()
            let goodImages = try inputs.loadGoodImages()
            let sampler = try inputs.loadMasks()!  // validate() made sure a mask source is given
            let outURL = URL(fileURLWithPath: inputs.out)
            try runDiffusionSynthesis(DiffusionSynthesisRequest(
                folder: modelFolder, scheduler: scheduler, goodImages: goodImages, masks: sampler, prompts: prompts,
                perPrompt: perPrompt, negativePrompt: negativePrompt, steps: steps, guidance: guidance,
                strength: strength, paddingMaskCrop: paddingMaskCrop, maskBlur: maskBlur, clipSkip: clipSkip,
                size: size.map { ($0.width, $0.height) }, seed: inputs.seed, out: outURL))
            try printReviewPage(outURL)
        }
    }
}

/// The options both generators share: where good images and masks come from, the seed, the output folder.
struct SynthesisInputs: ParsableArguments {
    @OptionGroup(title: "Input limits") var limits: LimitOptions
    @Option(help: "Folder of good images (PNG/JPEG, sub-folders included).") var good: String?
    @Option(help: "Data set whose good training images are used (MVTec AD, KolektorSDD2, CSV manifest).") var data: String?
    @Option(help: "Folder of mask files (PNG/JPEG, > 127 = defect).") var masks: String?
    @Option(help: "Data set whose real defect masks (and, for cut_paste, defect images) are used.") var defectMasksFrom: String?
    @Flag(help: "With --defect-masks-from: use the test split's defects too (they then leak into evaluation).")
    var includeTestDefects = false
    @Flag(help: "Use given masks as they are (no random flip, scale and shift).") var noMaskAugmentation = false
    @Option(help: "Base seed; sample k uses its own seed derived from it.") var seed: UInt64 = 0
    @Option(help: "Output folder (images/, masks/, manifest.jsonl, review.html).") var out: String
    @Option(help: "Compute threads (default: all cores).") var threads: Int?

    func validate() throws {
        guard (good == nil) != (data == nil) else {
            throw ValidationError("give exactly one source of good images: --good DIR or --data DATASET")
        }
        if masks != nil && defectMasksFrom != nil {
            throw ValidationError("give at most one mask source: --masks DIR or --defect-masks-from DATASET")
        }
        if includeTestDefects && defectMasksFrom == nil {
            throw ValidationError("--include-test-defects applies to --defect-masks-from DATASET")
        }
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be in 1...256, got \(threads)") }
    }

    func loadGoodImages() throws -> [URL] {
        let images: [URL]
        if let good {
            images = try DatasetLoader.imageFiles(in: URL(fileURLWithPath: good), recursive: true)
        } else {
            let ds = try DatasetLoader.load(URL(fileURLWithPath: data!))
            log("data: \(ds.summary)")
            guard !ds.train.isEmpty else { throw DefectSynthesisError.noGoodImages(source: ds.root.path) }
            images = ds.train.map(\.image)
        }
        log("good images: \(images.count)")
        return images
    }

    func loadMasks() throws -> DefectMaskSampler? {
        let augmentation: MaskAugmentation = noMaskAugmentation ? .none : .init()
        let sampler: DefectMaskSampler
        if let masks {
            sampler = try DefectMaskSampler(maskFolder: URL(fileURLWithPath: masks), augmentation: augmentation)
        } else if let defectMasksFrom {
            let ds = try DatasetLoader.load(URL(fileURLWithPath: defectMasksFrom))
            sampler = try DefectMaskSampler(dataset: ds, includeTest: includeTestDefects, augmentation: augmentation)
        } else {
            return nil
        }
        log("masks: \(sampler.entries.count) from \(sampler.source)")
        if !sampler.skipped.isEmpty {
            log("warning: skipped \(sampler.skipped.count) mask(s):")
            for s in sampler.skipped { log("  \(s)") }
        }
        return sampler
    }
}

/// `--size WxH` of `synthesize diffusion`: both sides multiples of 8 (the VAE's downscale factor), 32...4096.
struct WorkingSize: Equatable {
    var width: Int
    var height: Int

    static func parse(_ text: String) throws -> WorkingSize {
        guard let t = InputTransform.parseSize(text), case let .resize(w, h) = t, w % 8 == 0, h % 8 == 0 else {
            throw ValidationError("a working size looks like 512x512 (width x height, multiples of 8, 32..4096)")
        }
        return WorkingSize(width: w, height: h)
    }
}

private func validateSampleCount(_ n: Int) throws {
    guard (1...1_000_000).contains(n) else { throw ValidationError("the number of samples must be in 1...1000000, got \(n)") }
}

/// The expert's next step: look at the samples, reject the bad ones (`patchcore review`). No page when every sample
/// was skipped (the warnings above say why); any other failure to write it is an error.
private func printReviewPage(_ folder: URL) throws {
    do {
        print("review page: \(try writeReviewSheet(folder: folder).path) (record verdicts with `patchcore review \(folder.path)`)")
    } catch SyntheticDefectSetError.empty, SyntheticDefectSetError.notAFolder {}
}

// MARK: - Diffusion path

/// Everything `patchcore synthesize diffusion` parsed, for the Inpainting library's synthesis job.
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
