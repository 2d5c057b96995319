/// 2-D convolution with PyTorch `nn.Conv2d` semantics (zero padding, cross-correlation).
///
/// `padding` is the zero padding before the first row / column (top, left); `paddingEnd` the padding after the
/// last (bottom, right). They are equal unless set apart, e.g. for TensorFlow "SAME" padding (EfficientNet-Lite's
/// Conv2dStaticSamePadding pads (k - s) / 2 before and the rest after), which torch expresses as F.pad + conv.
///
/// ```swift
/// let p = Conv2dParameters(stride: (2, 2), padding: (0, 0), paddingEnd: (1, 1), groups: 32)  // TF "SAME" 3x3/2, even input
/// ```
public struct Conv2dParameters: Sendable, Equatable, CustomStringConvertible {
    public var stride: (h: Int, w: Int)
    public var padding: (h: Int, w: Int)
    public var paddingEnd: (h: Int, w: Int)
    public var dilation: (h: Int, w: Int)
    public var groups: Int

    public init(stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1) {
        self.init(stride: (stride, stride), padding: (padding, padding), dilation: (dilation, dilation), groups: groups)
    }

    public init(stride: (h: Int, w: Int), padding: (h: Int, w: Int), dilation: (h: Int, w: Int) = (1, 1), groups: Int = 1) {
        self.init(stride: stride, padding: padding, paddingEnd: padding, dilation: dilation, groups: groups)
    }

    /// Asymmetric zero padding: `padding` before (top, left), `paddingEnd` after (bottom, right).
    public init(stride: (h: Int, w: Int), padding: (h: Int, w: Int), paddingEnd: (h: Int, w: Int),
                dilation: (h: Int, w: Int) = (1, 1), groups: Int = 1) {
        self.stride = stride; self.padding = padding; self.paddingEnd = paddingEnd
        self.dilation = dilation; self.groups = groups
    }

    public static func == (l: Self, r: Self) -> Bool {
        l.stride == r.stride && l.padding == r.padding && l.paddingEnd == r.paddingEnd && l.dilation == r.dilation
            && l.groups == r.groups
    }

    public var description: String {
        "Conv2dParameters(stride: \(stride), padding: \(padding), paddingEnd: \(paddingEnd), dilation: \(dilation), groups: \(groups))"
    }

    /// Output spatial size for an input of `h` x `w` and a kernel of `kh` x `kw`; 0 along an axis where the padded
    /// input is shorter than the (dilated) kernel (torch's floor division, not Swift's truncation towards zero).
    public func outputSize(h: Int, w: Int, kh: Int, kw: Int) -> (h: Int, w: Int) {
        let spanH = h + padding.h + paddingEnd.h - dilation.h * (kh - 1) - 1
        let spanW = w + padding.w + paddingEnd.w - dilation.w * (kw - 1) - 1
        return (spanH < 0 ? 0 : spanH / stride.h + 1, spanW < 0 ? 0 : spanW / stride.w + 1)
    }

    /// Whether the padding is the same on both sides of each axis.
    public var isSymmetric: Bool { padding == paddingEnd }
}


/// Sizes of one conv call, checked once at the edge.
struct ConvShape {
    let n, c, h, w: Int          // input (N,C,H,W)
    let o, cg, kh, kw: Int       // weight (O,C/g,kH,kW)
    let g, og: Int               // groups, output channels per group
    let oh, ow: Int              // output spatial size
    var plane: Int { oh * ow }
    var kdim: Int { cg * kh * kw }
}

/// x (N,C,H,W), weight (O,C/groups,kH,kW), bias (O), residual (N,O,oH,oW) -> (N,O,oH,oW), as torch.nn.Conv2d
/// followed by an optional `+ residual` and `activation`, computed as one pass over the output:
/// y = activation(conv(x, weight) + bias + residual).
///
/// Paths: depthwise (groups == C, one input channel per group) runs a direct kernel parallel over channel planes;
/// 1x1 stride-1 unpadded convs are one sgemm per image and group on x itself; 3x3 stride-1 ungrouped convs with
/// at least 32 input and output channels run as Winograd F(2x2, 3x3) (WinogradConv2d.swift); other kH x kW
/// kernels with at least 16 input channels per group are kH*kW shifted sgemms over a padded copy (ShiftedGemmConv2d.swift);
/// the rest (e.g. a 3-channel stem, strided 1x1) is im2col + sgemm.
/// `conv2dReference` is the naive path the fast ones are tested against.
///
/// ```swift
/// // ResNet bottleneck tail with BN folded at load time: relu(conv3(x) + identity)
/// let y = conv2d(h, weight: w3, bias: b3, residual: identity, activation: .relu)
/// // MobileNetV2 depthwise 3x3 stride 2 + ReLU6
/// let d = conv2d(e, weight: wd, bias: bd, .init(stride: 2, padding: 1, groups: 144), activation: .relu6)
/// ```
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, _ p: Conv2dParameters = .init(),
                   residual: Tensor? = nil, activation: Activation = .none) -> Tensor {
    precondition(weight.rank == 4, "conv2d expects weight (O,C/g,kH,kW), got \(weight.shape)")
    checkConvParameters(weight: weight.shape, bias: bias, p)
    let s = convShape(x, weight: weight.shape, p, residual: residual)
    return weight.withUnsafeBufferPointer { pw in
        withOptionalPointer(bias) { pb in
            conv2dCore(x, pw.baseAddress!, pb, residual, activation, s, p, prepared: nil)
        }
    }
}

/// Checks a conv's weight (O,C/g,kH,kW), bias (O) and parameters (programmer errors: weights come from a loader that
/// has validated their shapes).
func checkConvParameters(weight: [Int], bias: Tensor?, _ p: Conv2dParameters) {
    precondition(weight.count == 4, "conv2d expects weight (O,C/g,kH,kW), got \(weight)")
    precondition(p.groups > 0 && weight[0] % p.groups == 0, "conv2d weight \(weight) does not split into \(p.groups) groups")
    precondition(p.stride.h > 0 && p.stride.w > 0 && p.dilation.h > 0 && p.dilation.w > 0
                 && p.padding.h >= 0 && p.padding.w >= 0 && p.paddingEnd.h >= 0 && p.paddingEnd.w >= 0,
                 "conv2d needs positive stride and dilation and non-negative padding, got \(p)")
    if let bias { precondition(bias.shape == [weight[0]], "conv2d bias shape \(bias.shape) != [\(weight[0])]") }
}

/// Sizes of conv(x, weight) after checking x (N,C,H,W) and residual (N,O,oH,oW) against the weight.
func convShape(_ x: Tensor, weight: [Int], _ p: Conv2dParameters, residual: Tensor?) -> ConvShape {
    precondition(x.rank == 4, "conv2d expects x (N,C,H,W), got \(x.shape)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, cg, kh, kw) = (weight[0], weight[1], weight[2], weight[3])
    let g = p.groups
    precondition(c == cg * g, "conv2d channels: input \(c), weight \(weight), groups \(g)")
    let (oh, ow) = p.outputSize(h: h, w: w, kh: kh, kw: kw)
    precondition(oh > 0 && ow > 0, "conv2d output would be empty for input \(x.shape), kernel \(weight)")
    if let residual {
        precondition(residual.shape == [n, o, oh, ow], "conv2d residual shape \(residual.shape) != \([n, o, oh, ow])")
    }
    return ConvShape(n: n, c: c, h: h, w: w, o: o, cg: cg, kh: kh, kw: kw, g: g, og: o / g, oh: oh, ow: ow)
}

/// The path choice and the output buffer of a checked conv call; `prepared` is the weight already laid out for
/// the chosen path when the caller prepared it (`PreparedConv2d`), else nil: regrouped per tap
/// (`regroupTapWeights`) for the shifted-GEMM path, transformed (`winogradWeightTransform`) for Winograd.
func conv2dCore(_ x: Tensor, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, _ residual: Tensor?,
                _ activation: Activation, _ s: ConvShape, _ p: Conv2dParameters,
                prepared: UnsafePointer<Float>?) -> Tensor {
    KernelRuntime.prepare()
    let count = s.n * s.o * s.oh * s.ow
    // Every path writes each output element, so the buffer starts uninitialised (no zero-fill pass).
    let scalars = [Float](unsafeUninitializedCapacity: count) { po, initialized in
        defer { initialized = count }
        if count == 0 { return }
        x.withUnsafeBufferPointer { px in
            withOptionalPointer(residual) { pr in
                switch convPath(s, p) {
                case .depthwise:
                    depthwiseConv2d(px.baseAddress!, weight, bias, pr, activation, s, p, po.baseAddress!)
                case .shiftedGemm:
                    shiftedGemmConv2d(px.baseAddress!, weight, bias, pr, activation, s, p, po.baseAddress!,
                                      tapWeights: prepared)
                case .winograd:
                    if let prepared {
                        winogradConv2d(px.baseAddress!, prepared, bias, pr, activation, s, p, po.baseAddress!)
                    } else {
                        let u = UnsafeMutablePointer<Float>.allocate(capacity: winogradPositions * s.o * s.c)
                        defer { u.deallocate() }
                        winogradWeightTransform(weight, o: s.o, c: s.c, into: u)
                        winogradConv2d(px.baseAddress!, u, bias, pr, activation, s, p, po.baseAddress!)
                    }
                case .gemm:
                    // bias (+ residual) go in first and sgemm accumulates onto them (beta 1): no zeroing pass
                    // and no read-modify-write pass after; only the activation is left.
                    let prefilled = bias != nil || pr != nil
                    if prefilled {
                        convPrefill(po.baseAddress!, planes: s.n * s.o, plane: s.plane, channels: s.o, bias: bias, residual: pr)
                    }
                    gemmConv2d(px.baseAddress!, weight, s, p, po.baseAddress!, accumulate: prefilled)
                    convEpilogue(po.baseAddress!, planes: s.n * s.o, plane: s.plane, channels: s.o,
                                 bias: nil, residual: nil, activation: activation)
                }
            }
        }
    }
    return Tensor(shape: [s.n, s.o, s.oh, s.ow], scalars: scalars)
}

/// Which kernel runs a conv; it depends only on the weight's shape and the parameters, so it is fixed per layer.
enum ConvPath { case depthwise, winograd, shiftedGemm, gemm }

@inline(__always)
func convPath(_ s: ConvShape, _ p: Conv2dParameters) -> ConvPath {
    convPath(o: s.o, cg: s.cg, kh: s.kh, kw: s.kw, p)
}

/// Depthwise first; then Winograd F(2x2, 3x3) for 3x3 stride-1 dilation-1 ungrouped convs with at least
/// `winogradMinChannels` input and output channels; then shifted GEMM; im2col + sgemm for the rest.
@inline(__always)
func convPath(o: Int, cg: Int, kh: Int, kw: Int, _ p: Conv2dParameters) -> ConvPath {
    let channels = cg * p.groups
    if cg == 1 && p.groups == channels { return .depthwise }
    if winogradApplies(o: o, cg: cg, groups: p.groups, kh: kh, kw: kw, p) { return .winograd }
    if kh * kw > 1 && cg >= shiftedGemmMinChannels { return .shiftedGemm }
    return .gemm
}

/// Input channels per group from which a kH x kW conv runs as kH*kW shifted sgemms (K = C/g each) instead of
/// im2col + one sgemm (K = C/g*kH*kW); below it the per-tap products are too thin for sgemm.
let shiftedGemmMinChannels = 16

@inline(__always)
func withOptionalPointer<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let t else { return body(nil) }
    return t.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// x (N,C,H,W), weight (O,C/g,kH,kW) -> out (N,O,oH,oW) without bias, through sgemm per image and group:
/// out[b, group] (O/g, oH*oW) (+)= weight[group] (O/g, C/g*kH*kW) x cols (C/g*kH*kW, oH*oW); with `accumulate`
/// the product is added to what `out` holds (sgemm beta 1), else it overwrites it.
/// For 1x1 stride-1 unpadded kernels cols is x itself (no im2col).
func gemmConv2d(_ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ s: ConvShape, _ p: Conv2dParameters,
                _ out: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
    let pointwise = s.kh == 1 && s.kw == 1 && p.stride == (1, 1) && p.padding == (0, 0) && p.paddingEnd == (0, 0)
    let plane = s.plane, kdim = s.kdim
    let beta: Float = accumulate ? 1 : 0
    if kdim == 0 {
        if !accumulate { out.update(repeating: 0, count: s.n * s.o * plane) }
        return
    }
    if pointwise {
        var calls: [GemmCall] = []
        for b in 0..<s.n {
            for gi in 0..<s.g {
                calls.append(GemmCall(m: s.og, n: plane, k: kdim,
                                      a: weight + gi * s.og * kdim, lda: kdim,
                                      b: x + (b * s.c + gi * s.cg) * plane, ldb: plane,
                                      beta: beta,
                                      c: out + (b * s.o + gi * s.og) * plane, ldc: plane))
            }
        }
        sgemmBatch(calls)
        return
    }
    let cols = UnsafeMutablePointer<Float>.allocate(capacity: kdim * plane)
    defer { cols.deallocate() }
    // Strided kernels gather through a phase-split copy so every im2col row is a contiguous copy.
    let strided = p.stride.w > 1 && s.kh * s.kw > 1
    let geo = PhaseGeometry(s, p)
    let xq = UnsafeMutablePointer<Float>.allocate(capacity: strided ? geo.count(channels: s.cg, s, p) : 0)
    defer { xq.deallocate() }
    let chunk = Swift.max(1, 4096 / Swift.max(1, s.kh * s.kw * plane))
    for b in 0..<s.n {
        for gi in 0..<s.g {
            let xin = x + (b * s.c + gi * s.cg) * s.h * s.w
            // im2col is split over input channels (its rows) across workers, then sgemm threads by itself.
            if strided {
                phaseSplit(xin, channels: s.cg, h: s.h, w: s.w, p, hq: geo.hq, wq: geo.wq, into: xq)
                Parallel.chunks(count: s.cg, minChunk: chunk) { chans in
                    im2colFromPhases(xq, channels: chans, groupChannels: s.cg, geo, s, p, cols: cols)
                }
            } else {
                Parallel.chunks(count: s.cg, minChunk: chunk) { chans in
                    im2col(xin, channels: chans, s, p, cols: cols)
                }
            }
            sgemm(m: s.og, n: plane, k: kdim,
                  a: weight + gi * s.og * kdim, lda: kdim,
                  b: cols, ldb: plane,
                  beta: beta,
                  c: out + (b * s.o + gi * s.og) * plane, ldc: plane)
        }
    }
}

/// x (C/g,H,W) for one image and group -> rows `channels` of cols (C/g*kH*kW, oH*oW); out-of-range taps are zero.
/// Row (ch, ki, kj) column (oy, ox) holds x[ch, oy*sH - pH + ki*dH, ox*sW - pW + kj*dW].
func im2col(_ x: UnsafePointer<Float>, channels: Range<Int>, _ s: ConvShape, _ p: Conv2dParameters,
            cols: UnsafeMutablePointer<Float>) {
    let (h, w, oh, ow) = (s.h, s.w, s.oh, s.ow)
    let (sh, sw) = p.stride, (ph, pw) = p.padding, (dh, dw) = p.dilation
    for ch in channels {
        let xplane = x + ch * h * w
        for ki in 0..<s.kh {
            for kj in 0..<s.kw {
                let dst = cols + ((ch * s.kh + ki) * s.kw + kj) * oh * ow
                let xoff = kj * dw - pw
                let valid = validRange(count: ow, offset: xoff, stride: sw, limit: w)
                for oy in 0..<oh {
                    let iy = oy * sh - ph + ki * dh
                    copyPaddedRow(into: dst + oy * ow, count: ow, valid: valid,
                                  from: iy >= 0 && iy < h ? xplane + iy * w + xoff : nil, stride: sw)
                }
            }
        }
    }
}

/// The indices j in 0..<count with 0 <= offset + stride*j < limit (stride > 0), as one range.
@inline(__always)
func validRange(count: Int, offset: Int, stride: Int, limit: Int) -> Range<Int> {
    let lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride
    let top = limit - 1 - offset
    let hi = top < 0 ? 0 : top / stride + 1
    let l = Swift.min(lo, count)
    return l..<Swift.min(Swift.max(hi, l), count)
}

/// out (planes, plane) = bias[plane % channels] (0 without bias) + residual (when given): the starting value of a
/// conv whose sgemm then accumulates onto it.
func convPrefill(_ out: UnsafeMutablePointer<Float>, planes: Int, plane: Int, channels: Int,
                 bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?) {
    Parallel.chunks(count: planes, minChunk: Swift.max(1, 16384 / Swift.max(plane, 1))) { range in
        for pl in range {
            let o = out + pl * plane
            let v = bias?[pl % channels] ?? 0
            if let residual {
                let r = residual + pl * plane
                for i in 0..<plane { o[i] = r[i] + v }
            } else {
                o.update(repeating: v, count: plane)
            }
        }
    }
}

/// out (planes, plane) in place: += bias[plane % channels], += residual, then activation; one pass per plane.
func convEpilogue(_ out: UnsafeMutablePointer<Float>, planes: Int, plane: Int, channels: Int,
                  bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: Activation) {
    if bias == nil && residual == nil && activation == .none { return }
    Parallel.chunks(count: planes, minChunk: Swift.max(1, 16384 / Swift.max(plane, 1))) { range in
        for pl in range {
            let o = out + pl * plane
            if let bias {
                let v = bias[pl % channels]
                for i in 0..<plane { o[i] += v }
            }
            if let residual {
                let r = residual + pl * plane
                for i in 0..<plane { o[i] += r[i] }
            }
            applyActivation(activation, o, count: plane)
        }
    }
}
