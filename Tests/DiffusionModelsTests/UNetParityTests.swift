import Checkpoints
import Foundation
import Testing
import TensorCore
import TestSupport
@testable import DiffusionModels

/// Parity with diffusers 0.42.1 on the tiny inpainting UNets of scripts/make_unet_vae_fixtures.py.
@Suite("UNet2DConditionModel")
struct UNetParityTests {
    static func load(_ name: String, variant: String? = nil) throws -> UNet2DConditionModel {
        let weights = try ComponentWeights.open(folder: fixtures.url("unet/\(name)"), variant: variant)
        return try UNet2DConditionModel(config: weights.config(UNet2DConditionConfig.self), weights: weights)
    }

    @Test func sdInpaintingMatchesDiffusers() throws {
        let unet = try Self.load("sd_inpaint")
        #expect(unet.config.inChannels == 9 && unet.config.attentionHeads == [4, 4] && unet.config.layersPerBlock == [2, 2])
        let ref = try fixtures.tensors("unet/sd_inpaint/reference.safetensors")
        var traced: [String: Tensor] = [:]
        let out = try unet.forward(sample: ref["sample"]!, timestep: 981, encoderHiddenStates: ref["encoder_hidden_states"]!,
                                   textEmbeds: nil, timeIds: nil, trace: { traced[$0] = $1 })
        for name in traced.keys.sorted() {
            expectClose(traced[name]!, try #require(ref["trace." + name], "no reference for \(name)"), "sd \(name)", tolerance: 1e-4)
        }
        #expect(traced.count == 7)
        expectClose(out, ref["out"]!, "sd unet output", tolerance: 1e-4)
    }

    @Test func oddLatentSizeUpsamplesToTheSkipSize() throws {
        let unet = try Self.load("sd_inpaint")
        let ref = try fixtures.tensors("unet/sd_inpaint/reference.safetensors")
        let out = try unet(sample: ref["odd_sample"]!, timestep: 981, encoderHiddenStates: ref["odd_encoder_hidden_states"]!)
        #expect(out.shape == [2, 4, 5, 7])
        expectClose(out, ref["odd_out"]!, "sd unet output 5x7", tolerance: 1e-4)
    }

    @Test func sdxlInpaintingFromHalfPrecisionFileMatchesDiffusers() throws {
        let weights = try ComponentWeights.open(folder: fixtures.url("unet/sdxl_inpaint"), variant: "fp16")
        #expect(weights.storedPrecision == .float16)
        let unet = try UNet2DConditionModel(config: weights.config(UNet2DConditionConfig.self), weights: weights)
        #expect(unet.config.usesTextTimeEmbedding && unet.config.transformerLayersPerBlock == [1, 2])
        let ref = try fixtures.tensors("unet/sdxl_inpaint/reference.safetensors")
        var traced: [String: Tensor] = [:]
        let out = try unet.forward(sample: ref["sample"]!, timestep: 420, encoderHiddenStates: ref["encoder_hidden_states"]!,
                                   textEmbeds: ref["text_embeds"]!, timeIds: ref["time_ids"]!, trace: { traced[$0] = $1 })
        for name in traced.keys.sorted() {
            expectClose(traced[name]!, try #require(ref["trace." + name]), "sdxl \(name)", tolerance: 1e-4)
        }
        // Reference: diffusers in fp32 on the same fp16-rounded weights.
        expectClose(out, ref["out"]!, "sdxl unet output (fp16 weights)", tolerance: 1e-4)
        // Against the unrounded fp32 weights the fp16 file costs about 1e-3 relative.
        expectClose(out, ref["out_fp32_weights"]!, "sdxl unet output vs fp32 weights", tolerance: 2e-2)
    }

    @Test func sdxlNeedsTextEmbedsAndTimeIds() throws {
        let unet = try Self.load("sdxl_inpaint", variant: "fp16")
        let ref = try fixtures.tensors("unet/sdxl_inpaint/reference.safetensors")
        #expect(throws: DiffusionModelError.self) {
            try unet(sample: ref["sample"]!, timestep: 1, encoderHiddenStates: ref["encoder_hidden_states"]!)
        }
        #expect(throws: DiffusionModelError.self) {
            try unet(sample: ref["sample"]!, timestep: 1, encoderHiddenStates: ref["encoder_hidden_states"]!,
                     textEmbeds: Tensor(zeros: [2, 39]), timeIds: ref["time_ids"]!)
        }
    }

    @Test func wrongInputShapesAreErrors() throws {
        let unet = try Self.load("sd_inpaint")
        let text = Tensor(zeros: [2, 7, 24])
        do {
            _ = try unet(sample: Tensor(zeros: [2, 4, 8, 8]), timestep: 1, encoderHiddenStates: text)
            Issue.record("4-channel sample accepted by a 9-channel UNet")
        } catch let e as DiffusionModelError {
            #expect(e.description.contains("sample") && e.description.contains("9"))
        }
        #expect(throws: DiffusionModelError.self) {
            try unet(sample: Tensor(zeros: [2, 9, 8, 8]), timestep: 1, encoderHiddenStates: Tensor(zeros: [2, 7, 32]))
        }
    }
}

@Suite("UNet2DConditionModel loading errors")
struct UNetLoadingTests {
    static var sdFolder: URL { fixtures.url("unet/sd_inpaint") }

    static func configJSON(_ edit: (inout [String: Any]) -> Void) throws -> Data {
        var dict = try JSONSerialization.jsonObject(with: Data(contentsOf: sdFolder.appendingPathComponent("config.json"))) as! [String: Any]
        edit(&dict)
        return try JSONSerialization.data(withJSONObject: dict)
    }

    @Test func unsupportedConfigValuesNameTheField() throws {
        let cases: [(String, Any)] = [
            ("act_fn", "gelu"), ("class_embed_type", "timestep"), ("resnet_time_scale_shift", "scale_shift"),
            ("only_cross_attention", true), ("down_block_types", ["SimpleCrossAttnDownBlock2D", "DownBlock2D"]),
            ("addition_embed_type", "text"), ("num_attention_heads", 8), ("time_embedding_type", "fourier"),
        ]
        for (field, value) in cases {
            let data = try Self.configJSON { $0[field] = value }
            do {
                _ = try UNet2DConditionConfig(json: data, file: "unet/config.json")
                Issue.record("\(field) = \(value) accepted")
            } catch let DiffusionModelError.unsupportedConfig(file, f, v) {
                print("rejected: \(DiffusionModelError.unsupportedConfig(file: file, field: f, value: v))")
                #expect(f == field && file == "unet/config.json" && !v.isEmpty)
            }
        }
        let lists = try Self.configJSON { $0["attention_head_dim"] = [8, 8, 8] }
        #expect(throws: DiffusionModelError.self) { try UNet2DConditionConfig(json: lists) }
        // The diffusers defaults written out explicitly are accepted.
        let defaults = try Self.configJSON {
            $0["resnet_time_scale_shift"] = "default"; $0["class_embed_type"] = NSNull(); $0["mid_block_type"] = "UNetMidBlock2DCrossAttn"
        }
        #expect(try UNet2DConditionConfig(json: defaults).blockOutChannels == [16, 32])
    }

    @Test func missingAndUnexpectedWeightsAreListedTogether() throws {
        let config = try UNet2DConditionConfig(contentsOf: Self.sdFolder.appendingPathComponent("config.json"))
        var tensors = try SafeTensors.read(Self.sdFolder.appendingPathComponent("diffusion_pytorch_model.safetensors")).tensors
        tensors["down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k.weights"] =
            tensors.removeValue(forKey: "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k.weight")
        tensors.removeValue(forKey: "conv_out.bias")
        tensors["extra.bias"] = Tensor(zeros: [3])
        do {
            _ = try UNet2DConditionModel(config: config, weights: StateDict(file: "unet.safetensors", tensors: tensors))
            Issue.record("loaded with missing tensors")
        } catch let CheckpointError.missingTensors(file, missing, unexpected) {
            print("reported: missing \(missing), unexpected \(unexpected)")
            #expect(file == "unet.safetensors")
            #expect(missing == ["conv_out.bias", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k.weight"])
            #expect(unexpected == ["down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k.weights", "extra.bias"])
        }
    }

    @Test func wrongShapeNamesTensorAndShapes() throws {
        let config = try UNet2DConditionConfig(contentsOf: Self.sdFolder.appendingPathComponent("config.json"))
        var tensors = try SafeTensors.read(Self.sdFolder.appendingPathComponent("diffusion_pytorch_model.safetensors")).tensors
        tensors["conv_in.weight"] = Tensor(zeros: [16, 4, 3, 3])
        #expect(throws: CheckpointError.shapeMismatch(file: "u.safetensors", tensor: "conv_in.weight",
                                                      expected: [16, 9, 3, 3], actual: [16, 4, 3, 3])) {
            try UNet2DConditionModel(config: config, weights: StateDict(file: "u.safetensors", tensors: tensors))
        }
    }

    @Test func truncatedWeightsFileIsNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unet-trunc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: Self.sdFolder.appendingPathComponent("config.json"),
                                         to: dir.appendingPathComponent("config.json"))
        let data = try Data(contentsOf: Self.sdFolder.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        let file = dir.appendingPathComponent("diffusion_pytorch_model.safetensors")
        try data.prefix(data.count / 2).write(to: file)
        do {
            let weights = try ComponentWeights.open(folder: dir)
            _ = try UNet2DConditionModel(config: weights.config(UNet2DConditionConfig.self), weights: weights)
            Issue.record("truncated file loaded")
        } catch {
            print("truncated: \(error)")
            #expect("\(error)".contains(file.path) || "\(error)".contains("diffusion_pytorch_model.safetensors"))
        }
    }
}

@Suite("UNet2DConditionConfig of the real models")
struct UNetRealConfigTests {
    /// unet/config.json of diffusers/stable-diffusion-xl-1.0-inpainting-0.1 (as published).
    static let sdxlInpainting = """
    {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.21.0.dev0", "act_fn": "silu",
     "addition_embed_type": "text_time", "addition_embed_type_num_heads": 64, "addition_time_embed_dim": 256,
     "attention_head_dim": [5, 10, 20], "block_out_channels": [320, 640, 1280], "center_input_sample": false,
     "class_embed_type": null, "class_embeddings_concat": false, "conv_in_kernel": 3, "conv_out_kernel": 3,
     "cross_attention_dim": 2048, "cross_attention_norm": null,
     "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"], "downsample_padding": 1,
     "dual_cross_attention": false, "encoder_hid_dim": null, "encoder_hid_dim_type": null, "flip_sin_to_cos": true,
     "freq_shift": 0, "in_channels": 9, "layers_per_block": 2, "mid_block_only_cross_attention": null,
     "mid_block_scale_factor": 1, "mid_block_type": "UNetMidBlock2DCrossAttn", "norm_eps": 1e-05, "norm_num_groups": 32,
     "num_attention_heads": null, "num_class_embeds": null, "only_cross_attention": false, "out_channels": 4,
     "projection_class_embeddings_input_dim": 2816, "resnet_out_scale_factor": 1.0, "resnet_skip_time_act": false,
     "resnet_time_scale_shift": "default", "sample_size": 128, "time_cond_proj_dim": null, "time_embedding_act_fn": null,
     "time_embedding_dim": null, "time_embedding_type": "positional", "timestep_post_act": null,
     "transformer_layers_per_block": [1, 2, 10], "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
     "upcast_attention": null, "use_linear_projection": true}
    """

    @Test func sdxlInpaintingConfigIsSupported() throws {
        let c = try UNet2DConditionConfig(json: Data(Self.sdxlInpainting.utf8))
        #expect(c.attentionHeads == [5, 10, 20] && c.transformerLayersPerBlock == [1, 2, 10])
        #expect(c.crossAttentionDim == [2048, 2048, 2048] && c.usesTextTimeEmbedding && c.useLinearProjection)
        #expect(c.projectionClassEmbeddingsInputDim == 2816 && c.additionTimeEmbedDim == 256 && !c.upcastAttention)
        // Round trip through the snake_case encoding.
        let again = try UNet2DConditionConfig(json: JSONEncoder().encode(c))
        #expect(again == c)
    }
}
