import Foundation
import TensorCore

// Port of torchvision.models.mobilenetv2 (MobileNet_V2 with width_mult 1.0, round_nearest 8), eval mode.
// State-dict layout: features.0.{0: conv, 1: bn}; features.1..17 InvertedResidual `conv` Sequential;
// features.18.{0,1} 1x1 conv to 1280; classifier.1 Linear (unused by a feature extractor).

/// torchvision `InvertedResidual`: [1x1 expand conv+BN+ReLU6] -> 3x3 depthwise conv+BN+ReLU6 -> 1x1 project conv+BN,
/// plus the input when stride == 1 and in == out channels. Inner tap "conv.0" = the expanded activation.
final class InvertedResidual: Stage {
    let expand: FoldedConv?
    let depthwise: FoldedConv
    let project: FoldedConv
    let useResidual: Bool

    init(_ r: WeightReader, prefix p: String, inChannels: Int, outChannels: Int, stride: Int, expandRatio: Int) throws {
        let hidden = inChannels * expandRatio
        let eps: Float = 1e-5
        var i = 0
        if expandRatio != 1 {
            expand = try .load(r, conv: "\(p).conv.0.0", bn: "\(p).conv.0.1", inChannels: inChannels, outChannels: hidden,
                               kernel: 1, eps: eps, activation: .relu6)
            i = 1
        } else {
            expand = nil
        }
        depthwise = try .load(r, conv: "\(p).conv.\(i).0", bn: "\(p).conv.\(i).1", inChannels: hidden, outChannels: hidden,
                              kernel: 3, parameters: .init(stride: stride, padding: 1, groups: hidden), eps: eps, activation: .relu6)
        project = try .load(r, conv: "\(p).conv.\(i + 1)", bn: "\(p).conv.\(i + 2)", inChannels: hidden, outChannels: outChannels,
                            kernel: 1, eps: eps, activation: .none)
        useResidual = stride == 1 && inChannels == outChannels
    }

    var innerTaps: [String] { expand == nil ? [] : ["conv.0"] }

    func forward(_ x: Tensor, wanted: Set<String>, capture: (String, Tensor) -> Void) throws -> Tensor {
        var h = x
        if let expand {
            h = try expand(x)
            if wanted.contains("conv.0") { capture("conv.0", h) }
        }
        h = try depthwise(h)
        return try project(h, residual: useResidual ? x : nil)
    }
}

/// A conv+BN+ReLU6 stage (`Conv2dNormActivation`): features.0 and features.18.
final class ConvStage: Stage {
    let conv: FoldedConv
    init(_ conv: FoldedConv) { self.conv = conv }
    var innerTaps: [String] { [] }
    func forward(_ x: Tensor, wanted: Set<String>, capture: (String, Tensor) -> Void) throws -> Tensor { try conv(x) }
}

enum MobileNetV2 {
    /// (expand ratio t, channels c, repeats n, first stride s), torchvision's inverted_residual_setting.
    static let settings: [(t: Int, c: Int, n: Int, s: Int)] = [
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]

    static func build(_ r: WeightReader) throws -> SequentialBackbone {
        var stages: [(tapName: String?, path: String, stage: any Stage)] = []
        let stem = try FoldedConv.load(r, conv: "features.0.0", bn: "features.0.1", inChannels: 3, outChannels: 32,
                                       kernel: 3, parameters: .init(stride: 2, padding: 1), eps: 1e-5, activation: .relu6)
        stages.append(("features.0", "features.0", ConvStage(stem)))
        var inC = 32, index = 1
        for s in settings {
            for j in 0..<s.n {
                let p = "features.\(index)"
                let block = try InvertedResidual(r, prefix: p, inChannels: inC, outChannels: s.c,
                                                 stride: j == 0 ? s.s : 1, expandRatio: s.t)
                stages.append((p, p, block))
                inC = s.c; index += 1
            }
        }
        let last = try FoldedConv.load(r, conv: "features.18.0", bn: "features.18.1", inChannels: 320, outChannels: 1280,
                                       kernel: 1, eps: 1e-5, activation: .relu6)
        stages.append(("features.18", "features.18", ConvStage(last)))
        try r.finish(ignorable: { $0.hasPrefix("classifier.") })
        return SequentialBackbone(name: "mobilenet_v2", stages: stages)
    }
}
