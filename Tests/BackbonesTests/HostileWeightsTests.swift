import Foundation
import Testing
import TensorCore
@testable import Backbones
@testable import Checkpoints

/// Weights with NaN / Inf, negative variances and wrong keys: refused at load with errors naming the file and the
/// tensor, all mismatches listed together.
@Suite struct HostileWeightsTests {
    func nonFinite(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> NonFiniteError? {
        do { try body() } catch let CheckpointError.nonFinite(e) { return e } catch {
            Issue.record("expected .nonFinite, got \(error)", sourceLocation: sourceLocation); return nil
        }
        Issue.record("loaded", sourceLocation: sourceLocation)
        return nil
    }

    @Test func nonFiniteWeightsAreRefusedNamingFileAndTensor() throws {
        let sd = try SyntheticWeights.stateDict(for: "resnet18", seed: 1)
        for (name, index, value) in [("layer2.0.conv1.weight", 1_000, Float.nan), ("bn1.bias", 63, .infinity),
                                      ("layer4.1.bn2.running_mean", 0, -.infinity)] {
            var bad = sd
            var t = bad.tensors[name]!
            t.scalars[index] = value
            bad.tensors[name] = t
            let e = nonFinite { _ = try BackboneRegistry.make("resnet18", weights: bad) }
            #expect(e?.file == sd.file && e?.tensor == name && e?.index == index, "\(String(describing: e))")
            #expect(e?.value.isNaN == value.isNaN && (value.isNaN || e?.value == value))
            #expect(e.map { CheckpointError.nonFinite($0).description.contains(name) } == true)
        }
    }

    @Test func negativeOrNaNRunningVarianceIsRefused() throws {
        let sd = try SyntheticWeights.stateDict(for: "mobilenet_v2", seed: 1)
        let name = "features.3.conv.1.1.running_var"
        for value: Float in [-0.5, .nan] {
            var bad = sd
            var t = bad.tensors[name]!
            t.scalars[7] = value
            bad.tensors[name] = t
            let e = nonFinite { _ = try BackboneRegistry.make("mobilenet_v2", weights: bad) }
            #expect(e?.tensor == name && e?.index == 7, "\(String(describing: e))")
            if value < 0 { #expect(e?.expected == "finite and >= 0") }
        }
        // Zero variance is legal (eps keeps the fold finite).
        var zero = sd
        zero.tensors[name] = Tensor(zeros: zero.tensors[name]!.shape)
        _ = try BackboneRegistry.make("mobilenet_v2", weights: zero)
    }

    @Test func missingUnexpectedAndWrongShapesAreListedTogether() throws {
        var sd = try SyntheticWeights.stateDict(for: "resnet18", seed: 1)
        sd = StateDict(file: "/weights/resnet18.pth", tensors: sd.tensors)
        sd.tensors["conv1.weight"] = nil
        sd.tensors["extra.weight"] = Tensor(zeros: [1])
        sd.tensors["layer1.0.conv2.weight"] = Tensor(zeros: [64, 64, 1, 1])
        sd.tensors["bn1.running_var"] = Tensor(zeros: [32])
        let expected = CheckpointError.weightsMismatch(
            file: "/weights/resnet18.pth", missing: ["conv1.weight"], unexpected: ["extra.weight"],
            shapes: [ShapeMismatch(tensor: "bn1.running_var", expected: [64], actual: [32]),
                     ShapeMismatch(tensor: "layer1.0.conv2.weight", expected: [64, 64, 3, 3], actual: [64, 64, 1, 1])])
        #expect(throws: expected) { try BackboneRegistry.make("resnet18", weights: sd) }
        let text = expected.description
        for part in ["/weights/resnet18.pth", "missing 1", "conv1.weight", "unexpected 1", "extra.weight", "[64, 64, 1, 1], expected [64, 64, 3, 3]"] {
            #expect(text.contains(part), "\(text)")
        }
    }

    @Test func aWeightsFileWithNaNIsRefusedNamingItsPath() throws {
        var sd = try SyntheticWeights.stateDict(for: "resnet18", seed: 3)
        sd.tensors["layer3.0.bn1.weight"]!.scalars[5] = .nan
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nan-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensors.write(sd.tensors, to: url)
        let loaded = try CheckpointLoader.load(url)
        let e = nonFinite { _ = try BackboneRegistry.make("resnet18", weights: loaded) }
        #expect(e?.file == url.path && e?.tensor == "layer3.0.bn1.weight" && e?.index == 5)
        // A directory given as weights.
        let dir = FileManager.default.temporaryDirectory
        do {
            _ = try CheckpointLoader.load(dir)
            Issue.record("directory loaded")
        } catch let CheckpointError.unreadable(file, reason) {
            #expect(file == dir.path && reason.contains("directory"), "\(reason)")
        }
    }

    @Test func finiteCheckFindsTheFirstBadValueAnywhere() {
        let n = 10_000
        #expect(Tensor(zeros: [n]).firstNonFiniteIndex() == nil)
        var edge = Tensor(repeating: .greatestFiniteMagnitude, shape: [n])
        edge.scalars[3] = -.greatestFiniteMagnitude
        edge.scalars[4] = .leastNonzeroMagnitude
        #expect(edge.firstNonFiniteIndex() == nil)
        for i in [0, 4_095, 4_096, 8_191, n - 1] {
            for bad in [Float.nan, .infinity, -.infinity, Float(bitPattern: 0xFFC0_0001)] {
                var t = Tensor(zeros: [n])
                t.scalars[i] = bad
                if i + 10 < n { t.scalars[i + 10] = .nan }
                #expect(t.firstNonFiniteIndex() == i, "\(i) \(bad)")
            }
        }
        #expect(Tensor(shape: [0], scalars: []).firstNonFiniteIndex() == nil)
    }

    @Test func finiteCheckRunsAtMemorySpeed() {
        // 10^7 floats (40 MB): the debug build still scans them well under a second on one core; reported, not timed.
        let t = Tensor(zeros: [10_000_000])
        let clock = ContinuousClock()
        let elapsed = clock.measure { #expect(t.firstNonFiniteIndex() == nil) }
        print("FiniteCheck: 10^7 floats in \(elapsed)")
    }
}

