import Checkpoints
import Foundation
import Testing
import TensorCore
@testable import DiffusionModels

/// Parity with diffusers 0.42.1 on the tiny inpainting UNets of scripts/make_unet_vae_fixtures.py.
@Suite("UNet2DConditionModel")
struct UNetParityTests {
    static func load(_ name: String, variant: String? = nil) throws -> UNet2DConditionModel {
        let weights = try ComponentWeights.open(folder: fixtureRoot.appendingPathComponent("unet/\(name)"), variant: variant)
        return try UNet2DConditionModel(config: weights.config(UNet2DConditionConfig.self), weights: weights)
    }

    @Test func sdInpaintingMatchesDiffusers() throws {
        let unet = try Self.load("sd_inpaint")
        #expect(unet.config.inChannels == 9 && unet.config.attentionHeads == [4, 4] && unet.config.layersPerBlock == [2, 2])
        let ref = try reference("unet/sd_inpaint/reference.safetensors")
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
        let ref = try reference("unet/sd_inpaint/reference.safetensors")
        let out = try unet(sample: ref["odd_sample"]!, timestep: 981, encoderHiddenStates: ref["odd_encoder_hidden_states"]!)
        #expect(out.shape == [2, 4, 5, 7])
        expectClose(out, ref["odd_out"]!, "sd unet output 5x7", tolerance: 1e-4)
    }

    @Test func sdxlInpaintingFromHalfPrecisionFileMatchesDiffusers() throws {
        let weights = try ComponentWeights.open(folder: fixtureRoot.appendingPathComponent("unet/sdxl_inpaint"), variant: "fp16")
        #expect(weights.storedPrecision == .float16)
        let unet = try UNet2DConditionModel(config: weights.config(UNet2DConditionConfig.self), weights: weights)
        #expect(unet.config.usesTextTimeEmbedding && unet.config.transformerLayersPerBlock == [1, 2])
        let ref = try reference("unet/sdxl_inpaint/reference.safetensors")
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
        let ref = try reference("unet/sdxl_inpaint/reference.safetensors")
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
    static var sdFolder: URL { fixtureRoot.appendingPathComponent("unet/sd_inpaint") }

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
