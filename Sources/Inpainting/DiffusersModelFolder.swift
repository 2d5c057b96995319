import Foundation
import DiffusionModels
import DiffusionSchedulers
import TensorCore

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
        let index = try DiffusersModelIndex(json: readFile(indexURL), file: indexURL.path)
        let className = index.className

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
        guard DiffusionConfigRanges.channels.contains(inChannels) else {
            throw DiffusionModelError.outOfRange(file: unetConfigURL.path, field: "in_channels", value: "\(inChannels)",
                                                 allowed: "9 (an inpainting UNet)")
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
            for file in requiredFiles(of: component) {
                let url = folder.appendingPathComponent(file)
                guard fm.fileExists(atPath: url.path) else {
                    throw DiffusionModelError.missingFile(
                        path: url.path, hint: "the \(component.rawValue) folder is incomplete; " + downloadHint)
                }
                // A FIFO, device or directory under a config's name would block or mislead a later reader.
                do { try InputFile.checkRegularFile(url) } catch let error as InputFileError {
                    throw DiffusionModelError.badConfig(file: url.path, reason: error.description)
                }
            }
        }
        return DiffusersModelFolder(
            root: root, family: family, pipelineClassName: className, variant: variant, unetInChannels: inChannels,
            forceZerosForEmptyPrompt: index.forceZerosForEmptyPrompt,
            requiresAestheticsScore: index.requiresAestheticsScore)
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

    /// A config file's bytes through `InputFile` (bounded; directories, FIFOs and devices refused), errors naming it.
    static func readFile(_ url: URL) throws -> Data {
        do { return try InputFile.read(url) } catch let error as InputFileError {
            if case let .unreadable(_, reason) = error, reason.contains("No such file") {
                throw DiffusionModelError.missingFile(path: url.path, hint: downloadHint)
            }
            throw DiffusionModelError.badConfig(file: url.path, reason: error.description)
        }
    }

    static func jsonObject(at url: URL) throws -> [String: Any] {
        let data = try readFile(url)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw DiffusionModelError.badConfig(file: url.path, reason: "not a JSON object")
        }
        return object
    }
}

/// The fields of a diffusers `model_index.json` this package reads, type-checked: `_class_name` (a string),
/// `force_zeros_for_empty_prompt` and `requires_aesthetics_score` (booleans); component entries must be
/// `[library, class]` pairs of strings or nulls. Anything else is an error naming the file and the field.
///
/// ```swift
/// let index = try DiffusersModelIndex(json: data, file: "model_index.json")   // a pure entry point: no file access
/// ```
public struct DiffusersModelIndex: Sendable, Equatable {
    public var className: String?
    public var forceZerosForEmptyPrompt: Bool
    public var requiresAestheticsScore: Bool
    /// Component name -> [library, class] ("unet" -> ["diffusers", "UNet2DConditionModel"]); nulls kept as nil.
    public var components: [String: [String?]]

    public init(json data: Data, file: String) throws {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: data), case let .object(object) = value else {
            throw DiffusionModelError.badConfig(file: file, reason: "not a JSON object")
        }
        func string(_ key: String) throws -> String? {
            switch object[key] {
            case nil, .null?: return nil
            case let .string(s)?: return s
            case let other?: throw DiffusionModelError.badConfig(file: file, reason: "\"\(key)\" is \(other), expected a string")
            }
        }
        func bool(_ key: String) throws -> Bool? {
            switch object[key] {
            case nil, .null?: return nil
            case let .bool(b)?: return b
            case let other?: throw DiffusionModelError.badConfig(file: file, reason: "\"\(key)\" is \(other), expected true or false")
            }
        }
        className = try string("_class_name")
        forceZerosForEmptyPrompt = try bool("force_zeros_for_empty_prompt") ?? true
        requiresAestheticsScore = try bool("requires_aesthetics_score") ?? false
        var components: [String: [String?]] = [:]
        for component in DiffusersModelFolder.Component.allCases {
            guard let value = object[component.rawValue], value != .null else { continue }
            guard case let .array(pair) = value, pair.count == 2,
                  pair.allSatisfy({ if case .string = $0 { true } else { $0 == .null } }) else {
                throw DiffusionModelError.badConfig(
                    file: file, reason: "\"\(component.rawValue)\" is \(value), expected [library, class] (two strings or nulls)")
            }
            components[component.rawValue] = pair.map { if case let .string(s) = $0 { s } else { nil } }
        }
        self.components = components
    }
}
