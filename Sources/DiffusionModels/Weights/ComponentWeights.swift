import Foundation
import Checkpoints
import TensorCore

/// Why a diffusers model folder or one of its components could not be used. Every case names the file or folder.
public enum DiffusionModelError: Error, CustomStringConvertible, Equatable, Sendable, LocalizedError {
    case missingFile(path: String, hint: String)
    case badConfig(file: String, reason: String)
    /// A config value this implementation does not support: names the field and the value.
    case unsupportedConfig(file: String, field: String, value: String)
    /// A config value outside its documented range (`DiffusionConfigRanges`): the file, the field (with the block
    /// index for per-block lists), the value and the allowed range.
    case outOfRange(file: String, field: String, value: String, allowed: String)
    /// The tensors a weights file declares do not match the ones the config implies; found before anything is
    /// allocated, all listed together. `misshaped` entries read "name: file [a, b], config [c, d]".
    case weightsMismatch(file: String, missing: [String], unexpected: [String], misshaped: [String])
    /// A weight holds NaN or Inf (a corrupt or diverged checkpoint): the file, the tensor, the first flat index.
    case nonFinite(file: String, tensor: String, index: Int, value: String)
    case badInput(String)

    public var description: String {
        switch self {
        case let .missingFile(p, hint): return "\(p): missing; \(hint)"
        case let .badConfig(f, r): return "\(f): \(r)"
        case let .unsupportedConfig(f, field, v): return "\(f): unsupported config value \(field) = \(v)"
        case let .outOfRange(f, field, v, allowed): return "\(f): \(field) = \(v) is out of range (expected \(allowed))"
        case let .weightsMismatch(f, missing, unexpected, misshaped):
            var parts: [String] = []
            func list(_ names: [String]) -> String {
                names.prefix(10).joined(separator: ", ") + (names.count > 10 ? ", ... (\(names.count - 10) more)" : "")
            }
            if !missing.isEmpty { parts.append("missing \(missing.count) tensors (\(list(missing)))") }
            if !unexpected.isEmpty { parts.append("\(unexpected.count) unexpected tensors (\(list(unexpected)))") }
            if !misshaped.isEmpty { parts.append("\(misshaped.count) tensors with the wrong shape (\(list(misshaped)))") }
            return "\(f): does not match its config: " + parts.joined(separator: "; ")
        case let .nonFinite(f, t, i, v):
            return "\(f): tensor '\(t)' holds \(v) at element \(i); the weights are corrupt (every weight must be finite)"
        case let .badInput(r): return r
        }
    }

    public var errorDescription: String? { description }
}

/// Stored element precision of a component's weights.
public enum StoredPrecision: String, Sendable, Codable { case float32, float16, bfloat16 }

/// The weights and config of one diffusers component folder (`unet/`, `vae/`, `text_encoder/`, ...), as a user
/// downloads it: `config.json` plus `diffusion_pytorch_model[.<variant>].safetensors` or `model[.<variant>].safetensors`,
/// or a sharded checkpoint with its `*.safetensors.index[.<variant>].json`.
///
/// Files are memory-mapped and tensors are widened to Float32 only when a layer asks for them, so half-precision
/// files stay half-size in memory until then. Every name handed out is recorded, so a loader can list the tensors it
/// never used (unexpected keys) next to the ones it missed.
///
/// ```swift
/// let weights = try ComponentWeights.open(folder: model.appendingPathComponent("unet"), variant: "fp16")
/// let config = try weights.config(UNet2DConditionConfig.self)
/// let w = try weights.tensor("conv_in.weight", shape: [320, 9, 3, 3])
/// ```
public final class ComponentWeights: @unchecked Sendable {
    // @unchecked: archives are immutable; `used` is guarded by `lock`.
    public let folder: URL
    /// The weight files in use (one, or the shards of an index).
    public let files: [URL]
    private let archives: [SafeTensorsArchive]
    private let owner: [String: Int]
    private var used: Set<String> = []
    private let lock = NSLock()

    static let baseNames = ["diffusion_pytorch_model", "model"]

    /// Opens `folder`. With a `variant` ("fp16"), the variant files are preferred and the plain ones are the fallback;
    /// without one, plain files are preferred and a lone variant file is accepted.
    public static func open(folder: URL, variant: String? = nil) throws -> ComponentWeights {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw DiffusionModelError.missingFile(path: folder.path, hint: "expected a diffusers component folder with config.json and .safetensors weights")
        }
        let listing = (try? fm.contentsOfDirectory(atPath: folder.path)) ?? []
        var variants: [String?] = [variant, nil]
        if variant == nil { variants = [nil] + Set(listing.compactMap(variantOf)).sorted().map { Optional($0) } }
        for v in variants {
            for base in baseNames {
                let single = folder.appendingPathComponent(v.map { "\(base).\($0).safetensors" } ?? "\(base).safetensors")
                if fm.fileExists(atPath: single.path) { return try ComponentWeights(folder: folder, files: [single]) }
                let index = folder.appendingPathComponent(v.map { "\(base).safetensors.index.\($0).json" } ?? "\(base).safetensors.index.json")
                if fm.fileExists(atPath: index.path) { return try ComponentWeights(folder: folder, files: shards(of: index)) }
            }
        }
        let pickles = listing.filter { $0.hasSuffix(".bin") || $0.hasSuffix(".ckpt") }
        let hint = pickles.isEmpty
            ? "expected \(baseNames.map { "\($0)\(variant.map { ".\($0)" } ?? "").safetensors" }.joined(separator: " or ")) (or a sharded .safetensors.index.json)"
            : "found only \(pickles.joined(separator: ", ")); download the .safetensors weights of this model (PyTorch .bin pickles are not read)"
        throw DiffusionModelError.missingFile(path: folder.appendingPathComponent("*.safetensors").path, hint: hint)
    }

    /// "fp16" for "model.fp16.safetensors" / "x.safetensors.index.fp16.json"; nil for plain names.
    static func variantOf(_ name: String) -> String? {
        for base in baseNames {
            if name.hasPrefix(base + "."), name.hasSuffix(".safetensors"), !name.contains(".index.") {
                let middle = name.dropFirst(base.count + 1).dropLast(".safetensors".count)
                return middle.isEmpty ? nil : String(middle)
            }
        }
        return nil
    }

    /// The shard files an index names, in order of first appearance.
    static func shards(of index: URL) throws -> [URL] {
        let data = try readConfigFile(index)
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let map = json["weight_map"] as? [String: String] else {
            throw DiffusionModelError.badConfig(file: index.path, reason: "not a safetensors index (expected a JSON object with weight_map)")
        }
        let names = Array(Set(map.values)).sorted()
        if names.isEmpty { throw DiffusionModelError.badConfig(file: index.path, reason: "weight_map is empty") }
        // Shards live beside the index: a name with a folder part (absolute, "..", "a/b") would read elsewhere.
        if let bad = names.first(where: { $0.isEmpty || $0.contains("/") || $0.contains("\\") || $0 == "." || $0 == ".." }) {
            let tensor = map.first { $0.value == bad }?.key ?? "?"
            throw DiffusionModelError.badConfig(
                file: index.path, reason: "weight_map[\"\(tensor)\"] = \"\(bad)\" is not a file name in the index's folder")
        }
        return names.map { index.deletingLastPathComponent().appendingPathComponent($0) }
    }

    init(folder: URL, files: [URL]) throws {
        self.folder = folder
        self.files = files
        var archives: [SafeTensorsArchive] = []
        for f in files {
            guard FileManager.default.fileExists(atPath: f.path) else {
                throw DiffusionModelError.missingFile(path: f.path, hint: "listed by the folder's safetensors index")
            }
            do { try InputFile.checkRegularFile(f) } catch let error as InputFileError {
                throw DiffusionModelError.badConfig(file: f.path, reason: error.description)
            }
            archives.append(try SafeTensorsArchive(url: f))
        }
        var owner: [String: Int] = [:]
        for (i, a) in archives.enumerated() { for n in a.names { owner[n] = i } }
        self.archives = archives
        self.owner = owner
    }

    /// All tensor names, sorted.
    public var names: [String] { owner.keys.sorted() }

    public func contains(_ name: String) -> Bool { owner[name] != nil }

    /// The stored shape of `name`, nil when absent (for configs that leave a size implicit).
    public func shape(of name: String) -> [Int]? {
        owner[name].flatMap { archives[$0].info(name)?.shape }
    }

    /// The precision most parameters are stored in.
    public var storedPrecision: StoredPrecision {
        var counts: [StoredPrecision: Int] = [:]
        for (name, i) in owner {
            guard let info = archives[i].info(name) else { continue }
            let n = info.shape.reduce(1, *)
            switch info.type {
            case .float16: counts[.float16, default: 0] += n
            case .bfloat16: counts[.bfloat16, default: 0] += n
            default: counts[.float32, default: 0] += n
            }
        }
        return counts.max { $0.value < $1.value }?.key ?? .float32
    }

    /// `name` widened to Float32; it must have `shape`. Marks the name used.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let i = owner[name] else {
            throw CheckpointError.missingTensors(file: files.count == 1 ? files[0].path : folder.path, missing: [name], unexpected: [])
        }
        lock.lock(); used.insert(name); lock.unlock()
        let t = try archives[i].tensor(name, shape: shape)
        try t.withUnsafeBufferPointer { p in
            if let bad = p.firstIndex(where: { !$0.isFinite }) {
                throw DiffusionModelError.nonFinite(file: files[i].path, tensor: name, index: bad, value: "\(p[bad])")
            }
        }
        return t
    }

    /// `name`'s stored 16-bit values when it is stored as F16 / BF16 (nil otherwise); it must have `shape`.
    /// Marks the name used.
    public func halfBits(_ name: String, shape: [Int]) throws -> (bits: [UInt16], type: ScalarType)? {
        guard let i = owner[name] else {
            throw CheckpointError.missingTensors(file: files.count == 1 ? files[0].path : folder.path, missing: [name], unexpected: [])
        }
        lock.lock(); used.insert(name); lock.unlock()
        guard let half = try archives[i].halfBits(name, shape: shape) else { return nil }
        // All exponent bits set is Inf or NaN: fp16 0x7C00, bf16 0x7F80.
        let exponent: UInt16 = half.type == .bfloat16 ? 0x7F80 : 0x7C00
        if let bad = half.bits.firstIndex(where: { $0 & exponent == exponent }) {
            let isNaN = half.bits[bad] & ~(exponent | 0x8000) != 0
            throw DiffusionModelError.nonFinite(file: files[i].path, tensor: name, index: bad,
                                                value: isNaN ? "nan" : (half.bits[bad] & 0x8000 != 0 ? "-inf" : "inf"))
        }
        return half
    }

    /// `name` if present (optional parameters such as a bias), else nil.
    public func optionalTensor(_ name: String, shape: [Int]) throws -> Tensor? {
        contains(name) ? try tensor(name, shape: shape) : nil
    }

    /// Names never requested through `tensor`, sorted: the unexpected keys once a model finished loading.
    public func reportUnused() -> [String] {
        lock.lock(); defer { lock.unlock() }
        return owner.keys.filter { !used.contains($0) }.sorted()
    }

    /// Throws when tensors were left unused, listing them (call after a model has loaded all its parameters).
    public func verifyAllUsed() throws {
        let unused = reportUnused()
        if !unused.isEmpty {
            throw CheckpointError.missingTensors(file: files.count == 1 ? files[0].path : folder.path, missing: [], unexpected: unused)
        }
    }

    /// `config.json` of the folder decoded as `T`.
    public func config<T: Decodable>(_ type: T.Type) throws -> T {
        try ComponentWeights.decodeConfig(type, at: folder.appendingPathComponent("config.json"))
    }

    /// Decodes a JSON config file; errors name the file and the failing key.
    public static func decodeConfig<T: Decodable>(_ type: T.Type, at url: URL) throws -> T {
        let data: Data
        do { data = try readConfigFile(url) } catch DiffusionModelError.missingFile(let path, _) {
            throw DiffusionModelError.missingFile(path: path, hint: "every diffusers component folder holds its config.json")
        }
        // The configs of this module parse themselves, so errors name the real path and every range is checked.
        if let parsing = T.self as? ConfigFileParsing.Type, let config = try parsing.init(json: data, file: url.path) as? T {
            return config
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch let error as DiffusionModelError {
            throw error
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw DiffusionModelError.badConfig(file: url.path, reason: "missing key \((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw DiffusionModelError.badConfig(file: url.path, reason: "wrong type at \(ctx.codingPath.map(\.stringValue).joined(separator: ".")): \(ctx.debugDescription)")
        } catch let DecodingError.valueNotFound(_, ctx) {
            throw DiffusionModelError.badConfig(file: url.path, reason: "null at \(ctx.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch {
            throw DiffusionModelError.badConfig(file: url.path, reason: "not valid JSON")
        }
    }
}

/// A config type that parses (and validates) its own JSON, naming `file` in errors: the pure entry points the fuzz
/// helper and `ComponentWeights.decodeConfig` call.
protocol ConfigFileParsing {
    init(json data: Data, file: String) throws
}

extension UNet2DConditionConfig: ConfigFileParsing {}
extension AutoencoderKLConfig: ConfigFileParsing {}
extension CLIPTextConfig: ConfigFileParsing {}
