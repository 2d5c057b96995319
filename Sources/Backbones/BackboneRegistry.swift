import Foundation
import Checkpoints
import TensorCore

/// Builds backbones by name from a state dict with torchvision (or efficientnet_lite_pytorch) parameter names.
///
/// Every expected key and shape is checked (classifier / fc / head keys may be present and are ignored), and
/// BatchNorm is folded into the convolutions at load (eval mode).
///
/// ```swift
/// let sd = try CheckpointLoader.load(URL(fileURLWithPath: "resnet50.pth"))
/// let net = try BackboneRegistry.make("resnet50", weights: sd)
/// let (mean, std) = BackboneRegistry.inputNormalization("resnet50")
/// let f = try net.features(x, taps: BackboneRegistry.defaultTaps("resnet50"))  // layer2, layer3
/// ```
public enum BackboneRegistry {
    /// All supported names.
    public static let names: [String] = [
        "mobilenet_v2", "resnet18", "resnet34", "resnet50", "resnet101", "wide_resnet50_2", "wide_resnet101_2",
        "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "efficientnet_lite3", "efficientnet_lite4",
    ]

    /// The backbone `name` with `weights`; throws `BackboneError.unknownBackbone`, a `CheckpointError` naming the
    /// weights file and listing missing / unexpected keys and wrong shapes together, or `CheckpointError.nonFinite` naming
    /// the file and the first tensor holding NaN / Inf (or a negative batch-norm `running_var`).
    public static func make(_ name: String, weights: StateDict) throws -> any Backbone {
        try build(name, reader: WeightReader(weights))
    }

    static func build(_ name: String, reader: WeightReader) throws -> SequentialBackbone {
        switch name {
        case "mobilenet_v2": return try MobileNetV2.build(reader)
        case _ where ResNet.configs[name] != nil: return try ResNet.build(name, reader)
        case _ where EfficientNetLite.params[name] != nil: return try EfficientNetLite.build(name, reader)
        default: throw BackboneError.unknownBackbone(name: name, valid: names)
        }
    }

    /// Default taps (a stride-8 and a stride-16 map): ResNets layer2+layer3; MobileNetV2 features.6 (32 ch) +
    /// features.13 (96 ch); EfficientNet-Lite the last blocks of the 40- and 112-channel base stages
    /// (Lite2: `_blocks.6` 48 ch, `_blocks.14` 120 ch). Empty for an unknown name.
    public static func defaultTaps(_ name: String) -> [String] {
        switch name {
        case "mobilenet_v2": return ["features.6", "features.13"]
        case _ where ResNet.configs[name] != nil: return ["layer2", "layer3"]
        case _ where EfficientNetLite.params[name] != nil: return EfficientNetLite.defaultTaps(name)
        default: return []
        }
    }

    /// Per-channel (mean, std) on [0,1] RGB that the weights expect: ImageNet statistics for torchvision models;
    /// for EfficientNet-Lite (converted from the TensorFlow Lite models, trained on (x*255 - 127) / 128)
    /// mean 127/255 and std 128/255; compared with ImageNet statistics in
    /// bench/DESIGN_NOTES.md#efficientnet-lite-normalisation.
    public static func inputNormalization(_ name: String) -> (mean: [Float], std: [Float]) {
        if name.hasPrefix("efficientnet_lite") {
            return ([Float](repeating: 127 / 255, count: 3), [Float](repeating: 128 / 255, count: 3))
        }
        return ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    }
}
