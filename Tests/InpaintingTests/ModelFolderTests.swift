import Foundation
import Testing
import DiffusionModels
@testable import Inpainting

/// A scratch copy of a fixture model folder that a test may break.
func scratchCopy(of model: String) throws -> URL {
    let dst = FileManager.default.temporaryDirectory.appendingPathComponent("inpainting-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: Fixtures.url(model), to: dst)
    return dst
}

@Suite struct ModelFolderTests {
    @Test func identifiesStableDiffusionInpainting() throws {
        let m = try DiffusersModelFolder.open(Fixtures.url("sd_tiny"))
        #expect(m.family == .stableDiffusion)
        #expect(m.pipelineClassName == "StableDiffusionInpaintPipeline")
        #expect(m.unetInChannels == 9)
        try m.checkWeights()
        let s = try m.scheduler()
        #expect(type(of: s).className == "PNDMScheduler")
        #expect(try m.weights(.unet).storedPrecision == .float16)
    }

    @Test func identifiesSDXLInpaintingWithVariantFiles() throws {
        let m = try DiffusersModelFolder.open(Fixtures.url("sdxl_tiny"), variant: "fp16")
        #expect(m.family == .stableDiffusionXL)
        #expect(m.forceZerosForEmptyPrompt && !m.requiresAestheticsScore)
        try m.checkWeights()
        #expect(try m.weights(.unet).files.map(\.lastPathComponent) == ["diffusion_pytorch_model.fp16.safetensors"])
        #expect(type(of: try m.scheduler()).className == "EulerDiscreteScheduler")
        #expect(type(of: try m.scheduler(override: "ddim")).className == "DDIMScheduler")
        // Without a variant the lone fp16 files are still found.
        try DiffusersModelFolder.open(Fixtures.url("sdxl_tiny")).checkWeights()
    }

    @Test func missingFolderSaysWhatToDownload() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-model-\(UUID().uuidString)")
        let error = #expect(throws: DiffusionModelError.self) { try DiffusersModelFolder.open(missing) }
        #expect(error?.description.contains("stable-diffusion-xl-1.0-inpainting-0.1") == true)
        #expect(error?.description.contains("--model") == true)
    }

    @Test func missingComponentFolderIsNamed() throws {
        let dir = try scratchCopy(of: "sdxl_tiny")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("text_encoder_2"))
        let error = #expect(throws: DiffusionModelError.self) { try DiffusersModelFolder.open(dir) }
        guard case let .missingFile(path, hint)? = error else { Issue.record("expected missingFile"); return }
        #expect(path.hasSuffix("text_encoder_2"))
        #expect(hint.contains("download"))
    }

    @Test func missingTokenizerFileAndWeightsAreNamed() throws {
        let dir = try scratchCopy(of: "sd_tiny")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("tokenizer/merges.txt"))
        let e1 = #expect(throws: DiffusionModelError.self) { try DiffusersModelFolder.open(dir) }
        #expect(e1?.description.contains("tokenizer/merges.txt") == true)
        try FileManager.default.copyItem(at: Fixtures.url("sd_tiny/tokenizer/merges.txt"),
                                         to: dir.appendingPathComponent("tokenizer/merges.txt"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("vae/diffusion_pytorch_model.safetensors"))
        let m = try DiffusersModelFolder.open(dir)
        let e2 = #expect(throws: DiffusionModelError.self) { try m.checkWeights() }
        #expect(e2?.description.contains("vae") == true)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model_index.json"))
        let e3 = #expect(throws: DiffusionModelError.self) { try DiffusersModelFolder.open(dir) }
        #expect(e3?.description.contains("model_index.json") == true)
    }

    @Test func textToImageUNetIsRejected() throws {
        let dir = try scratchCopy(of: "sd_tiny")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("unet/config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: config)) as! [String: Any]
        json["in_channels"] = 4
        try JSONSerialization.data(withJSONObject: json).write(to: config)
        let error = #expect(throws: InpaintingError.self) { try DiffusersModelFolder.open(dir) }
        #expect(error == .notAnInpaintingModel(file: config.path, inChannels: 4))
        #expect(error?.description.contains("not an inpainting") == true)
    }

    @Test func unsupportedSchedulerPassesThrough() throws {
        let dir = try scratchCopy(of: "sd_tiny")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("scheduler/scheduler_config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: config)) as! [String: Any]
        json["_class_name"] = "LMSDiscreteScheduler"
        try JSONSerialization.data(withJSONObject: json).write(to: config)
        let m = try DiffusersModelFolder.open(dir)
        #expect(throws: (any Error).self) { try m.scheduler() }
        do { _ = try m.scheduler() } catch { #expect("\(error)".contains("LMSDiscreteScheduler")) }
    }
}
