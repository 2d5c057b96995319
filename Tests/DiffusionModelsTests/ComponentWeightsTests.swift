import Foundation
import Testing
import Checkpoints
import TensorCore
@testable import DiffusionModels

@Suite struct ComponentWeightsTests {
    func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("component-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(#"{"in_channels": 9, "name": "tiny"}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        return dir
    }
    let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
    let b = Tensor(shape: [3], scalars: [0.5, -1, 2])
    struct Config: Decodable { let in_channels: Int; let name: String }

    @Test func halfVariantIsPreferredWhenAskedAndWidenedOnUse() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try SafeTensors.write(["a": a, "b": b], metadata: [:], to: dir.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        try SafeTensors.write(["a": a, "b": b], metadata: [:], dtype: .float16, to: dir.appendingPathComponent("diffusion_pytorch_model.fp16.safetensors"))
        let half = try ComponentWeights.open(folder: dir, variant: "fp16")
        #expect(half.files.map(\.lastPathComponent) == ["diffusion_pytorch_model.fp16.safetensors"])
        #expect(half.storedPrecision == .float16)
        #expect(try half.tensor("a", shape: [2, 3]) == a)
        #expect(half.reportUnused() == ["b"])
        #expect(throws: CheckpointError.self) { try half.verifyAllUsed() }
        let plain = try ComponentWeights.open(folder: dir)
        #expect(plain.storedPrecision == .float32)
        #expect(try plain.config(Config.self).in_channels == 9)
        #expect(throws: CheckpointError.shapeMismatch(file: plain.files[0].path, tensor: "b", expected: [4], actual: [3])) {
            try plain.tensor("b", shape: [4])
        }
    }

    @Test func shardedIndexIsFollowed() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try SafeTensors.write(["a": a], metadata: [:], to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        try SafeTensors.write(["b": b], metadata: [:], to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        let index = #"{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#
        try Data(index.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let w = try ComponentWeights.open(folder: dir)
        #expect(w.names == ["a", "b"])
        #expect(try w.tensor("b", shape: [3]) == b)
        #expect(w.shape(of: "a") == [2, 3])
    }

    @Test func missingWeightsAndBadConfigNameTheFile() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data().write(to: dir.appendingPathComponent("diffusion_pytorch_model.bin"))
        do {
            _ = try ComponentWeights.open(folder: dir)
            Issue.record("expected an error")
        } catch let e as DiffusionModelError {
            #expect(e.description.contains(".bin"))
            #expect(e.description.contains(dir.path))
        }
        try Data("{\"in_channels\": \"nine\"}".utf8).write(to: dir.appendingPathComponent("config.json"))
        #expect(throws: DiffusionModelError.self) {
            try ComponentWeights.decodeConfig(Config.self, at: dir.appendingPathComponent("config.json"))
        }
        try Data("garbage-not-safetensors".utf8).write(to: dir.appendingPathComponent("model.safetensors"))
        #expect(throws: CheckpointError.self) { try ComponentWeights.open(folder: dir) }
    }
}
