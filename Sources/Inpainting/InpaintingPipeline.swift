import Foundation
import DiffusionSchedulers
import ImageIO
import TensorCore

/// The loaded networks of an inpainting model, family-specific settings included.
public struct InpaintingModel: Sendable {
    public var family: InpaintingFamily
    /// One tokenizer / text encoder (SD) or two (SDXL: `tokenizer`, `tokenizer_2`; the second encoder has the
    /// projection that gives the pooled embedding).
    public var tokenizers: [any PromptTokenizer]
    public var textEncoders: [any PromptTextEncoder]
    public var unet: any InpaintingDenoiser
    public var vae: any InpaintingAutoencoder
    /// Configured, not yet stepped; each run works on its own copy.
    public var scheduler: any DiffusionScheduler
    /// SDXL: zero negative embeddings when no negative prompt is given.
    public var forceZerosForEmptyPrompt: Bool
    /// SDXL: time ids `(original_size, crop_top_left, aesthetic_score)` instead of `(..., target_size)`.
    public var requiresAestheticsScore: Bool

    public init(family: InpaintingFamily, tokenizers: [any PromptTokenizer], textEncoders: [any PromptTextEncoder],
                unet: any InpaintingDenoiser, vae: any InpaintingAutoencoder, scheduler: any DiffusionScheduler,
                forceZerosForEmptyPrompt: Bool = true, requiresAestheticsScore: Bool = false) {
        self.family = family; self.tokenizers = tokenizers; self.textEncoders = textEncoders; self.unet = unet
        self.vae = vae; self.scheduler = scheduler; self.forceZerosForEmptyPrompt = forceZerosForEmptyPrompt
        self.requiresAestheticsScore = requiresAestheticsScore
    }
}

/// One inpainting call: what to paint, where, and how.
public struct InpaintingRequest: Sendable {
    /// The good image (any size; RGB or gray).
    public var image: Image
    /// Where to paint: pixels >= 128 are repainted. Resized to the image (nearest, with a warning) when it differs.
    public var mask: Image
    public var prompt: String
    /// nil: no negative prompt (SDXL then uses zero embeddings when the model asks for it; SD encodes "").
    public var negativePrompt: String?
    public var steps: Int
    public var guidanceScale: Double
    /// 1: start from pure noise; below 1: from the noised image at the `strength` point of the schedule.
    public var strength: Double
    /// Generate on a crop around the mask (grown by this many pixels, widened to the working aspect ratio) and paste
    /// it back; nil: generate on the whole image.
    public var paddingMaskCrop: Int?
    /// Working size (multiples of 8); nil: the image's (or the crop's) size rounded down to a multiple of 8.
    public var width: Int?
    public var height: Int?
    /// Gaussian blur of the mask in pixels before anything else (a soft paste border); nil or 0: none.
    public var maskBlur: Double?
    /// SDXL with `requiresAestheticsScore` only.
    public var aestheticScore: Double
    public var negativeAestheticScore: Double
    /// Paste the result over the original so that pixels outside the mask are the input's (always done with
    /// `paddingMaskCrop`, as diffusers does).
    public var pasteOverOriginal: Bool
    /// Names the image in warnings and errors.
    public var source: String
    /// diffusers' `clip_skip`: condition the prompt (not the negative prompt, as diffusers) on the text encoder's
    /// layer k from the end (SD: normed hidden_states[-(k + 1)]; SDXL: hidden_states[-(k + 2)]); nil or 0: default.
    public var clipSkip: Int?

    public init(image: Image, mask: Image, prompt: String, negativePrompt: String? = nil, steps: Int = 30,
                guidanceScale: Double = 7.5, strength: Double = 1.0, paddingMaskCrop: Int? = nil,
                width: Int? = nil, height: Int? = nil, maskBlur: Double? = nil, aestheticScore: Double = 6.0,
                negativeAestheticScore: Double = 2.5, pasteOverOriginal: Bool = true, source: String = "image",
                clipSkip: Int? = nil) {
        self.image = image; self.mask = mask; self.prompt = prompt; self.negativePrompt = negativePrompt
        self.steps = steps; self.guidanceScale = guidanceScale; self.strength = strength
        self.paddingMaskCrop = paddingMaskCrop; self.width = width; self.height = height; self.maskBlur = maskBlur
        self.aestheticScore = aestheticScore; self.negativeAestheticScore = negativeAestheticScore
        self.pasteOverOriginal = pasteOverOriginal; self.source = source; self.clipSkip = clipSkip
    }

    /// The most denoising steps a request may ask for (diffusers' schedules have 1000 training steps).
    public static let maxSteps = 1_000

    /// Checks every numeric option against its range before any work (no NaN, no huge sizes): steps 1...maxSteps,
    /// finite guidance, strength in (0, 1], mask blur and padding crop within the image limits, the working size
    /// within `InputLimits`, finite aesthetic scores, clip skip >= 0. Throws `InpaintingError.invalidArgument`
    /// naming the option, the value and the range.
    public func validate() throws {
        func fail(_ option: String, _ value: Any, _ range: String) -> InpaintingError {
            .invalidArgument("\(source): \(option) = \(value) is out of range (expected \(range))")
        }
        guard (1...Self.maxSteps).contains(steps) else { throw fail("steps", steps, "1...\(Self.maxSteps)") }
        guard guidanceScale.isFinite, abs(guidanceScale) <= 1_000 else { throw fail("guidance scale", guidanceScale, "a finite number, |g| <= 1000") }
        guard strength.isFinite, strength > 0, strength <= 1 else { throw fail("strength", strength, "(0, 1]") }
        let side = InputLimits.current.maxImageSide
        if let p = paddingMaskCrop, !(0...side).contains(p) { throw fail("padding mask crop", p, "0...\(side)") }
        if let r = maskBlur, !(r.isFinite && r >= 0 && r <= 1_000) { throw fail("mask blur", r, "a finite number in [0, 1000]") }
        if width != nil || height != nil {
            let w = width ?? image.width, h = height ?? image.height
            do { try InputLimits.current.checkImage(width: w, height: h, file: source, field: "working size") } catch let e as InputLimitError {
                throw InpaintingError.invalidArgument(e.description)
            }
        }
        guard aestheticScore.isFinite, negativeAestheticScore.isFinite else {
            throw fail("aesthetic score", "\(aestheticScore) / \(negativeAestheticScore)", "finite numbers")
        }
        if let k = clipSkip, !(0...256).contains(k) { throw fail("clip skip", k, "0...256") }
    }
}

/// Progress of one denoising step.
public struct InpaintingStep: Sendable {
    /// 0-based step index and the number of steps this run takes (after `strength`).
    public var index: Int
    public var count: Int
    public var timestep: Float
    /// Wall time of this step (UNet + guidance + scheduler).
    public var seconds: Double
    /// The latents after the scheduler step (1, 4, h, w).
    public var latents: Tensor
}

/// What an inpainting call made.
public struct InpaintingResult: Sendable {
    /// The final image at the input's size (the generated region pasted over the original), or the working-size
    /// output when `pasteOverOriginal` is false and there is no crop (diffusers' output then).
    public var image: Image
    /// The mask used, at the input image's size (resized and blurred as requested).
    public var mask: Image
    /// The decoded working-size image as 8 bits, before any paste.
    public var generated: Image
    /// The VAE output (1, 3, H, W), about [-1, 1], before 8-bit conversion.
    public var decoded: Tensor
    /// The crop the model saw (`paddingMaskCrop`), in input pixels.
    public var cropRegion: CropBox?
    /// Working size.
    public var width: Int
    public var height: Int
    /// Non-fatal problems (prompt truncated, mask resized).
    public var warnings: [String]
}

/// Port of diffusers 0.42.1 `StableDiffusionInpaintPipeline.__call__` and `StableDiffusionXLInpaintPipeline.__call__`
/// (pipeline_stable_diffusion_inpaint.py, pipeline_stable_diffusion_xl_inpaint.py) for 9-channel inpainting UNets,
/// one image per call, `output_type="pil"`, no IP-adapter / LoRA / guidance rescale / denoising_start.
///
/// ```swift
/// let pipeline = InpaintingPipeline(model: model)
/// var noise = SeededGaussianNoise(seed: 7)
/// let result = try pipeline.run(InpaintingRequest(image: good, mask: mask, prompt: "copper metal scratches",
///                                                 negativePrompt: "smooth, plain", steps: 30, guidanceScale: 20,
///                                                 strength: 0.99, paddingMaskCrop: 2, width: 1024, height: 1024),
///                               noise: &noise) { step in print("step \(step.index + 1)/\(step.count) \(step.seconds) s") }
/// ```
public struct InpaintingPipeline: Sendable {
    public var model: InpaintingModel
    /// CLIP's sequence length.
    public static let maxTokens = 77

    public init(model: InpaintingModel) { self.model = model }

    /// Prompt embeddings for the UNet; batch 2 `[negative, positive]` with guidance, else batch 1.
    public struct PromptEmbeddings: Sendable {
        /// (B, 77, D) `encoder_hidden_states`.
        public var hiddenStates: Tensor
        /// SDXL: (B, P) pooled embeddings of text encoder 2; nil for SD.
        public var pooled: Tensor?
    }

    // MARK: - 1. prompt encoding (`encode_prompt`)

    /// SD: `last_hidden_state` of the text encoder. SDXL: `hidden_states[-2]` of both encoders concatenated on the
    /// feature axis, and the projected pooled output of encoder 2; the negative side is zeros when there is no
    /// negative prompt and the model sets `force_zeros_for_empty_prompt`. `clipSkip` applies to the prompt only
    /// (diffusers encodes the negative prompt without it).
    public func encodePrompt(_ prompt: String, negativePrompt: String?, guidance: Bool, clipSkip: Int? = nil,
                             warnings: inout [String]) throws -> PromptEmbeddings {
        let expected = model.family == .stableDiffusion ? 1 : 2
        guard model.tokenizers.count == expected, model.textEncoders.count == expected else {
            throw InpaintingError.invalidArgument(
                "\(model.family.rawValue) needs \(expected) tokenizer(s) and text encoder(s), got "
                + "\(model.tokenizers.count) and \(model.textEncoders.count)")
        }
        func encodeOne(_ text: String, side: String, clipSkip: Int = 0) throws -> (Tensor, Tensor?) {
            var states: [Tensor] = []
            var pooled: Tensor?
            for (i, (tok, enc)) in zip(model.tokenizers, model.textEncoders).enumerated() {
                let t = try tok.tokenize(text)
                if t.droppedTokens > 0 && i == 0 {
                    warnings.append("\(side) prompt is longer than \(Self.maxTokens) tokens; the last \(t.droppedTokens) "
                                    + "token(s) were dropped (as CLIP truncates): \"\(text)\"")
                }
                let out = try enc.encode(tokenIDs: t.ids, clipSkip: clipSkip)
                states.append(model.family == .stableDiffusion ? out.lastHiddenState : out.penultimateHiddenState)
                pooled = out.pooled  // the last encoder's pooled output
            }
            for s in states where s.rank != 3 || s.shape[0] != 1 || s.shape[1] != states[0].shape[1] {
                throw InpaintingError.shapeMismatch(what: "text encoder hidden states", expected: [1, states[0].shape[1], -1],
                                                    actual: s.shape)
            }
            let hidden = states.count == 1 ? states[0] : concatenate(states, axis: 2)
            return (hidden, model.family == .stableDiffusionXL ? pooled : nil)
        }
        let (pos, posPooled) = try encodeOne(prompt, side: "the", clipSkip: clipSkip ?? 0)
        guard guidance else { return PromptEmbeddings(hiddenStates: pos, pooled: posPooled) }
        var neg: Tensor, negPooled: Tensor?
        if model.family == .stableDiffusionXL && negativePrompt == nil && model.forceZerosForEmptyPrompt {
            neg = Tensor(zeros: pos.shape)
            negPooled = posPooled.map { Tensor(zeros: $0.shape) }
        } else {
            (neg, negPooled) = try encodeOne(negativePrompt ?? "", side: "the negative")
        }
        let pooled: Tensor? = (negPooled != nil && posPooled != nil) ? concatenate([negPooled!, posPooled!], axis: 0) : nil
        return PromptEmbeddings(hiddenStates: concatenate([neg, pos], axis: 0), pooled: pooled)
    }

    // MARK: - SDXL micro-conditioning (`_get_add_time_ids`)

    /// (B, 6) time ids: `original_size + crops_coords_top_left + target_size` (or `+ aesthetic_score` when the model
    /// requires it), negative row first with guidance. Sizes are the working size, `(height, width)`.
    public func addTimeIDs(width: Int, height: Int, aestheticScore: Double, negativeAestheticScore: Double,
                           guidance: Bool) -> Tensor {
        let h = Float(height), w = Float(width)
        let pos: [Float], neg: [Float]
        if model.requiresAestheticsScore {
            pos = [h, w, 0, 0, Float(aestheticScore)]
            neg = [h, w, 0, 0, Float(negativeAestheticScore)]
        } else {
            pos = [h, w, 0, 0, h, w]
            neg = pos
        }
        return guidance ? Tensor(shape: [2, pos.count], scalars: neg + pos) : Tensor(shape: [1, pos.count], scalars: pos)
    }

    // MARK: - the call

    /// Runs the inpainting loop. Throws `InpaintingError.emptyMask` when the mask has nothing to paint,
    /// `CancellationError` when the surrounding task is cancelled (checked before each step), and the components' or
    /// scheduler's errors unchanged.
    public func run(_ request: InpaintingRequest, noise: inout some NoiseSource,
                    onStep: (InpaintingStep) -> Void = { _ in }) throws -> InpaintingResult {
        var warnings: [String] = []
        let vae = model.vae, unet = model.unet
        let f = vae.downscaleFactor
        guard unet.inChannels == 9 else {
            throw InpaintingError.notAnInpaintingModel(file: "unet/config.json", inChannels: unet.inChannels)
        }
        guard request.steps >= 1 else { throw InpaintingError.invalidArgument("steps must be at least 1, got \(request.steps)") }
        guard request.guidanceScale.isFinite else { throw InpaintingError.invalidArgument("guidance scale must be finite") }
        try request.validate()
        let image = request.image.channels == 3 ? request.image : request.image.toRGB()

        // 0. The mask: gray, at the image's size, optionally blurred; something to paint.
        var mask = request.mask.channels == 1 ? request.mask : request.mask.toGray()
        if mask.width != image.width || mask.height != image.height {
            warnings.append("\(request.source): mask is \(mask.width)x\(mask.height), image \(image.width)x\(image.height); "
                            + "mask resized (nearest) to the image")
            mask = mask.resizedNearest(width: image.width, height: image.height)
        }
        guard mask.pixels.contains(where: { $0 >= 128 }) else { throw InpaintingError.emptyMask(source: request.source) }
        if let r = request.maskBlur, r > 0 { mask = InpaintImageProcessor.blurred(mask, radius: r) }

        // Working size: given, else the image rounded down to the VAE factor.
        let width = request.width ?? (image.width / f) * f
        let height = request.height ?? (image.height / f) * f
        guard width > 0, height > 0, width % f == 0, height % f == 0 else {
            throw InpaintingError.invalidArgument("working size \(width)x\(height) must be positive multiples of \(f)")
        }
        let guidance = request.guidanceScale > 1

        // 1. Encode the prompt and the negative prompt.
        let embeds = try encodePrompt(request.prompt, negativePrompt: request.negativePrompt, guidance: guidance,
                                      clipSkip: request.clipSkip, warnings: &warnings)

        // 2. Timesteps, cut by strength (`get_timesteps`).
        var scheduler = model.scheduler
        try scheduler.setTimesteps(request.steps)
        let timesteps = try scheduler.timesteps(strength: request.strength)
        let isStrengthMax = request.strength == 1.0

        // 3. Preprocess image and mask (crop around the mask first with padding_mask_crop).
        var crop: CropBox?
        var mode = VAEResizeMode.stretch
        if let pad = request.paddingMaskCrop {
            crop = cropRegion(ofMask: mask, workingWidth: width, workingHeight: height, pad: pad)
            mode = .fill
        }
        let initImage = InpaintImageProcessor.imageTensor(image, width: width, height: height, crop: crop, mode: mode)
        let maskCondition = InpaintImageProcessor.maskTensor(mask, width: width, height: height, crop: crop, mode: mode)
        // masked_image = init_image * (mask < 0.5)
        var masked = initImage
        let plane = width * height
        for c in 0..<3 {
            for i in 0..<plane where maskCondition.scalars[i] >= 0.5 { masked.scalars[c * plane + i] = 0 }
        }

        // 4. Initial latents: noise * init_noise_sigma at strength 1, else the noised image latents.
        let h = height / f, w = width / f
        let latentShape = [1, vae.latentChannels, h, w]
        var imageLatents: Tensor?
        if !isStrengthMax {
            let dist = try vae.encode(initImage)
            imageLatents = scaled(try dist.sample(noise: try noise.noise(shape: latentShape, purpose: .imageLatents)),
                                  by: vae.scalingFactor)
        }
        let initialNoise = try noise.noise(shape: latentShape, purpose: .initialLatents)
        try checkShape(initialNoise, latentShape, "initial noise")
        var latents = isStrengthMax
            ? scaled(initialNoise, by: scheduler.initNoiseSigma)
            : try scheduler.addNoise(original: imageLatents!, noise: initialNoise, timestep: timesteps[0])

        // 5. Mask latents: the mask at latent size (nearest) and the masked image's latents.
        var maskLatents = InpaintImageProcessor.nearestDownsample(maskCondition, height: h, width: w)
        let maskedDist = try vae.encode(masked)
        var maskedLatents = scaled(
            try maskedDist.sample(noise: try noise.noise(shape: latentShape, purpose: .maskedImageLatents)),
            by: vae.scalingFactor)
        try checkShape(maskedLatents, latentShape, "masked image latents")
        if guidance {
            maskLatents = concatenate([maskLatents, maskLatents], axis: 0)
            maskedLatents = concatenate([maskedLatents, maskedLatents], axis: 0)
        }

        // 6. SDXL added conditions (pooled text embeddings, time ids).
        var added: AddedConditions?
        if model.family == .stableDiffusionXL {
            guard let pooled = embeds.pooled else {
                throw InpaintingError.invalidArgument("SDXL text encoder 2 gave no pooled embedding")
            }
            added = AddedConditions(
                textEmbeds: pooled,
                timeIDs: addTimeIDs(width: width, height: height, aestheticScore: request.aestheticScore,
                                    negativeAestheticScore: request.negativeAestheticScore, guidance: guidance))
        }

        // 7. Denoising loop.
        let g = Float(request.guidanceScale)
        for (i, t) in timesteps.enumerated() {
            if Task.isCancelled { throw CancellationError() }
            let start = DispatchTime.now().uptimeNanoseconds
            // 7.1 expand for guidance, scale, and concatenate [latents, mask, masked_image_latents] on channels
            var input = guidance ? concatenate([latents, latents], axis: 0) : latents
            input = try scheduler.scaleModelInput(input, timestep: t)
            input = concatenate([input, maskLatents, maskedLatents], axis: 1)
            // 7.2 predict the noise
            var eps = try unet.predictNoise(sample: input, timestep: t, encoderHiddenStates: embeds.hiddenStates,
                                            addedConditions: added)
            try checkShape(eps, [input.shape[0]] + Array(latentShape.dropFirst()), "UNet output")
            // 7.3 classifier-free guidance: uncond + g * (text - uncond)
            if guidance {
                let n = latents.count
                var out = [Float](repeating: 0, count: n)
                eps.withUnsafeBufferPointer { e in
                    for j in 0..<n { out[j] = e[j] + g * (e[n + j] - e[j]) }
                }
                eps = Tensor(shape: latentShape, scalars: out)
            }
            // 7.4 scheduler step x_t -> x_t-1
            latents = try scheduler.step(modelOutput: eps, timestep: t, sample: latents)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            onStep(InpaintingStep(index: i, count: timesteps.count, timestep: t, seconds: seconds, latents: latents))
        }

        // 8. Decode and convert to 8 bits.
        var z = latents
        for j in z.scalars.indices { z.scalars[j] /= vae.scalingFactor }
        let decoded = try vae.decode(z)
        try checkShape(decoded, [1, 3, height, width], "VAE decoder output")
        let generated = try InpaintImageProcessor.postprocess(decoded)

        // 9. Paste back: the crop into the original (apply_overlay), or the whole image over the original.
        var final = generated
        if let c = crop {
            final = try InpaintImageProcessor.applyOverlay(mask: mask, original: image, generated: generated, crop: c)
        } else if request.pasteOverOriginal {
            let back = generated.resizedLanczos(width: image.width, height: image.height)
            final = try InpaintImageProcessor.applyOverlay(mask: mask, original: image, generated: back, crop: nil)
        }
        return InpaintingResult(image: final, mask: mask, generated: generated, decoded: decoded, cropRegion: crop,
                                width: width, height: height, warnings: warnings)
    }

    func scaled(_ x: Tensor, by s: Float) -> Tensor {
        var y = x
        for i in y.scalars.indices { y.scalars[i] *= s }
        return y
    }

    func checkShape(_ x: Tensor, _ shape: [Int], _ what: String) throws {
        guard x.shape == shape else { throw InpaintingError.shapeMismatch(what: what, expected: shape, actual: x.shape) }
    }
}
