import Checkpoints
import Foundation
import MemoryBank
@testable import PatchCore
import Scoring
import TensorCore
import Testing

/// Model files are input like any other: values no fit writes are refused by name (file and field) before anything is
/// allocated or scored with them, and a path that is not a file is reported as such.
@Suite struct ModelFileHostileTests {
    let base = ModelFileTests()

    /// Writes the sample model with its metadata JSON edited by `edit` (on the decoded object of `key`).
    func model(editing key: String, _ edit: (inout [String: Any]) -> Void) throws -> URL {
        let url = base.tempURL()
        try ModelFile.write(try base.sampleModel(), to: url)
        var contents = try SafeTensors.read(url)
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contents.metadata[key]!.utf8)) as? [String: Any])
        edit(&object)
        contents.metadata[key] = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        try SafeTensors.write(contents.tensors, metadata: contents.metadata, to: url)
        return url
    }

    func expectRefused(_ url: URL, mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(sourceLocation: sourceLocation) { try ModelFile.read(url) } throws: { error in
            let text = "\(error)"
            return text.contains(url.path) && words.allSatisfy(text.contains)
        }
    }

    @Test func configValuesOutOfRangeAreRefusedNamingTheField() throws {
        expectRefused(try model(editing: "config") { $0["transform"] = ["resize": ["width": 100_000, "height": 100_000]] },
                      mentioning: ["transform", "100000x100000"])
        expectRefused(try model(editing: "config") { $0["transform"] = ["resizeCrop": ["resize": 1_000_000, "crop": 224]] },
                      mentioning: ["transform", "1000000"])
        expectRefused(try model(editing: "config") { $0["feature_dimension"] = 1_000_000_000_000 }, mentioning: ["feature_dimension"])
        expectRefused(try model(editing: "config") { $0["blur_sigma"] = 1e30 }, mentioning: ["blur_sigma"])
        expectRefused(try model(editing: "config") { $0["blur_sigma"] = 1e6 }, mentioning: ["blur_sigma", "1000000"])
        expectRefused(try model(editing: "config") { $0["reweight_neighbours"] = 1_000_000_000 }, mentioning: ["reweight_neighbours"])
        expectRefused(try model(editing: "config") { $0["projection_dimension"] = -3 }, mentioning: ["projection_dimension"])
        expectRefused(try model(editing: "config") { $0["coreset_ratio"] = "lots" }, mentioning: ["coreset_ratio", "expected a number"])
        expectRefused(try model(editing: "config") { $0["mean"] = [0.5, 0.5] }, mentioning: ["mean"])
        expectRefused(try model(editing: "config") { $0["image_score"] = "hottest" }, mentioning: ["image_score"])
        expectRefused(try model(editing: "config") { $0["patch_size"] = 4 }, mentioning: ["patch_size"])
        expectRefused(try model(editing: "config") { $0["patch_size"] = 1_000_001 }, mentioning: ["patch_size"])
        // Foundation names no field for a fraction in an integer field; the message says what kind of value is wrong.
        expectRefused(try model(editing: "config") { $0["patch_size"] = 5.5 }, mentioning: ["config", "does not fit its field"])
        expectRefused(try model(editing: "config") { $0.removeValue(forKey: "taps") }, mentioning: ["taps", "missing"])
    }

    @Test func recordValuesOutOfRangeAreRefusedNamingTheField() throws {
        expectRefused(try model(editing: "model") { $0["grid_height"] = -1 }, mentioning: ["grid_height"])
        expectRefused(try model(editing: "model") { $0["feature_dimension"] = 1 << 40 }, mentioning: ["feature_dimension"])
        expectRefused(try model(editing: "model") {
            var calibration = $0["calibration"] as! [String: Any]
            calibration["threshold"] = "nan"
            $0["calibration"] = calibration
        }, mentioning: ["calibration.threshold"])
    }

    @Test func formatVersionsNoBuildWroteAreRefused() throws {
        for version in ["0", "-1", "1.5", "two", String(repeating: "9", count: 40)] {
            let url = base.tempURL()
            try ModelFile.write(try base.sampleModel(), to: url)
            var contents = try SafeTensors.read(url)
            contents.metadata["format_version"] = version
            try SafeTensors.write(contents.tensors, metadata: contents.metadata, to: url)
            expectRefused(url, mentioning: ["format_version"])
        }
    }

    @Test func bankValuesThatBreakTheSearchAreRefused() throws {
        for (value, words) in [(Float.nan, ["non-finite"]), (Float.infinity, ["non-finite"]), (3e38, ["magnitude"])] {
            let url = base.tempURL()
            try ModelFile.write(try base.sampleModel(), to: url)
            var contents = try SafeTensors.read(url)
            var bank = contents.tensors["memory_bank"]!
            bank.scalars[6] = value
            contents.tensors["memory_bank"] = bank
            try SafeTensors.write(contents.tensors, metadata: contents.metadata, to: url)
            expectRefused(url, mentioning: ["memory_bank", "row 1"] + words)
        }
    }

    @Test func pathsThatAreNotFilesAreNamed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("model-dir-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect { try ModelFile.read(folder) } throws: { "\($0)".contains(folder.path) && "\($0)".contains("is a directory") }
        let fifo = folder.appendingPathComponent("pipe.safetensors")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        // Refused by its type, without blocking on a writer that never comes.
        #expect { try ModelFile.read(fifo) } throws: { "\($0)".contains(fifo.path) && "\($0)".contains("FIFO") }
        let loop = folder.appendingPathComponent("loop.safetensors")
        try FileManager.default.createSymbolicLink(atPath: loop.path, withDestinationPath: loop.path)
        #expect { try ModelFile.read(loop) } throws: { "\($0)".contains(loop.path) && "\($0)".contains("symbolic links") }
        let missing = folder.appendingPathComponent("missing.safetensors")
        #expect { try ModelFile.read(missing) } throws: { "\($0)".contains(missing.path) && "\($0)".contains("No such file") }
    }
}
