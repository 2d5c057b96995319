/// A convolution layer whose weights are fixed (inference after load): weight, bias, parameters and activation
/// held together, with every per-weight layout the fast paths need computed once at init instead of on each call.
///
/// `y = layer(x, residual: r)` is exactly `conv2d(x, weight:, bias:, parameters, residual: r, activation:)`;
/// the kernel path is chosen once from the weight's shape and parameters, and the weight layout that path needs
/// is computed here rather than per call: Winograd's U (16, O, C) for 3x3 stride-1 convs with enough channels
/// (WinogradConv2d.swift), the per-tap regrouping (kH*kW, O, C/g) for the shifted-GEMM path. Those two paths never
/// read the (O,C/g,kH,kW) weight again, so the layer keeps only the prepared layout (a Winograd layer holds 16/9 of
/// the weight instead of 25/9; a shifted-GEMM layer 1x instead of 2x); `weight` is kept for the other paths only.
///
/// ```swift
/// // ResNet 3x3 with BN folded at load: relu(bn(conv(x)))
/// let (w, b) = foldBatchNorm(convWeight: w0, convBias: nil, gamma: g, beta: bt, runningMean: m, runningVar: v)
/// let conv2 = PreparedConv2d(weight: w, bias: b, .init(stride: 2, padding: 1), activation: .relu)
/// let y = conv2(x)   // x (N,C,H,W) -> (N,O,oH,oW)
/// ```
public struct PreparedConv2d: Sendable {
    /// weight (O,C/g,kH,kW) as given, for the paths that run on it (depthwise, im2col GEMM); nil for Winograd and
    /// shifted GEMM, which run on `preparedWeights` alone.
    public let weight: Tensor?
    /// Shape of the weight (O,C/g,kH,kW).
    public let weightShape: [Int]
    /// bias (O), or nil
    public let bias: Tensor?
    public let parameters: Conv2dParameters
    public let activation: Activation
    /// Kernel path of this layer.
    let path: ConvPath
    /// Weight laid out for `path`: U (16, O, C) for Winograd, regrouped per tap (kH*kW, O, C/g) for the
    /// shifted-GEMM path, else empty.
    let preparedWeights: [Float]

    /// Checks the shapes (programmer errors: a loader validates checkpoint shapes first) and prepares the layouts.
    public init(weight: Tensor, bias: Tensor? = nil, _ parameters: Conv2dParameters = .init(), activation: Activation = .none) {
        checkConvParameters(weight: weight.shape, bias: bias, parameters)
        self.weightShape = weight.shape
        self.bias = bias
        self.parameters = parameters
        self.activation = activation
        let (o, cg, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let path = convPath(o: o, cg: cg, kh: kh, kw: kw, parameters)
        self.path = path
        switch path {
        case .winograd where weight.count > 0:
            let count = winogradPositions * o * cg
            preparedWeights = [Float](unsafeUninitializedCapacity: count) { buf, initialized in
                weight.withUnsafeBufferPointer { pw in
                    winogradWeightTransform(pw.baseAddress!, o: o, c: cg, into: buf.baseAddress!)
                }
                initialized = count
            }
        case .shiftedGemm where weight.count > 0:
            preparedWeights = [Float](unsafeUninitializedCapacity: weight.count) { buf, initialized in
                weight.withUnsafeBufferPointer { pw in
                    regroupTapWeights(pw.baseAddress!, o: o, cg: cg, taps: kh * kw, into: buf.baseAddress!)
                }
                initialized = weight.count
            }
        default:
            preparedWeights = []
        }
        self.weight = preparedWeights.isEmpty ? weight : nil
    }

    /// Input channels C (= C/g * groups).
    public var inChannels: Int { weightShape[1] * parameters.groups }
    /// Output channels O.
    public var outChannels: Int { weightShape[0] }

    /// Output spatial size for an h x w input; a side is <= 0 when the input is too small for the kernel.
    public func outputSize(h: Int, w: Int) -> (h: Int, w: Int) {
        parameters.outputSize(h: h, w: w, kh: weightShape[2], kw: weightShape[3])
    }

    /// x (N,C,H,W), residual (N,O,oH,oW)? -> activation(conv(x) + bias + residual) (N,O,oH,oW).
    public func callAsFunction(_ x: Tensor, residual: Tensor? = nil) -> Tensor {
        let s = convShape(x, weight: weightShape, parameters, residual: residual)
        return withOptionalPointer(bias) { pb in
            if let weight {
                return weight.withUnsafeBufferPointer { pw in
                    conv2dCore(x, pw.baseAddress!, pb, residual, activation, s, parameters, prepared: nil)
                }
            }
            // Winograd / shifted GEMM read only the prepared layout (also passed as `weight`, never read).
            return preparedWeights.withUnsafeBufferPointer { pt in
                conv2dCore(x, pt.baseAddress!, pb, residual, activation, s, parameters, prepared: pt.baseAddress!)
            }
        }
    }
}
