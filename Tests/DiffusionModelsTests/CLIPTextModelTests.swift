import Checkpoints
import Foundation
import Testing
import TensorCore
import TestSupport
@testable import DiffusionModels

/// Tiny random CLIP text encoders against transformers (scripts/make_clip_fixtures.py): encoder "a" is SD 1.x's
/// CLIPTextModel (quick_gelu, fp32, transformers 4 key names), "b" SDXL's CLIPTextModelWithProjection (gelu,
/// fp16 variant file, pad "!").
@Suite struct CLIPTextModelTests {
    static let tiny = CLIPTokenizerTests.fixtures.appendingPathComponent("tiny")

    static func reference() throws -> [String: Tensor] {
        try SafeTensors.read(CLIPTokenizerTests.fixtures.appendingPathComponent("tiny_reference.safetensors")).tensors
    }

    static func ids(_ t: Tensor) -> [[Int]] {
        let l = t.shape[1]
        return (0..<t.shape[0]).map { b in t.scalars[(b * l)..<((b + 1) * l)].map { Int($0) } }
    }

    /// Max |a - b| and that over max |b|; fails above `tolerance` relative.
    static func expectClose(_ a: Tensor?, _ b: Tensor?, _ label: String, tolerance: Float = 1e-4,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        guard let a, let b else { Issue.record("\(label): missing tensor", sourceLocation: sourceLocation); return }
        #expect(a.shape == b.shape, "\(label)", sourceLocation: sourceLocation)
        guard a.shape == b.shape else { return }
        let (maxAbs, rel) = relativeError(a, b)
        print("\(label): max abs diff \(maxAbs), rel \(rel)")
        #expect(rel <= tolerance, "\(label)", sourceLocation: sourceLocation)
    }

    @Test func sd1EncoderMatchesTransformers() throws {
        let ref = try Self.reference()
        let model = try CLIPTextModel(folder: Self.tiny.appendingPathComponent("text_encoder"))
        let out = try model(Self.ids(ref["a_input_ids"]!))
        #expect(out.hiddenStates.count == 4)
        Self.expectClose(out.lastHiddenState, ref["a_last_hidden_state"], "a last_hidden_state")
        Self.expectClose(out.hiddenState(-2), ref["a_hidden_state_m2"], "a hidden_states[-2]")
        Self.expectClose(out.hiddenState(0), ref["a_hidden_state_0"], "a hidden_states[0]")
        Self.expectClose(model.clipSkipped(out, skip: 1), ref["a_clip_skip_1_sd"], "a clip_skip 1 (SD)")
        Self.expectClose(out.hiddenState(-3), ref["a_clip_skip_1_sdxl"], "a clip_skip 1 (SDXL)")
        #expect(model.clipSkipped(out, skip: 0)?.scalars == out.lastHiddenState.scalars)
        #expect(model.clipSkipped(out, skip: 4) == nil && model.clipSkipped(out, skip: -1) == nil)
        Self.expectClose(out.pooled, ref["a_pooled"], "a pooled")
        #expect(out.textEmbeds == nil)
        for extra in ["no_eos", "short"] {
            let o = try model(Self.ids(ref["\(extra)_ids"]!), outputHiddenStates: false)
            #expect(o.hiddenStates.isEmpty)
            Self.expectClose(o.lastHiddenState, ref["a_\(extra)_last_hidden_state"], "a \(extra) last_hidden_state")
            Self.expectClose(o.pooled, ref["a_\(extra)_pooled"], "a \(extra) pooled")
        }
    }

    @Test func legacyEosTokenIdPoolsAtTheLargestId() throws {
        let ref = try Self.reference()
        let weights = try ComponentWeights.open(folder: Self.tiny.appendingPathComponent("text_encoder"))
        var config = try weights.config(CLIPTextConfig.self)
        #expect(config.eosTokenID == 999)
        config.eosTokenID = 2
        let legacy = try CLIPTextModel(weights: weights, config: config)
        let noEOS = Self.ids(ref["no_eos_ids"]!)
        #expect(legacy.pooledPositions(noEOS) == [10])
        Self.expectClose(try legacy(noEOS).pooled, ref["a_no_eos_pooled_legacy"], "a legacy no-eos pooled")
        Self.expectClose(try legacy(Self.ids(ref["a_input_ids"]!)).pooled, ref["a_pooled_legacy"], "a legacy pooled")
        let current = try CLIPTextModel(weights: weights)
        #expect(current.pooledPositions(noEOS) == [0])
        #expect(current.pooledPositions([[998, 5, 999, 999]]) == [2])
    }

    @Test func transformers5KeyNamesLoadToo() throws {
        let ref = try Self.reference()
        let source = Self.tiny.appendingPathComponent("text_encoder")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clip-te-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        var tensors: [String: Tensor] = [:]
        for (k, v) in try SafeTensors.read(source.appendingPathComponent("model.safetensors")).tensors {
            tensors[String(k.dropFirst("text_model.".count))] = v
        }
        // An old checkpoint's position_ids buffer is tolerated.
        tensors["embeddings.position_ids"] = Tensor(shape: [1, 77], scalars: (0..<77).map(Float.init))
        try SafeTensors.write(tensors, to: dir.appendingPathComponent("model.safetensors"))
        let model = try CLIPTextModel(folder: dir)
        Self.expectClose(try model(Self.ids(ref["a_input_ids"]!)).lastHiddenState, ref["a_last_hidden_state"], "a (unprefixed keys)")

        tensors["extra.weight"] = Tensor(zeros: [2])
        try SafeTensors.write(tensors, to: dir.appendingPathComponent("model.safetensors"))
        #expect(throws: CheckpointError.missingTensors(file: dir.appendingPathComponent("model.safetensors").path, missing: [], unexpected: ["extra.weight"])) {
            try CLIPTextModel(folder: dir)
        }
        tensors["extra.weight"] = nil
        tensors["final_layer_norm.bias"] = nil
        try SafeTensors.write(tensors, to: dir.appendingPathComponent("model.safetensors"))
        #expect(throws: CheckpointError.missingTensors(file: dir.appendingPathComponent("model.safetensors").path, missing: ["final_layer_norm.bias"], unexpected: [])) {
            try CLIPTextModel(folder: dir)
        }
    }

    @Test func sdxlEncoder2WithProjectionMatchesTransformersFromHalfFiles() throws {
        let ref = try Self.reference()
        let folder = Self.tiny.appendingPathComponent("text_encoder_2")
        let weights = try ComponentWeights.open(folder: folder, variant: "fp16")
        #expect(weights.storedPrecision == .float16)
        let model = try CLIPTextModelWithProjection(folder: folder, variant: "fp16")
        #expect(model.config.hiddenAct == "gelu" && model.config.projectionDim == 32)
        let out = try model(Self.ids(ref["b_input_ids"]!))
        Self.expectClose(out.lastHiddenState, ref["b_last_hidden_state"], "b last_hidden_state")
        Self.expectClose(out.hiddenState(-2), ref["b_hidden_state_m2"], "b hidden_states[-2]")
        Self.expectClose(out.hiddenState(0), ref["b_hidden_state_0"], "b hidden_states[0]")
        Self.expectClose(model.textModel.clipSkipped(out, skip: 1), ref["b_clip_skip_1_sd"], "b clip_skip 1 (SD)")
        Self.expectClose(out.hiddenState(-3), ref["b_clip_skip_1_sdxl"], "b clip_skip 1 (SDXL)")
        Self.expectClose(out.textEmbeds, ref["b_text_embeds"], "b text_embeds")
        for extra in ["no_eos", "short"] {
            let o = try model(Self.ids(ref["\(extra)_ids"]!))
            Self.expectClose(o.lastHiddenState, ref["b_\(extra)_last_hidden_state"], "b \(extra) last_hidden_state")
            Self.expectClose(o.textEmbeds, ref["b_\(extra)_text_embeds"], "b \(extra) text_embeds")
        }
    }

    @Test func parametersAreAskedForUnderTransformersNames() throws {
        for (folder, variant) in [("text_encoder", nil), ("text_encoder_2", "fp16")] as [(String, String?)] {
            let weights = try ComponentWeights.open(folder: Self.tiny.appendingPathComponent(folder), variant: variant)
            let config = try weights.config(CLIPTextConfig.self)
            var asked: [String] = []
            let source = { (name: String, shape: [Int]) throws -> Tensor in
                asked.append(name)
                return try weights.tensor(name, shape: shape)
            }
            if folder == "text_encoder" {
                _ = try CLIPTextModel(config: config, parameters: source)
            } else {
                _ = try CLIPTextModelWithProjection(config: config, parameters: source)
            }
            #expect(asked.sorted() == weights.names, "\(folder)")
            #expect(asked.contains("text_model.encoder.layers.2.self_attn.q_proj.weight"))
        }
    }

    @Test func unsupportedConfigNamesTheField() throws {
        let source = Self.tiny.appendingPathComponent("text_encoder")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clip-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: source.appendingPathComponent("model.safetensors"), to: dir.appendingPathComponent("model.safetensors"))
        let configText = try String(contentsOf: source.appendingPathComponent("config.json"), encoding: .utf8)
        let configFile = dir.appendingPathComponent("config.json")
        for (from, to, field) in [("\"quick_gelu\"", "\"relu\"", "hidden_act"),
                                  ("\"num_attention_heads\": 4", "\"num_attention_heads\": 5", "num_attention_heads")] {
            try Data(configText.replacingOccurrences(of: from, with: to).utf8).write(to: configFile)
            do {
                _ = try CLIPTextModel(folder: dir)
                Issue.record("\(field): expected an error")
            } catch let DiffusionModelError.unsupportedConfig(file, f, value) {
                #expect(file == configFile.path && f == field, "\(value)")
            }
        }
        // A field of the wrong type names itself through the config decoder.
        try Data(configText.replacingOccurrences(of: "\"eos_token_id\": 999", with: "\"eos_token_id\": [999, 2]").utf8).write(to: configFile)
        do {
            _ = try CLIPTextModel(folder: dir)
            Issue.record("eos_token_id list: expected an error")
        } catch let DiffusionModelError.badConfig(file, reason) {
            #expect(file == configFile.path && reason.contains("eos_token_id"), "\(reason)")
        }
    }

    @Test func badTokenIdsAreErrorsNotCrashes() throws {
        let model = try CLIPTextModel(folder: Self.tiny.appendingPathComponent("text_encoder"))
        #expect(throws: DiffusionModelError.self) { try model([[998, 1000, 999]]) }
        #expect(throws: DiffusionModelError.self) { try model([[998, 999], [998]]) }
        #expect(throws: DiffusionModelError.self) { try model([Array(repeating: 5, count: 78)]) }
        #expect(throws: DiffusionModelError.self) { try model([]) }
    }
}
