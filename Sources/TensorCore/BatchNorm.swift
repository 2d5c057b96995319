/// Eval-mode batch normalisation (torch.nn.BatchNorm2d with running statistics) and its folding into a conv.
///
/// Notation: y = (x - mean) / sqrt(var + eps) * gamma + beta, per channel.

/// x (N,C,H,W) -> (N,C,H,W), normalised with the running statistics (reference path; folded convs skip it).
public func batchNorm2d(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor,
                        eps: Float = 1e-5) -> Tensor {
    precondition(x.rank == 4, "batchNorm2d expects x (N,C,H,W), got \(x.shape)")
    let (n, c, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
    for (name, t) in [("gamma", gamma), ("beta", beta), ("running_mean", runningMean), ("running_var", runningVar)] {
        precondition(t.shape == [c], "batchNorm2d \(name) shape \(t.shape) != [\(c)]")
    }
    var out = x
    out.withUnsafeMutableBufferPointer { po in
        for b in 0..<n {
            for ch in 0..<c {
                let scale = gamma.scalars[ch] / (runningVar.scalars[ch] + eps).squareRoot()
                let shift = beta.scalars[ch] - runningMean.scalars[ch] * scale
                let base = po.baseAddress! + (b * c + ch) * plane
                for i in 0..<plane { base[i] = base[i] * scale + shift }
            }
        }
    }
    return out
}

/// Folds an eval-mode BatchNorm2d that follows a conv into the conv's weight and bias (done once at load time).
///
/// convWeight (O,C/g,kH,kW), convBias (O) or nil, BN parameters (O) -> weight (O,C/g,kH,kW), bias (O) with
/// conv(x, weight, bias) == bn(conv(x, convWeight, convBias)):
/// scale = gamma / sqrt(var + eps); weight = convWeight * scale; bias = (convBias - mean) * scale + beta.
///
/// ```swift
/// let (w, b) = foldBatchNorm(convWeight: w0, convBias: nil, gamma: g, beta: bt,
///                            runningMean: m, runningVar: v, eps: 1e-5)
/// let y = conv2d(x, weight: w, bias: b, .init(padding: 1), activation: .relu)
/// ```
public func foldBatchNorm(convWeight: Tensor, convBias: Tensor?, gamma: Tensor, beta: Tensor,
                          runningMean: Tensor, runningVar: Tensor, eps: Float = 1e-5) -> (weight: Tensor, bias: Tensor) {
    precondition(convWeight.rank == 4, "foldBatchNorm expects a conv weight (O,C/g,kH,kW), got \(convWeight.shape)")
    let o = convWeight.shape[0]
    let per = convWeight.count / Swift.max(o, 1)
    for (name, t) in [("gamma", gamma), ("beta", beta), ("running_mean", runningMean), ("running_var", runningVar)] {
        precondition(t.shape == [o], "foldBatchNorm \(name) shape \(t.shape) != [\(o)]")
    }
    if let convBias { precondition(convBias.shape == [o], "foldBatchNorm conv bias shape \(convBias.shape) != [\(o)]") }
    var weight = convWeight
    var bias = Tensor(zeros: [o])
    for oc in 0..<o {
        // Double for the scale so folding adds no error beyond float rounding of the result.
        let scale = Double(gamma.scalars[oc]) / (Double(runningVar.scalars[oc]) + Double(eps)).squareRoot()
        for i in 0..<per { weight.scalars[oc * per + i] = Float(Double(convWeight.scalars[oc * per + i]) * scale) }
        let b0 = Double(convBias?.scalars[oc] ?? 0)
        bias.scalars[oc] = Float((b0 - Double(runningMean.scalars[oc])) * scale + Double(beta.scalars[oc]))
    }
    return (weight, bias)
}
