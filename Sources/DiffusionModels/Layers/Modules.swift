import TensorCore

/// torch.nn.Linear with its diffusers parameter names (`<prefix>.weight` (out, in), `<prefix>.bias` (out)); the
/// weight stays in the file's half precision when it has one (`StoredMatrix`).
struct LinearLayer: Sendable {
    let weight: StoredMatrix
    let bias: Tensor?

    init(_ w: WeightScope, inFeatures: Int, outFeatures: Int, bias hasBias: Bool = true) throws {
        weight = try w.matrix("weight", rows: outFeatures, cols: inFeatures)
        bias = hasBias ? try w.tensor("bias", shape: [outFeatures]) : nil
    }

    var inFeatures: Int { weight.cols }
    var outFeatures: Int { weight.rows }

    /// x (..., in) -> activation(x W^T + b) (..., out)
    func callAsFunction(_ x: Tensor, activation: Activation = .none) -> Tensor {
        precondition(x.shape.last == inFeatures, "linear: input \(x.shape) does not end in \(inFeatures) features")
        let rows = x.count / max(1, inFeatures)
        var shape = x.shape
        shape[shape.count - 1] = outFeatures
        let count = rows * outFeatures
        let scalars = [Float](unsafeUninitializedCapacity: count) { po, initialized in
            x.withUnsafeBufferPointer { px in apply(rows: rows, px.baseAddress!, into: po.baseAddress!) }
            initialized = count
        }
        var out = Tensor(shape: shape, scalars: scalars)
        out.apply(activation)
        return out
    }

    /// out (rows, out) = x (rows, in) W^T + b, on raw rows.
    func apply(rows: Int, _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let (o, k) = (outFeatures, inFeatures)
        if rows == 0 || o == 0 { return }
        if let bias {
            bias.withUnsafeBufferPointer { pb in
                for r in 0..<rows { (out + r * o).update(from: pb.baseAddress!, count: o) }
            }
        } else if k == 0 {
            out.update(repeating: 0, count: rows * o)
        }
        weight.multiplyTransposed(m: rows, x, beta: bias == nil ? 0 : 1, into: out, ldc: o)
    }

    /// residual (rows, out) += x (rows, in) W^T + b, on raw rows.
    func accumulate(rows: Int, _ x: UnsafePointer<Float>, into residual: UnsafeMutablePointer<Float>) {
        let o = outFeatures
        if rows == 0 || o == 0 { return }
        if let bias {
            bias.withUnsafeBufferPointer { pb in
                let b = pb.baseAddress!
                Parallel.chunks(count: rows, minChunk: max(1, 16384 / max(1, o))) { range in
                    for r in range {
                        let dst = residual + r * o
                        for j in 0..<o { dst[j] += b[j] }
                    }
                }
            }
        }
        weight.multiplyTransposed(m: rows, x, beta: 1, into: residual, ldc: o)
    }

    /// residual (..., out) += x W^T + b, as one sgemm accumulating onto the residual (beta 1).
    func accumulate(_ x: Tensor, into residual: inout Tensor) {
        let rows = x.count / max(1, inFeatures)
        precondition(x.shape.last == inFeatures && residual.count == rows * outFeatures,
                     "linear accumulate: input \(x.shape), residual \(residual.shape), weight \([outFeatures, inFeatures])")
        x.withUnsafeBufferPointer { px in
            residual.withUnsafeMutableBufferPointer { pr in accumulate(rows: rows, px.baseAddress!, into: pr.baseAddress!) }
        }
    }
}

/// torch.nn.GroupNorm (affine) with diffusers names `<prefix>.weight`, `<prefix>.bias`.
struct GroupNormLayer: Sendable {
    let weight: Tensor
    let bias: Tensor
    let groups: Int
    let eps: Float

    init(_ w: WeightScope, channels: Int, groups: Int, eps: Float) throws {
        weight = try w.tensor("weight", shape: [channels])
        bias = try w.tensor("bias", shape: [channels])
        self.groups = groups
        self.eps = eps
    }

    /// x (N,C,...) -> activation(group_norm(x))
    func callAsFunction(_ x: Tensor, activation: Activation = .none) -> Tensor {
        groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps, activation: activation)
    }
}

/// torch.nn.LayerNorm over the last dimension (affine), names `<prefix>.weight`, `<prefix>.bias`.
struct LayerNormLayer: Sendable {
    let weight: Tensor
    let bias: Tensor
    let eps: Float

    init(_ w: WeightScope, features: Int, eps: Float = 1e-5) throws {
        weight = try w.tensor("weight", shape: [features])
        bias = try w.tensor("bias", shape: [features])
        self.eps = eps
    }

    func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, weight: weight, bias: bias, eps: eps) }
}

/// torch.nn.Conv2d loaded by name (`<prefix>.weight` (O,C,k,k), `<prefix>.bias` (O)) and prepared once for the
/// fast conv paths.
func loadConv(_ w: WeightScope, inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1,
              padding: Int = 0, activation: Activation = .none) throws -> PreparedConv2d {
    let weight = try w.tensor("weight", shape: [outChannels, inChannels, kernel, kernel])
    let bias = try w.tensor("bias", shape: [outChannels])
    return PreparedConv2d(weight: weight, bias: bias, .init(stride: stride, padding: padding), activation: activation)
}

/// x (N,C,H,W) += bias (N,C) per sample and channel (ResnetBlock2D's time-embedding projection).
func addPerChannel(_ x: inout Tensor, _ bias: Tensor) {
    let n = x.shape[0], c = x.shape[1]
    precondition(bias.shape == [n, c], "addPerChannel: bias \(bias.shape) for x \(x.shape)")
    let plane = x.count / max(1, n * c)
    bias.withUnsafeBufferPointer { pb in
        x.withUnsafeMutableBufferPointer { px in
            let b = pb.baseAddress!, base = px.baseAddress!
            Parallel.chunks(count: n * c, minChunk: max(1, 16384 / max(1, plane))) { range in
                for pl in range {
                    let v = b[pl], p = base + pl * plane
                    for i in 0..<plane { p[i] += v }
                }
            }
        }
    }
}

/// (N,C,H,W) -> (N,H*W,C): channel-major feature maps to token-major rows.
func tokens(fromMap x: Tensor) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    return x.reshaped([n, c, h * w]).permuted([0, 2, 1])
}

/// (N,H*W,C) -> (N,C,H,W)
func map(fromTokens x: Tensor, height: Int, width: Int) -> Tensor {
    let (n, c) = (x.shape[0], x.shape[2])
    return x.permuted([0, 2, 1]).reshaped([n, c, height, width])
}
