import Checkpoints
import Foundation
import Testing
import TensorCore
@testable import DiffusionModels
#if canImport(Glibc)
import Glibc
#endif

/// Issue 11: malformed diffusers configs, tokenizer files and weight files give errors naming the file and the
/// field, never a trap, a hang or gigabytes of stand-in zeros. Every input is generated here, a few bytes each.
@Suite("Hostile diffusion inputs")
struct HostileInputTests {
    static func json(_ object: [String: Any]) -> Data {
        try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-diffusion-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A small valid SD-style UNet config, changed by `edit`.
    static func unet(_ edit: (inout [String: Any]) -> Void = { _ in }) -> Data {
        var c: [String: Any] = [
            "in_channels": 9, "out_channels": 4, "block_out_channels": [16, 32], "layers_per_block": 1,
            "norm_num_groups": 8, "cross_attention_dim": 24, "attention_head_dim": [2, 4],
            "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
        ]
        edit(&c)
        return json(c)
    }

    /// The field an out-of-range / bad-config error names (nil for other errors).
    static func field(_ error: Error) -> String? {
        switch error {
        case let DiffusionModelError.outOfRange(_, field, _, _): return field
        case let DiffusionModelError.unsupportedConfig(_, field, _): return field
        case let DiffusionModelError.badConfig(_, reason): return reason
        default: return nil
        }
    }

    static func expectRejected(_ data: Data, naming expected: String, _ parse: (Data) throws -> Void,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try parse(data)
            Issue.record("accepted a config with a bad \(expected)", sourceLocation: sourceLocation)
        } catch {
            let text = "\(error)"
            #expect(text.contains("cfg.json"), "error does not name the file: \(text)", sourceLocation: sourceLocation)
            #expect(field(error)?.contains(expected) == true, "error does not name \(expected): \(text)",
                    sourceLocation: sourceLocation)
        }
    }

    // MARK: - Config values (class 1)

    @Test func unetConfigValuesOutsideTheirRangesAreRefusedNamingTheField() {
        let parse = { (d: Data) throws in _ = try UNet2DConditionConfig(json: d, file: "cfg.json") }
        #expect(throws: Never.self) { try parse(Self.unet()) }
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("norm_num_groups", { $0["norm_num_groups"] = 0 }),
            ("norm_num_groups", { $0["norm_num_groups"] = -8 }),
            ("norm_num_groups", { $0["norm_num_groups"] = 64 }),             // more groups than channels
            ("attention_head_dim", { $0["attention_head_dim"] = [0, 4] }),
            ("attention_head_dim", { $0["attention_head_dim"] = -2 }),
            ("layers_per_block", { $0["layers_per_block"] = -1 }),
            ("layers_per_block", { $0["layers_per_block"] = 0 }),
            ("block_out_channels", { $0["block_out_channels"] = [Int](); $0["down_block_types"] = [String](); $0["up_block_types"] = [String]() }),
            ("block_out_channels", { $0["block_out_channels"] = [16, -32] }),
            ("block_out_channels", { $0["block_out_channels"] = [16, 32, 64]; $0["attention_head_dim"] = 2 }),  // 3 channels, 2 block types
            ("attention_head_dim", { $0["attention_head_dim"] = [2, 4, 8] }),     // list of the wrong length
            ("sample_size", { $0["sample_size"] = Int.max }),
            ("sample_size", { $0["sample_size"] = 0 }),
            ("in_channels", { $0["in_channels"] = 0 }),
            ("out_channels", { $0["out_channels"] = -4 }),
            ("cross_attention_dim", { $0["cross_attention_dim"] = 0 }),
            ("transformer_layers_per_block", { $0["transformer_layers_per_block"] = [1, -1] }),
            ("transformer_layers_per_block", { $0["transformer_layers_per_block"] = 1_000_000 }),
            ("norm_eps", { $0["norm_eps"] = -1 }),
            ("in_channels", { $0["in_channels"] = "nine" }),
            ("projection_class_embeddings_input_dim", {
                $0["addition_embed_type"] = "text_time"; $0["addition_time_embed_dim"] = 8
                $0["projection_class_embeddings_input_dim"] = 48
            }),
        ]
        for (name, edit) in cases { Self.expectRejected(Self.unet(edit), naming: name, parse) }
    }

    @Test func vaeConfigValuesOutsideTheirRangesAreRefused() {
        let parse = { (d: Data) throws in _ = try AutoencoderKLConfig(json: d, file: "cfg.json") }
        let base: [String: Any] = ["block_out_channels": [8, 16], "norm_num_groups": 4, "latent_channels": 4]
        #expect(throws: Never.self) { try parse(Self.json(base)) }
        let cases: [(String, [String: Any])] = [
            ("block_out_channels", ["block_out_channels": [Int]()]),
            ("block_out_channels", ["block_out_channels": Array(repeating: 8, count: 70)]),   // 2^69 down-sampling
            ("norm_num_groups", ["norm_num_groups": 0]),
            ("latent_channels", ["latent_channels": 0]),
            ("layers_per_block", ["layers_per_block": -3]),
            ("scaling_factor", ["scaling_factor": 0]),
            ("sample_size", ["sample_size": Int.max]),
        ]
        for (name, change) in cases {
            Self.expectRejected(Self.json(base.merging(change) { _, b in b }), naming: name, parse)
        }
    }

    @Test func clipTextConfigValuesOutsideTheirRangesAreRefused() {
        let parse = { (d: Data) throws in _ = try CLIPTextConfig(json: d, file: "cfg.json") }
        let base: [String: Any] = ["vocab_size": 1000, "hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 64,
                                   "num_hidden_layers": 2, "max_position_embeddings": 77, "eos_token_id": 999, "bos_token_id": 998]
        #expect(throws: Never.self) { try parse(Self.json(base)) }
        let cases: [(String, [String: Any])] = [
            ("num_attention_heads", ["num_attention_heads": 5]),        // 32 is not divisible by 5
            ("num_attention_heads", ["num_attention_heads": 0]),
            ("vocab_size", ["vocab_size": 0]),
            ("max_position_embeddings", ["max_position_embeddings": 1 << 40]),
            ("hidden_size", ["hidden_size": -32]),
            ("num_hidden_layers", ["num_hidden_layers": 1_000_000]),
            ("eos_token_id", ["eos_token_id": 5000]),
            ("layer_norm_eps", ["layer_norm_eps": 0]),
            ("hidden_size", ["hidden_size": "wide"]),
        ]
        for (name, change) in cases {
            Self.expectRejected(Self.json(base.merging(change) { _, b in b }), naming: name, parse)
        }
        Self.expectRejected(Data("[1, 2]".utf8), naming: "JSON object", parse)
        Self.expectRejected(Data("{\"vocab_size\": ".utf8), naming: "not valid JSON", parse)
    }

    @Test func configFilesThatAreNotRegularFilesAreRefusedWithoutBlocking() throws {
        let dir = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("config.json")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        do {
            _ = try UNet2DConditionConfig(contentsOf: fifo)
            Issue.record("read a FIFO")
        } catch let DiffusionModelError.badConfig(file, reason) {
            #expect(file == fifo.path && reason.contains("FIFO"), "\(reason)")
        }
        // A directory under the config's name, and a symlink loop.
        let sub = dir.appendingPathComponent("vae")
        try FileManager.default.createDirectory(at: sub.appendingPathComponent("config.json"), withIntermediateDirectories: true)
        #expect(throws: DiffusionModelError.self) { try AutoencoderKLConfig(contentsOf: sub.appendingPathComponent("config.json")) }
        let loop = dir.appendingPathComponent("loop.json")
        try FileManager.default.createSymbolicLink(atPath: loop.path, withDestinationPath: loop.path)
        do {
            _ = try CLIPTextConfig(contentsOf: loop)
            Issue.record("read a symlink loop")
        } catch let DiffusionModelError.badConfig(file, reason) {
            #expect(file == loop.path && reason.contains("symbolic links"), "\(reason)")
        }
    }

    // MARK: - Tokenizer files (class 1)

    static func tokenizerFolder(vocab: String? = nil, merges: String? = nil, config: String? = nil) throws -> URL {
        let dir = try temporaryFolder()
        var v: [String: Int] = [:]
        for (i, p) in ByteLevelAlphabet.vocabularyOrder.enumerated() { v[String(p.character)] = i }
        v["<|startoftext|>"] = 256; v["<|endoftext|>"] = 257
        try (vocab.map { Data($0.utf8) } ?? json(v)).write(to: dir.appendingPathComponent("vocab.json"))
        try Data((merges ?? "#version: 0.2\n").utf8).write(to: dir.appendingPathComponent("merges.txt"))
        if let config { try Data(config.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json")) }
        return dir
    }

    @Test func malformedTokenizerFilesNameTheFile() throws {
        let good = try Self.tokenizerFolder()
        defer { try? FileManager.default.removeItem(at: good) }
        #expect(try CLIPTokenizer(folder: good).maxLength == 77)

        func expectError(_ folder: URL, file: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            defer { try? FileManager.default.removeItem(at: folder) }
            do {
                _ = try CLIPTokenizer(folder: folder)
                Issue.record("accepted a bad \(file)", sourceLocation: sourceLocation)
            } catch {
                let message = "\(error)"
                #expect(message.contains(file) && message.contains(text), "\(message)", sourceLocation: sourceLocation)
            }
        }
        expectError(try Self.tokenizerFolder(vocab: "[1, 2, 3]"), file: "vocab.json", containing: "JSON object")
        expectError(try Self.tokenizerFolder(vocab: "{\"a\": -1}"), file: "vocab.json", containing: "non-negative")
        expectError(try Self.tokenizerFolder(merges: "#version: 0.2\na b c\n"), file: "merges.txt", containing: "line 2")
        expectError(try Self.tokenizerFolder(merges: "#version: 0.2\nzz qq\n"), file: "merges.txt", containing: "not in vocab.json")
        expectError(try Self.tokenizerFolder(config: "{\"model_max_length\": 900000}"), file: "tokenizer_config.json",
                    containing: "model_max_length")
        expectError(try Self.tokenizerFolder(config: "{\"model_max_length\": -5}"), file: "tokenizer_config.json",
                    containing: "model_max_length")

        let missing = try Self.tokenizerFolder()
        try FileManager.default.removeItem(at: missing.appendingPathComponent("merges.txt"))
        expectError(missing, file: "merges.txt", containing: "missing")

        let fifo = try Self.tokenizerFolder()
        try FileManager.default.removeItem(at: fifo.appendingPathComponent("vocab.json"))
        #expect(mkfifo(fifo.appendingPathComponent("vocab.json").path, 0o600) == 0)
        expectError(fifo, file: "vocab.json", containing: "FIFO")
    }

    // MARK: - Weights against the config, before allocating (class 2)

    /// An SD 1.5 inpainting UNet config (diffusers' defaults, 9 input channels, 768-wide text).
    static let sd15 = unet { c in
        c = ["in_channels": 9, "cross_attention_dim": 768, "norm_num_groups": 32, "sample_size": 64]
    }

    /// A component folder with `config` and a safetensors file declaring `tensors` (name -> shape, F32, zero bytes
    /// of data unless `data` is set: the header alone is what the check reads).
    static func componentFolder(config: Data, tensors: [String: [Int]] = [:]) throws -> URL {
        let dir = try temporaryFolder()
        try config.write(to: dir.appendingPathComponent("config.json"))
        var header: [String: Any] = [:]
        var offset = 0
        for name in tensors.keys.sorted() {
            let bytes = tensors[name]!.reduce(4, *)
            header[name] = ["dtype": "F32", "shape": tensors[name]!, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var headerBytes = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }
        var file = Data()
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(headerBytes)
        file.append(Data(count: offset))
        try file.write(to: dir.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        return dir
    }

    @Test func sd15UNetWithAnEmptyWeightsFileFailsFastListingEveryMissingTensor() throws {
        let dir = try Self.componentFolder(config: Self.sd15)
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = try ComponentWeights.open(folder: dir)
        let file = dir.appendingPathComponent("diffusion_pytorch_model.safetensors").path
        let start = Date()
        do {
            _ = try UNet2DConditionModel(config: weights.config(UNet2DConditionConfig.self), weights: weights)
            Issue.record("built a UNet from an empty weights file")
        } catch let CheckpointError.missingTensors(reported, missing, unexpected) {
            let seconds = Date().timeIntervalSince(start)
            print("empty SD-1.5 weights: \(missing.count) missing tensors reported in \(seconds) s")
            #expect(reported == file)
            #expect(missing.count == 686)
            #expect(unexpected.isEmpty)
            #expect(missing.contains("conv_in.weight") && missing.contains("up_blocks.3.attentions.2.proj_out.bias"))
            #expect(seconds < 1, "took \(seconds) s: tensors were allocated before the check")
        }
    }

    @Test func missingUnexpectedAndMisshapedTensorsAreListedTogether() throws {
        var shapes = try UNet2DConditionConfig(json: Self.unet()).parameterPlan.shapes
        shapes["conv_in.weight"] = [16, 4, 3, 3]          // a text-to-image UNet's first conv
        shapes["conv_out.bias"] = [3]
        shapes.removeValue(forKey: "time_embedding.linear_1.weight")
        shapes["extra.weight"] = [1]
        let dir = try Self.componentFolder(config: Self.unet(), tensors: shapes)
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = try ComponentWeights.open(folder: dir)
        do {
            _ = try UNet2DConditionModel(config: weights.config(UNet2DConditionConfig.self), weights: weights)
            Issue.record("loaded mismatched weights")
        } catch let DiffusionModelError.weightsMismatch(file, missing, unexpected, misshaped) {
            #expect(file.hasSuffix("diffusion_pytorch_model.safetensors"))
            #expect(missing == ["time_embedding.linear_1.weight"])
            #expect(unexpected == ["extra.weight"])
            #expect(misshaped == ["conv_in.weight: file [16, 4, 3, 3], config [16, 9, 3, 3]",
                                  "conv_out.bias: file [3], config [4]"])
            #expect("\(DiffusionModelError.weightsMismatch(file: file, missing: missing, unexpected: unexpected, misshaped: misshaped))"
                .contains("missing 1 tensors"))
        }
    }

    @Test func aConfigImplyingATensorBeyondTheLimitsFailsBeforeAllocating() throws {
        // 16384 channels: conv weights of 16384 x 16384 x 3 x 3 = 2.4e9 elements, over maxTensorElements.
        let config = try UNet2DConditionConfig(json: Self.unet {
            $0["block_out_channels"] = [16_384, 16_384]; $0["norm_num_groups"] = 32; $0["attention_head_dim"] = 8
        })
        let start = Date()
        do {
            _ = try UNet2DConditionModel(config: config, weights: RandomWeights(seed: 0))
            Issue.record("allocated a 2.4e9-element tensor")
        } catch let error as InputLimitError {
            #expect(error.field.contains("shape of") && error.limit.contains("elements"), "\(error)")
        }
        #expect(Date().timeIntervalSince(start) < 1)
        // VAE and CLIP check the same way.
        let vae = try AutoencoderKLConfig(json: Self.json(["block_out_channels": [16_384], "norm_num_groups": 32]))
        #expect(throws: InputLimitError.self) { try AutoencoderKL(config: vae, weights: StateDict(file: "v", tensors: [:])) }
    }

    @Test func nonFiniteWeightsAreRefusedNamingFileAndTensor() throws {
        let dir = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("{}".utf8).write(to: dir.appendingPathComponent("config.json"))
        // Two tensors: "a" F32 [2] = [1, NaN], "h" F16 [2] = [1, +Inf].
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"h":{"dtype":"F16","shape":[2],"data_offsets":[8,12]}}"#
        var headerBytes = Data(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }
        var file = Data()
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(headerBytes)
        for v in [Float(1), Float.nan] { withUnsafeBytes(of: v.bitPattern.littleEndian) { file.append(contentsOf: $0) } }
        for bits in [UInt16(0x3C00), UInt16(0x7C00)] { withUnsafeBytes(of: bits.littleEndian) { file.append(contentsOf: $0) } }
        let path = dir.appendingPathComponent("model.safetensors")
        try file.write(to: path)
        let weights = try ComponentWeights.open(folder: dir)
        #expect(throws: DiffusionModelError.nonFinite(file: path.path, tensor: "a", index: 1, value: "nan")) {
            try weights.tensor("a", shape: [2])
        }
        #expect(throws: DiffusionModelError.nonFinite(file: path.path, tensor: "h", index: 1, value: "inf")) {
            try weights.halfBits("h", shape: [2])
        }
        #expect(throws: DiffusionModelError.nonFinite(file: path.path, tensor: "h", index: 1, value: "inf")) {
            try weights.tensor("h", shape: [2])
        }
    }

    // MARK: - The plan mirrors the modules exactly

    /// Records every name and shape a model asks for (random weights, not enumerated).
    final class RecordingWeights: WeightSource {
        var requested: [String: [Int]] = [:]
        var names: [String] { [] }
        var sourceDescription: String { "recording" }
        var enumeratesNames: Bool { false }
        func tensor(_ name: String, shape: [Int]) throws -> Tensor {
            requested[name] = shape
            return try RandomWeights(seed: 1).tensor(name, shape: shape)
        }
    }

    @Test func parameterPlansMatchWhatTheModulesRead() throws {
        let unetConfigs: [Data] = [
            Self.unet(),
            Self.unet { $0["use_linear_projection"] = true; $0["transformer_layers_per_block"] = [1, 2]; $0["layers_per_block"] = [1, 2] },
            Self.unet {
                $0["addition_embed_type"] = "text_time"; $0["addition_time_embed_dim"] = 4
                $0["projection_class_embeddings_input_dim"] = 40
                $0["down_block_types"] = ["DownBlock2D", "CrossAttnDownBlock2D"]; $0["up_block_types"] = ["CrossAttnUpBlock2D", "UpBlock2D"]
            },
        ]
        for data in unetConfigs {
            let config = try UNet2DConditionConfig(json: data)
            let recorder = RecordingWeights()
            _ = try UNet2DConditionModel(config: config, weights: recorder)
            #expect(recorder.requested == config.parameterPlan.shapes)
        }
        for change: [String: Any] in [[:], ["mid_block_add_attention": false, "use_quant_conv": false, "layers_per_block": 2]] {
            let config = try AutoencoderKLConfig(json: Self.json(["block_out_channels": [8, 16], "norm_num_groups": 4]
                .merging(change) { _, b in b }))
            let recorder = RecordingWeights()
            _ = try AutoencoderKL(config: config, weights: recorder)
            #expect(recorder.requested == config.parameterPlan.shapes)
        }
        let clip = CLIPTextConfig(vocabSize: 50, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2,
                                  numAttentionHeads: 2, maxPositionEmbeddings: 8, projectionDim: 12, bosTokenID: 48, eosTokenID: 49)
        let recorder = RecordingWeights()
        _ = try CLIPTextModelWithProjection(config: clip) { try recorder.tensor($0, shape: $1) }
        #expect(recorder.requested == clip.parameterPlan(prefix: "text_model.", withProjection: true).shapes)
    }
}
