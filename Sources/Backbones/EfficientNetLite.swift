import Foundation
import TensorCore

// Port of efficientnet_lite_pytorch 0.1.0 (PyPI; model.py / utils.py, itself derived from lukemelas/EfficientNet-PyTorch)
// for the Lite variants, eval mode: ReLU6, no squeeze-excitation, stem and head not scaled, BN eps 1e-3, and
// TensorFlow "SAME" padding computed once from the *configured* image size (Conv2dStaticSamePadding), so the
// padding does not depend on the size of the image actually fed in.
// State-dict layout: _conv_stem, _bn0, _blocks.K.{_expand_conv,_bn0,_depthwise_conv,_bn1,_project_conv,_bn2},
// _conv_head, _bn1, _fc (the head and classifier are not used by the feature extractor).

/// `MBConvBlock` without SE: [1x1 expand+BN+ReLU6] -> kxk depthwise+BN+ReLU6 -> 1x1 project+BN, + input when
/// stride == 1 and in == out (id_skip). Inner tap "_expand_conv" = the activation after expand conv+BN+ReLU6.
final class MBConvBlock: Stage {
    let expand: FoldedConv?
    let depthwise: FoldedConv
    let project: FoldedConv
    let useResidual: Bool

    init(_ r: WeightReader, prefix p: String, inChannels: Int, outChannels: Int, kernel: Int, stride: Int,
         expandRatio: Int, imageSize: Int) throws {
        let hidden = inChannels * expandRatio, eps: Float = 1e-3
        expand = expandRatio != 1
            ? try .load(r, conv: "\(p)._expand_conv", bn: "\(p)._bn0", inChannels: inChannels, outChannels: hidden,
                        kernel: 1, eps: eps, activation: .relu6)
            : nil
        depthwise = try .load(r, conv: "\(p)._depthwise_conv", bn: "\(p)._bn1", inChannels: hidden, outChannels: hidden,
                              kernel: kernel,
                              parameters: EfficientNetLite.sameParameters(imageSize: imageSize, kernel: kernel, stride: stride,
                                                                          groups: hidden),
                              eps: eps, activation: .relu6)
        project = try .load(r, conv: "\(p)._project_conv", bn: "\(p)._bn2", inChannels: hidden, outChannels: outChannels,
                            kernel: 1, eps: eps, activation: .none)
        useResidual = stride == 1 && inChannels == outChannels
    }

    var innerTaps: [String] { expand == nil ? [] : ["_expand_conv"] }

    func forward(_ x: Tensor, wanted: Set<String>, capture: (String, Tensor) -> Void) throws -> Tensor {
        var h = x
        if let expand {
            h = try expand(x)
            if wanted.contains("_expand_conv") { capture("_expand_conv", h) }
        }
        h = try depthwise(h)
        return try project(h, residual: useResidual ? x : nil)
    }
}

enum EfficientNetLite {
    /// (width coefficient, depth coefficient, configured image size) from utils.efficientnet_params.
    static let params: [String: (width: Double, depth: Double, imageSize: Int)] = [
        "efficientnet_lite0": (1.0, 1.0, 224),
        "efficientnet_lite1": (1.0, 1.1, 240),
        "efficientnet_lite2": (1.1, 1.2, 260),
        "efficientnet_lite3": (1.2, 1.4, 280),
        "efficientnet_lite4": (1.4, 1.8, 300),
    ]

    /// Base block args 'rN_kK_sS_eE_iI_oO' of efficientnet_lite().
    static let baseBlocks: [(repeats: Int, kernel: Int, stride: Int, expand: Int, input: Int, output: Int)] = [
        (1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
        (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320),
    ]

    /// utils.round_filters with depth_divisor 8, min_depth None.
    static func roundFilters(_ filters: Int, width: Double) -> Int {
        if width == 0 { return filters }
        let f = Double(filters) * width
        var n = max(8, Int(f + 4) / 8 * 8)
        if Double(n) < 0.9 * f { n += 8 }
        return n
    }

    /// utils.round_repeats.
    static func roundRepeats(_ repeats: Int, depth: Double) -> Int { Int((depth * Double(repeats)).rounded(.up)) }

    /// Conv2dStaticSamePadding: pad = max((ceil(i/s) - 1) * s + k - i, 0), split (pad/2 before, pad - pad/2 after).
    static func samePadding(imageSize i: Int, kernel k: Int, stride s: Int) -> (begin: Int, end: Int) {
        let o = (i + s - 1) / s
        let pad = max((o - 1) * s + k - i, 0)
        return (pad / 2, pad - pad / 2)
    }

    /// Conv parameters of a k x k / s conv with TF "SAME" padding for the configured image size `i`.
    static func sameParameters(imageSize i: Int, kernel k: Int, stride s: Int, groups: Int = 1) -> Conv2dParameters {
        let (b, e) = samePadding(imageSize: i, kernel: k, stride: s)
        return Conv2dParameters(stride: (s, s), padding: (b, b), paddingEnd: (e, e), groups: groups)
    }

    /// One entry per `_blocks.K`: (input, output, kernel, stride, expand ratio, stage index).
    static func blockList(_ name: String) -> [(input: Int, output: Int, kernel: Int, stride: Int, expand: Int, stage: Int)] {
        guard let p = params[name] else { return [] }
        var list: [(input: Int, output: Int, kernel: Int, stride: Int, expand: Int, stage: Int)] = []
        for (i, b) in baseBlocks.enumerated() {
            var input = roundFilters(b.input, width: p.width)
            let output = roundFilters(b.output, width: p.width)
            let headOrTail = i == 0 || i == baseBlocks.count - 1   // fix_head_stem: repeats not scaled
            let repeats = headOrTail ? b.repeats : roundRepeats(b.repeats, depth: p.depth)
            if i == 0 { input = 32 }
            list.append((input, output, b.kernel, b.stride, b.expand, i))
            for _ in 1..<max(repeats, 1) { list.append((output, output, b.kernel, 1, b.expand, i)) }
        }
        return list
    }

    /// Default taps: the last block of the stride-8 stage (base 40 ch) and of the last stride-16 stage (base 112 ch).
    static func defaultTaps(_ name: String) -> [String] {
        let list = blockList(name)
        let s8 = list.lastIndex { $0.stage == 2 } ?? 0, s16 = list.lastIndex { $0.stage == 4 } ?? 0
        return ["_blocks.\(s8)", "_blocks.\(s16)"]
    }

    static func build(_ name: String, _ r: WeightReader) throws -> SequentialBackbone {
        guard let p = params[name] else { throw BackboneError.unknownBackbone(name: name, valid: BackboneRegistry.names) }
        var size = p.imageSize
        let stem = try FoldedConv.load(r, conv: "_conv_stem", bn: "_bn0", inChannels: 3, outChannels: 32, kernel: 3,
                                       parameters: sameParameters(imageSize: size, kernel: 3, stride: 2), eps: 1e-3, activation: .relu6)
        size = (size + 1) / 2
        var stages: [(tapName: String?, path: String, stage: any Stage)] = [("_conv_stem", "_conv_stem", ConvStage(stem))]
        for (k, b) in blockList(name).enumerated() {
            let path = "_blocks.\(k)"
            let block = try MBConvBlock(r, prefix: path, inChannels: b.input, outChannels: b.output, kernel: b.kernel,
                                        stride: b.stride, expandRatio: b.expand, imageSize: size)
            size = (size + b.stride - 1) / b.stride
            stages.append((path, path, block))
        }
        try r.finish(ignorable: { $0.hasPrefix("_fc.") || $0.hasPrefix("_conv_head.") || $0.hasPrefix("_bn1.") })
        return SequentialBackbone(name: name, stages: stages)
    }
}
