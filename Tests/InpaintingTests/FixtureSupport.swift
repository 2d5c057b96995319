import Foundation
import Checkpoints
import ImageIO
import TensorCore
import TestSupport
@testable import Inpainting

/// Fixtures written by scripts/make_inpainting_fixtures.py.
enum Fixtures {
    static let folder = FixtureFolder(bundle: .module)
    static func url(_ name: String) -> URL { folder.url(name) }

    struct Case: Decodable {
        var family: String
        var model: String
        var prompt: String
        var negativePrompt: String?
        var steps: Int
        var guidance: Double
        var strength: Double
        var paddingMaskCrop: Int?
        var width: Int
        var height: Int
        var noiseOrder: [String]
        var callbacks: Int
        var unetCalls: Int
        var image: String
        var mask: String
        var output: String
        var cropRegion: [Int]?
        enum CodingKeys: String, CodingKey {
            case family, model, prompt, steps, guidance, strength, width, height, callbacks, image, mask, output
            case negativePrompt = "negative_prompt", paddingMaskCrop = "padding_mask_crop", noiseOrder = "noise_order"
            case unetCalls = "unet_calls", cropRegion = "crop_region"
        }
    }

    struct CropRegionCase: Decodable {
        var width: Int
        var height: Int
        var rects: [[Int]]
        var working: [Int]
        var pad: Int
        var region: [Int]
    }

    struct Meta: Decodable {
        var cases: [String: Case]
        var cropRegions: [CropRegionCase]
        enum CodingKeys: String, CodingKey { case cases, cropRegions = "crop_regions" }
    }

    static let meta: Meta = {
        let data = try! Data(contentsOf: url("cases.json"))
        return try! JSONDecoder().decode(Meta.self, from: data)
    }()

    static func tensors(_ caseName: String) throws -> [String: Tensor] { try folder.tensors("\(caseName).safetensors") }

    static func image(_ name: String) throws -> Image { try ImageFile.read(url(name)) }

    /// Pillow references: LANCZOS resizes and GaussianBlur of a mask.
    struct Pillow: Decodable {
        struct Resized: Decodable { var size: [Int]; var rgb: [[[Int]]]; var gray: [[Int]] }
        struct Lanczos: Decodable { var source: [[[Int]]]; var resized: [Resized] }
        struct Blurred: Decodable { var radius: Double; var pixels: [[Int]] }
        struct Blur: Decodable { var mask: [[Int]]; var blurred: [Blurred] }
        var lanczos: Lanczos
        var blur: Blur
    }

    static func pillow() throws -> Pillow {
        try JSONDecoder().decode(Pillow.self, from: Data(contentsOf: url("pillow.json")))
    }
}

func maxPixelDifference(_ a: Image, _ b: Image) -> Int {
    guard a.width == b.width, a.height == b.height, a.channels == b.channels else { return Int.max }
    return zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
}

/// A tensor full of NaN: stands for outputs the pipeline must not use.
func poison(_ shape: [Int]) -> Tensor { Tensor(repeating: .nan, shape: shape) }

// MARK: - Replayed diffusers calls

/// Returns the token ids diffusers' tokenizer produced for each recorded text.
struct ReplayTokenizer: PromptTokenizer {
    var table: [String: [Int]]
    var dropped: [String: Int] = [:]
    func tokenize(_ text: String) throws -> TokenizedPrompt {
        guard let ids = table[text] else { throw InpaintingError.invalidArgument("replay tokenizer: unknown text \"\(text)\"") }
        return TokenizedPrompt(ids: ids, droppedTokens: dropped[text] ?? 0)
    }
}

/// Returns the recorded encoder outputs for recorded token ids; unrecorded outputs are NaN.
struct ReplayTextEncoder: PromptTextEncoder {
    var table: [[Int]: TextEncoderOutput]
    func encode(tokenIDs: [Int]) throws -> TextEncoderOutput {
        guard let out = table[tokenIDs] else { throw InpaintingError.invalidArgument("replay text encoder: unknown ids") }
        return out
    }
}

/// Checks every UNet input against diffusers' and returns diffusers' output for that call.
final class ReplayUNet: InpaintingDenoiser, @unchecked Sendable {
    let t: [String: Tensor]
    let inChannels: Int
    private let lock = NSLock()
    private(set) var calls = 0
    private(set) var worstInput: Float = 0
    private(set) var worstCondition: Float = 0
    private(set) var timesteps: [Float] = []

    init(tensors: [String: Tensor], inChannels: Int = 9) { t = tensors; self.inChannels = inChannels }

    func predictNoise(sample: Tensor, timestep: Float, encoderHiddenStates: Tensor,
                      addedConditions: AddedConditions?) throws -> Tensor {
        lock.lock(); defer { lock.unlock() }
        let k = calls
        calls += 1
        guard let expected = t["unet_sample_\(k)"], let out = t["unet_output_\(k)"] else {
            throw InpaintingError.invalidArgument("replay UNet: diffusers made only \(k) calls")
        }
        worstInput = max(worstInput, relativeError(sample, expected).rel)
        timesteps.append(timestep)
        worstCondition = max(worstCondition, relativeError(encoderHiddenStates, t["unet_encoder_hidden_states_0"]!).rel)
        if let a = addedConditions {
            worstCondition = max(worstCondition, relativeError(a.textEmbeds, t["unet_text_embeds_0"]!).rel)
            worstCondition = max(worstCondition, relativeError(a.timeIDs, t["unet_time_ids_0"]!).abs)
        } else if t["unet_time_ids_0"] != nil {
            worstCondition = .infinity
        }
        return out
    }
}

/// Checks the VAE inputs against diffusers' and returns the recorded moments / decoded image.
final class ReplayVAE: InpaintingAutoencoder, @unchecked Sendable {
    let t: [String: Tensor]
    let scalingFactor: Float
    let latentChannels = 4
    let downscaleFactor = 8
    private let lock = NSLock()
    private(set) var encodes = 0
    private(set) var worstEncodeInput: Float = 0
    private(set) var worstDecodeInput: Float = 0

    init(tensors: [String: Tensor], scalingFactor: Float) { t = tensors; self.scalingFactor = scalingFactor }

    func encode(_ image: Tensor) throws -> LatentDistribution {
        lock.lock(); defer { lock.unlock() }
        let k = encodes
        encodes += 1
        guard let x = t["vae_encode_input_\(k)"] else { throw InpaintingError.invalidArgument("replay VAE: no encode \(k)") }
        worstEncodeInput = max(worstEncodeInput, relativeError(image, x).abs)
        return LatentDistribution(mean: t["vae_encode_mean_\(k)"]!, logVariance: t["vae_encode_logvar_\(k)"]!)
    }

    func decode(_ latents: Tensor) throws -> Tensor {
        lock.lock(); defer { lock.unlock() }
        worstDecodeInput = max(worstDecodeInput, relativeError(latents, t["vae_decode_input_0"]!).rel)
        return t["vae_decode_output_0"]!
    }
}

/// diffusers' saved noise tensors, handed out by purpose; records the order asked.
struct ReplayNoise: NoiseSource {
    var t: [String: Tensor]
    var order: [String] = []
    mutating func noise(shape: [Int], purpose: NoisePurpose) throws -> Tensor {
        order.append(purpose.rawValue)
        guard let n = t["noise_\(purpose.rawValue)"] else { throw InpaintingError.invalidArgument("no noise \(purpose)") }
        return n
    }
}

func ids(_ t: Tensor) -> [Int] { t.scalars.map { Int($0) } }

/// The replayed model of a fixture case: tokenizers and encoders keyed by the recorded texts.
func replayModel(_ c: Fixtures.Case, tensors t: [String: Tensor]) throws -> (InpaintingModel, ReplayUNet, ReplayVAE) {
    let folder = try DiffusersModelFolder.open(Fixtures.url(c.model))
    let scheduler = try folder.scheduler()
    let unet = ReplayUNet(tensors: t)
    let sdxl = c.family == "sdxl"
    let vae = ReplayVAE(tensors: t, scalingFactor: sdxl ? 0.13025 : 0.18215)
    var texts = [c.prompt]
    if let n = c.negativePrompt { texts.append(n) } else if !sdxl { texts.append("") }
    var tokenizers: [any PromptTokenizer] = []
    var encoders: [any PromptTextEncoder] = []
    for e in (sdxl ? ["te1", "te2"] : ["te1"]) {
        var tok: [String: [Int]] = [:]
        var enc: [[Int]: TextEncoderOutput] = [:]
        for (k, text) in texts.enumerated() {
            let i = ids(t["\(e)_input_ids_\(k)"]!)
            tok[text] = i
            let d = sdxl ? 32 : 32
            enc[i] = TextEncoderOutput(
                lastHiddenState: t["\(e)_last_hidden_state_\(k)"] ?? poison([1, 77, d]),
                penultimateHiddenState: t["\(e)_hidden_state_m2_\(k)"] ?? poison([1, 77, d]),
                pooled: t["\(e)_pooled_\(k)"] ?? poison([1, 32]))
        }
        tokenizers.append(ReplayTokenizer(table: tok))
        encoders.append(ReplayTextEncoder(table: enc))
    }
    let model = InpaintingModel(family: sdxl ? .stableDiffusionXL : .stableDiffusion, tokenizers: tokenizers,
                                textEncoders: encoders, unet: unet, vae: vae, scheduler: scheduler,
                                forceZerosForEmptyPrompt: folder.forceZerosForEmptyPrompt,
                                requiresAestheticsScore: folder.requiresAestheticsScore)
    return (model, unet, vae)
}

func request(for c: Fixtures.Case) throws -> InpaintingRequest {
    InpaintingRequest(image: try Fixtures.image(c.image), mask: try Fixtures.image(c.mask), prompt: c.prompt,
                      negativePrompt: c.negativePrompt, steps: c.steps, guidanceScale: c.guidance, strength: c.strength,
                      paddingMaskCrop: c.paddingMaskCrop, width: c.width, height: c.height)
}
