import Checkpoints
import Foundation
import MemoryBank
@testable import PatchCore
import Scoring
import TensorCore
import Testing

@Suite struct ModelFileTests {
    func sampleModel() throws -> PatchCoreModel {
        var config = PatchCoreConfig(backbone: "mobilenet_v2", taps: ["features.6", "features.13"], coresetRatio: 0.05, seed: 9)
        config.transform = .resize(width: 320, height: 160)
        let bank = Tensor(shape: [5, 4], scalars: (0..<20).map { Float($0) * 0.25 - 1 })
        let cal = try ScoreCalibration.fit(referenceScores: [1, 2, 3.5])
        let info = ModelInfo(weightsSHA256: String(repeating: "ab", count: 32), gridHeight: 20, gridWidth: 40,
                             featureDimension: 4, trainImageCount: 3, trainPatchCount: 2400, calibration: cal,
                             thresholdRule: "test", fitSeconds: 1.5)
        return PatchCoreModel(config: config, info: info, banks: .single(try MemoryBank(features: bank)))
    }

    func tempURL() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("model-\(UUID().uuidString).safetensors")
    }

    @Test func roundTripIsExact() throws {
        let model = try sampleModel()
        let url = tempURL()
        defer { try? FileManager.default.removeItem(at: url) }
        try ModelFile.write(model, to: url)
        #expect(try ModelFile.read(url) == model)
        // Nothing but the model is left in the folder (the temporary file was renamed).
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
            .filter { $0.contains(url.lastPathComponent) && $0 != url.lastPathComponent }
        #expect(leftovers.isEmpty)
    }

    @Test func readInfoGivesTheHeaderOfReadWithoutTheBank() throws {
        let model = try sampleModel()
        let url = tempURL()
        defer { try? FileManager.default.removeItem(at: url) }
        try ModelFile.write(model, to: url)
        let (config, info) = try ModelFile.readInfo(url)
        #expect(config == model.config && info == model.info)
        // The bank is not looked at: a NaN in it fails `read` only; the header's checks hold for both.
        var contents = try SafeTensors.read(url)
        contents.tensors["memory_bank"]!.scalars[3] = .nan
        try SafeTensors.write(contents.tensors, metadata: contents.metadata, to: url)
        #expect(try ModelFile.readInfo(url).info == model.info)
        #expect { try ModelFile.read(url) } throws: { "\($0)".contains("non-finite") }
        contents.metadata["format_version"] = String(ModelFile.formatVersion + 1)
        try SafeTensors.write(contents.tensors, metadata: contents.metadata, to: url)
        #expect { try ModelFile.readInfo(url) } throws: { "\($0)".contains(url.path) && "\($0)".contains("newer") }
        let data = try Data(contentsOf: url)
        try data.prefix(data.count - 8).write(to: url)
        #expect { try ModelFile.readInfo(url) } throws: { "\($0)".contains(url.path) && "\($0)".contains("truncated") }
    }

    @Test func newerFormatVersionIsRefused() throws {
        let url = tempURL()
        defer { try? FileManager.default.removeItem(at: url) }
        try ModelFile.write(try sampleModel(), to: url)
        var contents = try SafeTensors.read(url)
        contents.metadata["format_version"] = String(ModelFile.formatVersion + 1)
        try SafeTensors.write(contents.tensors, metadata: contents.metadata, to: url)
        #expect {
            try ModelFile.read(url)
        } throws: { error in
            "\(error)".contains(url.path) && "\(error)".contains("newer")
        }
    }

    @Test func foreignSafetensorsAndTruncationAreRefusedNamingTheFile() throws {
        let url = tempURL()
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensors.write(["w": Tensor(zeros: [2, 2])], to: url)
        #expect { try ModelFile.read(url) } throws: { "\($0)".contains(url.path) && "\($0)".contains("format tag") }

        try ModelFile.write(try sampleModel(), to: url)
        let data = try Data(contentsOf: url)
        try data.prefix(data.count - 8).write(to: url)
        #expect { try ModelFile.read(url) } throws: { "\($0)".contains(url.path) && "\($0)".contains("truncated") }
    }
}
