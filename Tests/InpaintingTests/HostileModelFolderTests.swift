import Foundation
import Testing
import DiffusionModels
import Defects
import ImageIO
@testable import Inpainting
#if canImport(Glibc)
import Glibc
#endif

/// Issue 11: odd model folders (FIFOs, symlink loops, wrong JSON types, shard names that leave the folder, huge
/// sample sizes) and out-of-range request values give errors naming the file and the field, never a trap or a hang.
@Suite struct HostileModelFolderTests {
    static func write(_ text: String, to url: URL) throws { try Data(text.utf8).write(to: url) }

    @Test func modelIndexFieldsOfTheWrongTypeAreNamed() throws {
        #expect(try DiffusersModelIndex(json: Data(#"{"_class_name": "StableDiffusionInpaintPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}"#.utf8),
                                        file: "model_index.json").components["unet"] == ["diffusers", "UNet2DConditionModel"])
        for (text, field) in [(#"{"_class_name": 5}"#, "_class_name"),
                              (#"{"force_zeros_for_empty_prompt": "yes"}"#, "force_zeros_for_empty_prompt"),
                              (#"{"requires_aesthetics_score": 1}"#, "requires_aesthetics_score"),
                              (#"{"unet": "diffusers"}"#, "unet"),
                              (#"{"vae": ["diffusers", 3]}"#, "vae"),
                              ("[]", "JSON object"), ("{\"a\": ", "JSON object")] {
            do {
                _ = try DiffusersModelIndex(json: Data(text.utf8), file: "m/model_index.json")
                Issue.record("accepted \(text)")
            } catch let DiffusionModelError.badConfig(file, reason) {
                #expect(file == "m/model_index.json" && reason.contains(field), "\(reason)")
            }
        }
    }

    @Test func aFIFOOrSymlinkLoopInPlaceOfAConfigIsRefused() throws {
        let dir = try scratchCopy(of: "sd_tiny")
        defer { try? FileManager.default.removeItem(at: dir) }
        let index = dir.appendingPathComponent("model_index.json")
        try FileManager.default.removeItem(at: index)
        #expect(mkfifo(index.path, 0o600) == 0)
        let e1 = #expect(throws: DiffusionModelError.self) { try DiffusersModelFolder.open(dir) }
        #expect(e1?.description.contains("FIFO") == true && e1?.description.contains("model_index.json") == true)
        try FileManager.default.removeItem(at: index)
        try FileManager.default.copyItem(at: Fixtures.url("sd_tiny/model_index.json"), to: index)

        let scheduler = dir.appendingPathComponent("scheduler/scheduler_config.json")
        try FileManager.default.removeItem(at: scheduler)
        try FileManager.default.createSymbolicLink(atPath: scheduler.path, withDestinationPath: scheduler.path)
        let e2 = #expect(throws: (any Error).self) { try DiffusersModelFolder.open(dir) }
        #expect("\(e2!)".contains("scheduler_config.json"), "\(e2!)")

        try FileManager.default.removeItem(at: scheduler)
        #expect(mkfifo(scheduler.path, 0o600) == 0)
        let e3 = #expect(throws: DiffusionModelError.self) { try DiffusersModelFolder.open(dir) }
        #expect(e3?.description.contains("FIFO") == true, "\(String(describing: e3))")
    }

    @Test func shardNamesMustStayInTheIndexFolder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.write("{}", to: dir.appendingPathComponent("config.json"))
        for bad in ["../../etc/passwd", "/etc/passwd", "sub/x.safetensors", ".."] {
            try Self.write(#"{"weight_map": {"conv_in.weight": "\#(bad)"}}"#,
                           to: dir.appendingPathComponent("diffusion_pytorch_model.safetensors.index.json"))
            do {
                _ = try ComponentWeights.open(folder: dir)
                Issue.record("followed shard name \(bad)")
            } catch let DiffusionModelError.badConfig(file, reason) {
                #expect(file.hasSuffix("index.json") && reason.contains("conv_in.weight"), "\(reason)")
            }
        }
    }

    @Test func hugeSampleSizeIsAnErrorNotAnOverflow() throws {
        let dir = try scratchCopy(of: "sd_tiny")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("unet/config.json")
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: config)) as! [String: Any]
        object["sample_size"] = Int.max / 2
        try JSONSerialization.data(withJSONObject: object).write(to: config)
        let folder = try DiffusersModelFolder.open(dir)
        #expect(throws: (any Error).self) { try folder.nativeSize() }
        object["sample_size"] = 100_000
        try JSONSerialization.data(withJSONObject: object).write(to: config)
        let e = #expect(throws: (any Error).self) { try DiffusersModelFolder.open(dir).nativeSize() }
        #expect("\(e!)".contains("unet/config.json"), "\(e!)")
    }

    @Test func requestAndSettingsValuesOutsideTheirRangesAreRefused() {
        let image = Image(width: 8, height: 8, channels: 3, pixels: [UInt8](repeating: 0, count: 192))
        let mask = Image(width: 8, height: 8, channels: 1, pixels: [UInt8](repeating: 255, count: 64))
        #expect(throws: Never.self) { try InpaintingRequest(image: image, mask: mask, prompt: "p").validate() }
        let bad: [InpaintingRequest] = [
            InpaintingRequest(image: image, mask: mask, prompt: "p", steps: 0),
            InpaintingRequest(image: image, mask: mask, prompt: "p", steps: Int.max),
            InpaintingRequest(image: image, mask: mask, prompt: "p", guidanceScale: .nan),
            InpaintingRequest(image: image, mask: mask, prompt: "p", strength: .nan),
            InpaintingRequest(image: image, mask: mask, prompt: "p", strength: 5),
            InpaintingRequest(image: image, mask: mask, prompt: "p", paddingMaskCrop: -1),
            InpaintingRequest(image: image, mask: mask, prompt: "p", width: 1 << 40, height: 8),
            InpaintingRequest(image: image, mask: mask, prompt: "p", maskBlur: .infinity),
            InpaintingRequest(image: image, mask: mask, prompt: "p", aestheticScore: .nan),
            InpaintingRequest(image: image, mask: mask, prompt: "p", clipSkip: -1),
        ]
        for request in bad {
            #expect(throws: InpaintingError.self) { try request.validate() }
        }
        let huge = DiffusionSynthesisSettings(model: "m", prompts: ["a", "b"], perPrompt: Int.max, scheduler: "euler")
        #expect(throws: InpaintingError.self) { try huge.validate() }
        let nanStrength = DiffusionSynthesisSettings(model: "m", prompts: ["a"], perPrompt: 1, strength: .nan, scheduler: "euler")
        #expect(throws: InpaintingError.self) { try nanStrength.validate() }
        // plan() stays total even for settings a caller did not validate.
        #expect(DiffusionSynthesisJob(settings: DiffusionSynthesisSettings(model: "m", prompts: ["a"], perPrompt: -3, scheduler: "e"),
                                      goodImages: [], masks: SampledDefectMasks(DefectMaskSampler(entries: [], augmentation: .none, source: "none"))).plan().isEmpty)
    }
}
