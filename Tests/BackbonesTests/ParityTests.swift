import Foundation
import Testing
import Checkpoints
import TensorCore
@testable import Backbones

/// Swift backbones vs torchvision / efficientnet_lite_pytorch outputs (scripts/make_backbone_fixtures.py),
/// within 1e-4 relative error (max |a-b| / max |b| per tap).
@Suite struct ParityTests {
    static let synthetic = [
        "mobilenet_v2", "resnet18", "resnet34", "resnet50", "resnet101", "wide_resnet50_2",
        "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "efficientnet_lite3", "efficientnet_lite4",
    ]

    @Test(arguments: synthetic)
    func syntheticWeightsMatchPyTorch(_ name: String) throws {
        let fx = try Support.fixture("synthetic_\(name)")
        let seed = try #require(fx.metadata["seed"].flatMap { UInt64($0) })
        let taps = try #require(fx.metadata["taps"]).split(separator: ",").map(String.init)
        let net = try BackboneRegistry.make(name, weights: try SyntheticWeights.stateDict(for: name, seed: seed))
        let got = try net.features(try #require(fx.tensors["input"]), taps: taps)
        #expect(Set(got.keys) == Set(taps))
        try Support.expectClose(got, fx.tensors, taps: taps, label: "synthetic \(name)")
    }

    static let real: [(name: String, stem: String)] = [
        ("mobilenet_v2", "mobilenet_v2-b0353104"), ("efficientnet_lite2", "efficientnet-lite2-9656183e"),
    ]

    /// Loads the cached ImageNet weights (.pth) through `CheckpointLoader.load`.
    static func realWeights(_ stem: String) throws -> StateDict {
        let pth = URL(fileURLWithPath: "/root/.cache/patchcore/weights").appendingPathComponent(stem + ".pth")
        guard FileManager.default.fileExists(atPath: pth.path) else {
            throw WeightsMissing(message: "\(pth.path) is missing; `make weights` (or the weights catalogue) must fetch it before the backbone tests")
        }
        return try CheckpointLoader.load(pth)
    }

    struct WeightsMissing: Error, CustomStringConvertible { var message: String; var description: String { message } }

    @Test(arguments: [0, 1])
    func realImageNetWeightsMatchPyTorch(_ which: Int) throws {
        let (name, stem) = Self.real[which]
        let fx = try Support.fixture("real_\(name)")
        let image = try #require(try Support.fixture("real_images").tensors["image"])  // (2,224,224,3) bytes
        let taps = try #require(fx.metadata["taps"]).split(separator: ",").map(String.init)
        #expect(taps == BackboneRegistry.defaultTaps(name))
        // The normalisation the fixture's input was made with (parity of the network, whatever the default).
        let mean = try JSONDecoder().decode([Float].self, from: Data(try #require(fx.metadata["mean"]).utf8))
        let std = try JSONDecoder().decode([Float].self, from: Data(try #require(fx.metadata["std"]).utf8))
        let (n, h, w) = (image.shape[0], image.shape[1], image.shape[2])
        var x = Tensor(zeros: [n, 3, h, w])
        for b in 0..<n { for c in 0..<3 { for y in 0..<h { for xx in 0..<w {
            x[b, c, y, xx] = (image[b, y, xx, c] / 255 - mean[c]) / std[c]
        } } } }
        let net = try BackboneRegistry.make(name, weights: try Self.realWeights(stem))
        let got = try net.features(x, taps: taps)
        try Support.expectClose(got, fx.tensors, taps: taps, label: "ImageNet \(name)")
    }
}
