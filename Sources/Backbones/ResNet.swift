import Foundation
import TensorCore

// Port of torchvision.models.resnet (ResNet v1.5: stride on the 3x3 conv of Bottleneck), eval mode.
// State-dict layout: conv1, bn1, layer{1..4}.{i}.{conv1,bn1,conv2,bn2[,conv3,bn3],downsample.{0,1}}, fc (unused).

/// torchvision `BasicBlock` (ResNet-18/34): relu(bn2(conv2(relu(bn1(conv1(x))))) + identity).
final class BasicBlock: Sendable {
    let conv1: FoldedConv, conv2: FoldedConv, downsample: FoldedConv?
    static let expansion = 1

    init(_ r: WeightReader, prefix p: String, inChannels: Int, planes: Int, stride: Int) throws {
        conv1 = try .load(r, conv: "\(p).conv1", bn: "\(p).bn1", inChannels: inChannels, outChannels: planes, kernel: 3,
                          parameters: .init(stride: stride, padding: 1), eps: 1e-5, activation: .relu)
        conv2 = try .load(r, conv: "\(p).conv2", bn: "\(p).bn2", inChannels: planes, outChannels: planes, kernel: 3,
                          parameters: .init(padding: 1), eps: 1e-5, activation: .relu)
        downsample = stride != 1 || inChannels != planes
            ? try .load(r, conv: "\(p).downsample.0", bn: "\(p).downsample.1", inChannels: inChannels, outChannels: planes,
                        kernel: 1, parameters: .init(stride: stride, padding: 0), eps: 1e-5, activation: .none)
            : nil
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let identity = try downsample.map { try $0(x) } ?? x
        return try conv2(try conv1(x), residual: identity)
    }
}

/// torchvision `Bottleneck` (ResNet-50/101, Wide ResNet): 1x1 reduce -> 3x3 (stride) -> 1x1 expand x4, + identity, ReLU.
/// width = planes * base_width / 64 (64 for ResNet, 128 for Wide ResNet-*-2).
final class Bottleneck: Sendable {
    let conv1: FoldedConv, conv2: FoldedConv, conv3: FoldedConv, downsample: FoldedConv?
    static let expansion = 4

    init(_ r: WeightReader, prefix p: String, inChannels: Int, planes: Int, stride: Int, baseWidth: Int) throws {
        let width = planes * baseWidth / 64, out = planes * Self.expansion
        conv1 = try .load(r, conv: "\(p).conv1", bn: "\(p).bn1", inChannels: inChannels, outChannels: width, kernel: 1,
                          eps: 1e-5, activation: .relu)
        conv2 = try .load(r, conv: "\(p).conv2", bn: "\(p).bn2", inChannels: width, outChannels: width, kernel: 3,
                          parameters: .init(stride: stride, padding: 1), eps: 1e-5, activation: .relu)
        conv3 = try .load(r, conv: "\(p).conv3", bn: "\(p).bn3", inChannels: width, outChannels: out, kernel: 1,
                          eps: 1e-5, activation: .relu)
        downsample = stride != 1 || inChannels != out
            ? try .load(r, conv: "\(p).downsample.0", bn: "\(p).downsample.1", inChannels: inChannels, outChannels: out,
                        kernel: 1, parameters: .init(stride: stride, padding: 0), eps: 1e-5, activation: .none)
            : nil
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let identity = try downsample.map { try $0(x) } ?? x
        return try conv3(try conv2(try conv1(x)), residual: identity)
    }
}

/// conv1 (7x7/2) + bn1 + ReLU + 3x3/2 max pool.
final class ResNetStem: Stage {
    let conv: FoldedConv
    init(_ r: WeightReader) throws {
        conv = try .load(r, conv: "conv1", bn: "bn1", inChannels: 3, outChannels: 64, kernel: 7,
                         parameters: .init(stride: 2, padding: 3), eps: 1e-5, activation: .relu)
    }
    var innerTaps: [String] { [] }
    func forward(_ x: Tensor, wanted: Set<String>, capture: (String, Tensor) -> Void) throws -> Tensor {
        maxPool2d(try conv(x), kernel: 3, stride: 2, padding: 1)
    }
}

/// `layerK`: a chain of blocks.
final class ResNetLayer: Stage {
    let blocks: [@Sendable (Tensor) throws -> Tensor]
    init(blocks: [@Sendable (Tensor) throws -> Tensor]) { self.blocks = blocks }
    var innerTaps: [String] { [] }
    func forward(_ x: Tensor, wanted: Set<String>, capture: (String, Tensor) -> Void) throws -> Tensor {
        var h = x
        for b in blocks { h = try b(h) }
        return h
    }
}

enum ResNet {
    enum Block { case basic, bottleneck }

    /// (block kind, blocks per layer, base width) for each registry name.
    static let configs: [String: (block: Block, layers: [Int], baseWidth: Int)] = [
        "resnet18": (.basic, [2, 2, 2, 2], 64),
        "resnet34": (.basic, [3, 4, 6, 3], 64),
        "resnet50": (.bottleneck, [3, 4, 6, 3], 64),
        "resnet101": (.bottleneck, [3, 4, 23, 3], 64),
        "wide_resnet50_2": (.bottleneck, [3, 4, 6, 3], 128),
        "wide_resnet101_2": (.bottleneck, [3, 4, 23, 3], 128),
    ]

    static func build(_ name: String, _ r: WeightReader) throws -> SequentialBackbone {
        guard let cfg = configs[name] else {
            throw BackboneError.unknownBackbone(name: name, valid: BackboneRegistry.names)
        }
        var stages: [(tapName: String?, path: String, stage: any Stage)] = [(nil, "stem", try ResNetStem(r))]
        var inC = 64
        for (li, count) in cfg.layers.enumerated() {
            let planes = 64 << li
            var blocks: [@Sendable (Tensor) throws -> Tensor] = []
            for bi in 0..<count {
                let p = "layer\(li + 1).\(bi)"
                let stride = bi == 0 && li > 0 ? 2 : 1
                switch cfg.block {
                case .basic:
                    let b = try BasicBlock(r, prefix: p, inChannels: inC, planes: planes, stride: stride)
                    blocks.append { try b($0) }
                    inC = planes * BasicBlock.expansion
                case .bottleneck:
                    let b = try Bottleneck(r, prefix: p, inChannels: inC, planes: planes, stride: stride, baseWidth: cfg.baseWidth)
                    blocks.append { try b($0) }
                    inC = planes * Bottleneck.expansion
                }
            }
            stages.append(("layer\(li + 1)", "layer\(li + 1)", ResNetLayer(blocks: blocks)))
        }
        try r.finish(ignorable: { $0.hasPrefix("fc.") })
        return SequentialBackbone(name: name, stages: stages)
    }
}
