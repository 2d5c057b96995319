import Foundation
import Testing
import Checkpoints
import TensorCore
@testable import Backbones

@Suite struct RegistryTests {
    @Test func syntheticWeightsAreDeterministicAndSeeded() throws {
        let a = SyntheticWeights.tensor(name: "layer1.0.conv1.weight", shape: [8, 4, 3, 3], seed: 1)
        let b = SyntheticWeights.tensor(name: "layer1.0.conv1.weight", shape: [8, 4, 3, 3], seed: 1)
        let c = SyntheticWeights.tensor(name: "layer1.0.conv1.weight", shape: [8, 4, 3, 3], seed: 2)
        let d = SyntheticWeights.tensor(name: "layer1.0.conv2.weight", shape: [8, 4, 3, 3], seed: 1)
        #expect(a == b)
        #expect(a != c && a != d)
        let bound = (Float(6) / 36).squareRoot()
        #expect(a.scalars.allSatisfy { abs($0) <= bound })
        #expect(a.scalars.max()! > bound * 0.8 && a.scalars.min()! < -bound * 0.8)
        let v = SyntheticWeights.tensor(name: "bn1.running_var", shape: [64], seed: 1)
        #expect(v.scalars.allSatisfy { $0 >= 0.5 && $0 < 1.5 })
        let m = SyntheticWeights.tensor(name: "bn1.running_mean", shape: [64], seed: 1)
        #expect(m.scalars.allSatisfy { abs($0) <= 0.1 })
    }

    @Test func defaultTapShapesAreStride8And16() throws {
        let expected: [String: [Int]] = [
            "mobilenet_v2": [32, 96], "resnet18": [128, 256], "resnet50": [512, 1024],
            "efficientnet_lite0": [40, 112], "efficientnet_lite2": [48, 120],
        ]
        // Block indices of the last 40-base-ch (stride 8) and 112-base-ch (stride 16) blocks, read off
        // efficientnet_lite_pytorch's EfficientNet.from_name(...)._blocks.
        #expect(BackboneRegistry.defaultTaps("efficientnet_lite0") == ["_blocks.4", "_blocks.10"])
        #expect(BackboneRegistry.defaultTaps("efficientnet_lite2") == ["_blocks.6", "_blocks.14"])
        #expect(BackboneRegistry.defaultTaps("efficientnet_lite3") == ["_blocks.6", "_blocks.16"])
        #expect(BackboneRegistry.defaultTaps("efficientnet_lite4") == ["_blocks.8", "_blocks.20"])
        for (name, channels) in expected {
            let net = try BackboneRegistry.make(name, weights: try SyntheticWeights.stateDict(for: name, seed: 1))
            let taps = BackboneRegistry.defaultTaps(name)
            let f = try net.features(Support.input([1, 3, 64, 64], seed: 4), taps: taps)
            #expect(f[taps[0]]?.shape == [1, channels[0], 8, 8], "\(name) \(taps[0])")
            #expect(f[taps[1]]?.shape == [1, channels[1], 4, 4], "\(name) \(taps[1])")
        }
    }

    @Test func expansionTapsHaveExpandedChannels() throws {
        let net = try BackboneRegistry.make("mobilenet_v2", weights: try SyntheticWeights.stateDict(for: "mobilenet_v2", seed: 1))
        let f = try net.features(Support.input([1, 3, 64, 64], seed: 4), taps: ["features.7.conv.0", "features.14.conv.0"])
        #expect(f["features.7.conv.0"]?.shape == [1, 192, 8, 8])
        #expect(f["features.14.conv.0"]?.shape == [1, 576, 4, 4])
        #expect(net.tapNames.contains("features.13") && !net.tapNames.contains("features.1.conv.0"))
    }

    @Test func unknownTapAndNameListValidChoices() throws {
        let net = try BackboneRegistry.make("resnet18", weights: try SyntheticWeights.stateDict(for: "resnet18", seed: 1))
        #expect(net.tapNames == ["layer1", "layer2", "layer3", "layer4"])
        do {
            _ = try net.features(Tensor(zeros: [1, 3, 32, 32]), taps: ["layer2", "layer9"])
            Issue.record("expected an unknown-tap error")
        } catch let e as BackboneError {
            #expect(e == .unknownTap(backbone: "resnet18", tap: "layer9", valid: ["layer1", "layer2", "layer3", "layer4"]))
            #expect(e.description.contains("layer4"))
        }
        #expect(throws: BackboneError.unknownBackbone(name: "vgg16", valid: BackboneRegistry.names)) {
            try BackboneRegistry.make("vgg16", weights: StateDict(file: "x", tensors: [:]))
        }
        #expect(throws: BackboneError.self) { try net.features(Tensor(zeros: [1, 1, 32, 32]), taps: ["layer1"]) }
    }

    @Test func loadingChecksKeysAndShapesButIgnoresClassifier() throws {
        var sd = try SyntheticWeights.stateDict(for: "resnet18", seed: 1)
        sd.tensors["fc.weight"] = Tensor(zeros: [1000, 512])
        sd.tensors["fc.bias"] = Tensor(zeros: [1000])
        sd.tensors["bn1.num_batches_tracked"] = Tensor(zeros: [])
        _ = try BackboneRegistry.make("resnet18", weights: sd)

        var missing = sd
        missing.tensors["layer3.1.bn2.running_var"] = nil
        missing.tensors["conv1.weight"] = nil
        missing.tensors["extra.weight"] = Tensor(zeros: [1])
        #expect(throws: CheckpointError.missingTensors(file: sd.file, missing: ["conv1.weight", "layer3.1.bn2.running_var"],
                                                        unexpected: ["extra.weight"])) {
            try BackboneRegistry.make("resnet18", weights: missing)
        }
        var wrong = sd
        wrong.tensors["layer2.0.conv1.weight"] = Tensor(zeros: [128, 64, 1, 1])
        #expect(throws: CheckpointError.weightsMismatch(file: sd.file, missing: [], unexpected: [], shapes: [
            ShapeMismatch(tensor: "layer2.0.conv1.weight", expected: [128, 64, 3, 3], actual: [128, 64, 1, 1]),
        ])) {
            try BackboneRegistry.make("resnet18", weights: wrong)
        }
    }

    @Test func shallowTapsDoNotNeedDeepLayers() throws {
        // A 7x7 input is too small for EfficientNet-Lite0's later asymmetric-padded stride-2 convs but fine for the
        // early blocks: requesting only an early tap must not run (and fail in) the deeper ones.
        let net = try BackboneRegistry.make("efficientnet_lite0", weights: try SyntheticWeights.stateDict(for: "efficientnet_lite0", seed: 1))
        let x = Support.input([1, 3, 2, 2], seed: 2)
        let early = try net.features(x, taps: ["_blocks.0"])
        #expect(early["_blocks.0"]?.shape == [1, 16, 1, 1])
        #expect(throws: BackboneError.self) { try net.features(x, taps: ["_blocks.15"]) }
    }

    @Test func normalizationConstants() {
        #expect(BackboneRegistry.inputNormalization("resnet50").mean == [0.485, 0.456, 0.406])
        #expect(BackboneRegistry.inputNormalization("efficientnet_lite2").std == [Float](repeating: 128 / 255, count: 3))
        for name in BackboneRegistry.names { #expect(BackboneRegistry.defaultTaps(name).count == 2) }
    }
}
