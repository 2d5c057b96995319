import Foundation
import DiffusionModels
import DiffusionSchedulers

/// The two latent-diffusion inpainting families this package runs.
public enum InpaintingFamily: String, Sendable, Codable, Equatable {
    /// Stable Diffusion 1.x / 2.x inpainting (`StableDiffusionInpaintPipeline`): one CLIP text encoder.
    case stableDiffusion = "sd"
    /// SDXL inpainting (`StableDiffusionXLInpaintPipeline`): two text encoders, pooled text and time-id embeddings.
    case stableDiffusionXL = "sdxl"
}

/// A diffusers-format inpainting model folder exactly as a user downloads it:
///
/// ```
/// DIR/model_index.json
/// DIR/unet/config.json + diffusion_pytorch_model[.fp16].safetensors    (9 input channels)
/// DIR/vae/config.json + diffusion_pytorch_model[.fp16].safetensors
/// DIR/text_encoder/config.json + model[.fp16].safetensors,  DIR/tokenizer/vocab.json + merges.txt
/// DIR/text_encoder_2/..., DIR/tokenizer_2/...                            (SDXL only)
/// DIR/scheduler/scheduler_config.json
/// ```
///
/// `open` identifies the family (SDXL when the UNet config has `addition_embed_type: "text_time"` or the pipeline
/// class says XL), checks that every component folder and file is there and that the UNet is an inpainting one,
/// and says what to download when something is missing. Weights are not read here.
///
/// ```swift
/// let model = try DiffusersModelFolder.open(URL(fileURLWithPath: "models/sdxl-inpainting"), variant: "fp16")
/// let unetWeights = try model.weights(.unet)
/// var scheduler = try model.scheduler()
/// ```
public struct DiffusersModelFolder: Sendable, Equatable {
    /// Component sub-folders of a diffusers pipeline.
    public enum Component: String, Sendable, CaseIterable {
        case unet, vae, scheduler
        case textEncoder = "text_encoder", tokenizer
        case textEncoder2 = "text_encoder_2", tokenizer2 = "tokenizer_2"
    }

    public let root: URL
    public let family: InpaintingFamily
    /// `_class_name` of model_index.json (nil when absent).
    public let pipelineClassName: String?
    /// Weight-file variant to prefer ("fp16" for `*.fp16.safetensors`), nil for the plain names.
    public let variant: String?
    /// The UNet's `in_channels` (9 for inpainting).
    public let unetInChannels: Int
    /// SDXL: zero negative embeddings when no negative prompt is given (model_index.json, default true).
    public let forceZerosForEmptyPrompt: Bool
    /// SDXL: time ids carry an aesthetic score instead of the target size (model_index.json, default false).
    public let requiresAestheticsScore: Bool

    /// What to tell a user whose folder is missing or incomplete.
    public static let downloadHint = "download a diffusers-format inpainting model, e.g. "
        + "`huggingface-cli download diffusers/stable-diffusion-xl-1.0-inpainting-0.1 --local-dir DIR` (SDXL) or "
        + "`stable-diffusion-v1-5/stable-diffusion-inpainting` (SD 1.5), and point --model at DIR "
        + "(or use the classical generator, `patchcore synthesize classical`)"

    /// The components a family needs.
    public static func components(of family: InpaintingFamily) -> [Component] {
        switch family {
        case .stableDiffusion: return [.unet, .vae, .textEncoder, .tokenizer, .scheduler]
        case .stableDiffusionXL: return [.unet, .vae, .textEncoder, .tokenizer, .textEncoder2, .tokenizer2, .scheduler]
        }
    }

    /// The files each component folder must hold besides its weights.
    static func requiredFiles(of component: Component) -> [String] {
        switch component {
        case .unet, .vae, .textEncoder, .textEncoder2: return ["config.json"]
        case .tokenizer, .tokenizer2: return ["vocab.json", "merges.txt"]
        case .scheduler: return ["scheduler_config.json"]
        }
    }

    /// The folder of `component`.
    public func url(_ component: Component) -> URL { root.appendingPathComponent(component.rawValue) }

    /// Opens and checks `root`; see the type's documentation. Throws `DiffusionModelError.missingFile` naming the
    /// missing folder or file (with `downloadHint`), `.badConfig` for unreadable JSON, and
    /// `InpaintingError.notAnInpaintingModel` for a 4-channel UNet.
    public static func open(_ root: URL, variant: String? = nil) throws -> DiffusersModelFolder {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
            throw DiffusionModelError.missingFile(path: root.path, hint: "no model folder here; " + downloadHint)
        }
        let indexURL = root.appendingPathComponent("model_index.json")
        guard fm.fileExists(atPath: indexURL.path) else {
            throw DiffusionModelError.missingFile(
                path: indexURL.path, hint: "not a diffusers pipeline folder (model_index.json is missing); " + downloadHint)
        }
        let index = try jsonObject(at: indexURL)
        let className = index["_class_name"] as? String

        // The UNet decides: 9 channels for inpainting, text_time added embeddings for SDXL.
        let unetConfigURL = root.appendingPathComponent("unet/config.json")
        try requireFolder(root.appendingPathComponent("unet"), component: "unet")
        guard fm.fileExists(atPath: unetConfigURL.path) else {
            throw DiffusionModelError.missingFile(path: unetConfigURL.path, hint: "the unet folder is incomplete; " + downloadHint)
        }
        let unetConfig = try jsonObject(at: unetConfigURL)
        guard let inChannels = unetConfig["in_channels"] as? Int else {
            throw DiffusionModelError.badConfig(file: unetConfigURL.path, reason: "missing integer key in_channels")
        }
        guard inChannels == 9 else {
            throw InpaintingError.notAnInpaintingModel(file: unetConfigURL.path, inChannels: inChannels)
        }
        let additionEmbed = unetConfig["addition_embed_type"] as? String
        let family: InpaintingFamily
        if additionEmbed == "text_time" || (className?.contains("XL") ?? false) {
            family = .stableDiffusionXL
            if additionEmbed != "text_time" {
                throw DiffusionModelError.unsupportedConfig(
                    file: unetConfigURL.path, field: "addition_embed_type",
                    value: "\(additionEmbed ?? "null") (an SDXL pipeline needs text_time)")
            }
        } else {
            family = .stableDiffusion
            if let a = additionEmbed {
                throw DiffusionModelError.unsupportedConfig(file: unetConfigURL.path, field: "addition_embed_type", value: a)
            }
        }

        for component in components(of: family) {
            let folder = root.appendingPathComponent(component.rawValue)
            try requireFolder(folder, component: component.rawValue)
            for file in requiredFiles(of: component) where !fm.fileExists(atPath: folder.appendingPathComponent(file).path) {
                throw DiffusionModelError.missingFile(
                    path: folder.appendingPathComponent(file).path,
                    hint: "the \(component.rawValue) folder is incomplete; " + downloadHint)
            }
        }
        return DiffusersModelFolder(
            root: root, family: family, pipelineClassName: className, variant: variant, unetInChannels: inChannels,
            forceZerosForEmptyPrompt: index["force_zeros_for_empty_prompt"] as? Bool ?? true,
            requiresAestheticsScore: index["requires_aesthetics_score"] as? Bool ?? false)
    }

    /// The weights of a weighted component (`unet`, `vae`, `text_encoder`, `text_encoder_2`), preferring `variant`.
    /// Missing weight files throw `DiffusionModelError.missingFile` naming the folder and the expected names.
    public func weights(_ component: Component) throws -> ComponentWeights {
        try ComponentWeights.open(folder: url(component), variant: variant)
    }

    /// The scheduler of `scheduler/scheduler_config.json`, or the one named by `override` ("euler", "ddim",
    /// "pndm", "dpm++2m" or a diffusers class name) configured from that file. Unsupported schedulers and config
    /// values throw the scheduler's own errors (naming the field).
    public func scheduler(override: String? = nil) throws -> any DiffusionScheduler {
        try SchedulerFactory.load(configURL: url(.scheduler).appendingPathComponent("scheduler_config.json"),
                                  override: override)
    }

    /// Checks that every weighted component has a weight file (without reading tensors).
    public func checkWeights() throws {
        for c in Self.components(of: family) where [.unet, .vae, .textEncoder, .textEncoder2].contains(c) {
            _ = try weights(c)
        }
    }

    static func requireFolder(_ folder: URL, component: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw DiffusionModelError.missingFile(
                path: folder.path, hint: "the model has no \(component) component folder; " + downloadHint)
        }
    }

    static func jsonObject(at url: URL) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DiffusionModelError.missingFile(path: url.path, hint: downloadHint)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw DiffusionModelError.badConfig(file: url.path, reason: "not a JSON object")
        }
        return object
    }
}
