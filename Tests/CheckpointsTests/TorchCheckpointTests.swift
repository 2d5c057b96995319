import Foundation
import Testing
import TensorCore
import TestSupport
@testable import Checkpoints

@Suite struct TorchCheckpointTests {
    let mixed: [String: Tensor]
    let module: [String: Tensor]

    init() throws {
        mixed = try SafeTensors.read(fixtures.url("expected_mixed.safetensors")).tensors
        module = try SafeTensors.read(fixtures.url("expected_module.safetensors")).tensors
    }

    @Test(arguments: ["mixed_zip.pth", "mixed_legacy.pth", "mixed_p4_zip.pth", "mixed_deflated.pth"])
    func mixedDTypesViewsAndSharedStorage(_ name: String) throws {
        let sd = try CheckpointLoader.load(fixtures.url(name))
        expectIdentical(sd.tensors, mixed, name)
        #expect(sd.file == fixtures.url(name).path)
        // spot checks that do not rely on the expected file alone
        #expect(try sd.tensor("bn.num_batches_tracked", shape: []).scalars == [123456])
        #expect(try sd.tensor("int64.values", shape: [4]).scalars == [-3, 0, 7, Float(1 << 40)])
        #expect(try sd.tensor("bool.values", shape: [3]).scalars == [1, 0, 1])
        let full = try sd.tensor("shared.full", shape: [6, 4])
        let rows = try sd.tensor("shared.rows", shape: [3, 4])
        let column = try sd.tensor("shared.column", shape: [6])
        #expect(rows.scalars == Array(full.scalars[8..<20]))
        #expect(column.scalars == (0..<6).map { full[$0, 1] })
        #expect(try sd.tensor("transposed", shape: [5, 3]).count == 15)
        #expect(try sd.tensor("empty", shape: [0, 3]).count == 0)
    }

    @Test(arguments: ["module_zip.pth", "module_legacy.pth"])
    func moduleStateDictWithMetadata(_ name: String) throws {
        let sd = try CheckpointLoader.load(fixtures.url(name))
        expectIdentical(sd.tensors, module, name)
        #expect(try sd.tensor("1.num_batches_tracked", shape: []).scalars == [42])
    }

    @Test(arguments: ["nested_state_dict_zip.pth", "nested_model_legacy.pth", "nested_model_state_dict_zip.pth"])
    func nestedContainersAndDataParallelPrefixAreUnwrapped(_ name: String) throws {
        let sd = try CheckpointLoader.load(fixtures.url(name))
        expectIdentical(sd.tensors, module, name)
    }

    @Test func zipAndLegacyAgree() throws {
        let a = try TorchCheckpoint.read(fixtures.url("mixed_zip.pth"))
        let b = try TorchCheckpoint.read(fixtures.url("mixed_legacy.pth"))
        expectIdentical(a.tensors, b.tensors, "zip vs legacy")
    }

    @Test(arguments: [
        ("evil_system_zip.pth", "posix.system"),
        ("evil_system_legacy.pth", "posix.system"),
        ("evil_eval_legacy.pth", "__builtin__.eval"),
        ("evil_plain.pkl", "posix.system"),
        ("full_module_zip.pth", "torch.nn.modules.linear.Linear"),
        ("load_from_bytes_legacy.pth", "torch.storage._load_from_bytes"),
    ])
    func forbiddenGlobalsAreRefused(_ name: String, _ what: String) {
        let error = checkpointError { _ = try CheckpointLoader.load(fixtures.url(name)) }
        #expect(error == .forbiddenPickle(file: fixtures.url(name).path, what: what))
        #expect(error?.description.contains(name) == true)
    }

    @Test func brokenFilesGiveErrorsNamingTheFile() {
        for name in ["empty.pth", "truncated_legacy.pth", "truncated_zip.pth", "not_a_checkpoint.txt", "complex_zip.pth"] {
            let error = checkpointError { _ = try CheckpointLoader.load(fixtures.url(name)) }
            #expect(error != nil, "\(name) loaded")
            #expect(error?.description.contains(fixtures.url(name).path) == true, "\(String(describing: error))")
            print("\(name): \(error.map(\.description) ?? "no error")")
        }
        let path = fixtures.url("empty.pth").path
        #expect(checkpointError { _ = try CheckpointLoader.load(fixtures.url("empty.pth")) } == .truncated(file: path, expectedBytes: 8, actualBytes: 0))
        if case .truncated = checkpointError({ _ = try CheckpointLoader.load(fixtures.url("truncated_legacy.pth")) }) {} else {
            Issue.record("truncated_legacy.pth: expected .truncated")
        }
        if case .truncated = checkpointError({ _ = try CheckpointLoader.load(fixtures.url("truncated_zip.pth")) }) {} else {
            Issue.record("truncated_zip.pth: expected .truncated")
        }
        if case .malformed = checkpointError({ _ = try CheckpointLoader.load(fixtures.url("not_a_checkpoint.txt")) }) {} else {
            Issue.record("not_a_checkpoint.txt: expected .malformed")
        }
        #expect(checkpointError { _ = try CheckpointLoader.load(fixtures.url("complex_zip.pth")) }
                == .unsupportedDType(file: fixtures.url("complex_zip.pth").path, tensor: "c", dtype: "torch.ComplexFloatStorage"))
        let missing = URL(fileURLWithPath: "/nonexistent/model.pth")
        if case .unreadable(let file, _) = checkpointError({ _ = try CheckpointLoader.load(missing) }) {
            #expect(file == missing.path)
        } else { Issue.record("missing file: expected .unreadable") }
    }

    @Test func storageShorterThanTheViewIsRefusedNamingTheTensor() throws {
        // A float storage of 4 elements viewed as 2x3: needs 6.
        let raw: [Float] = [1, 2, 3, 4]
        let error = raw.withUnsafeBytes { bytes in
            checkpointError { _ = try TorchCheckpoint.materialize(bytes, type: .float32, offset: 0, shape: [2, 3], strides: [3, 1], file: "f.pth", tensor: "w") }
        }
        guard case let .malformed(file, reason) = error else { Issue.record("expected .malformed, got \(String(describing: error))"); return }
        #expect(file == "f.pth")
        #expect(reason.contains("'w'") && reason.contains("element 6") && reason.contains("4 elements"), "\(reason)")
    }

    @Test func stridedGatherMatchesNaiveReference() {
        var generator = SplitMix(seed: 42)
        for _ in 0..<200 {
            let rank = Int.random(in: 1...4, using: &generator)
            let shape = (0..<rank).map { _ in Int.random(in: 1...4, using: &generator) }
            let strides = (0..<rank).map { _ in Int.random(in: 0...7, using: &generator) }
            let span = zip(shape, strides).reduce(1) { $0 + ($1.0 - 1) * $1.1 }
            let source = (0..<span).map { _ in Float.random(in: -1...1, using: &generator) }
            let fast = TorchCheckpoint.gatherStrided(source, shape: shape, strides: strides)
            let naive = TorchCheckpoint.gatherStridedReference(source, shape: shape, strides: strides)
            #expect(fast == naive, "shape \(shape) strides \(strides)")
        }
        #expect(TorchCheckpoint.isContiguous(shape: [2, 1, 3], strides: [3, 99, 1]))
        #expect(!TorchCheckpoint.isContiguous(shape: [3, 2], strides: [1, 3]))
    }

    /// The real torchvision MobileNetV2 ImageNet weights (legacy format, 14 MB), when cached on this machine.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/root/.cache/patchcore/weights/mobilenet_v2-b0353104.pth")))
    func realMobileNetV2Loads() throws {
        let url = URL(fileURLWithPath: "/root/.cache/patchcore/weights/mobilenet_v2-b0353104.pth")
        let start = Date()
        let sd = try CheckpointLoader.load(url)
        let seconds = Date().timeIntervalSince(start)
        print("mobilenet_v2-b0353104.pth: \(sd.tensors.count) tensors loaded in \(String(format: "%.3f", seconds)) s")
        #expect(sd.tensors.count == 314)
        let first = try sd.tensor("features.0.0.weight", shape: [32, 3, 3, 3])
        _ = try sd.tensor("classifier.1.weight", shape: [1000, 1280])
        let last = try sd.tensor("classifier.1.bias", shape: [1000])
        // Sums computed by torch (float64 accumulation) for the same file.
        let s0 = first.scalars.reduce(0.0) { $0 + Double($1) }, s1 = last.scalars.reduce(0.0) { $0 + Double($1) }
        print("sum differences vs torch: \(abs(s0 - -0.7730716340520303)), \(abs(s1 - -0.00010184831626247615))")
        #expect(abs(s0 - -0.7730716340520303) < 1e-9)
        #expect(abs(s1 - -0.00010184831626247615) < 1e-9)
        #expect(seconds < 1.0)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/root/.cache/patchcore/weights/efficientnet-lite0-57934424.pth")),
          arguments: [("efficientnet-lite0-57934424.pth", 296, -26.811376610887237), ("efficientnet-lite2-9656183e.pth", 386, -17.79710495150357)])
    func realEfficientNetLiteLoads(_ name: String, _ count: Int, _ stemSum: Double) throws {
        let url = URL(fileURLWithPath: "/root/.cache/patchcore/weights/" + name)
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let start = Date()
        let sd = try CheckpointLoader.load(url)
        print("\(name): \(sd.tensors.count) tensors loaded in \(String(format: "%.3f", Date().timeIntervalSince(start))) s")
        #expect(sd.tensors.count == count)
        let stem = try sd.tensor("_conv_stem.weight", shape: [32, 3, 3, 3])
        #expect(abs(stem.scalars.reduce(0.0) { $0 + Double($1) } - stemSum) < 1e-8)
        _ = try sd.tensor("_fc.bias", shape: [1000])
    }
}

/// Deterministic test inputs.
typealias SplitMix = SplitMix64
