import Foundation
import TensorCore

/// Direct depthwise convolution (groups == C == O), the MobileNetV2 / EfficientNet-Lite 3x3 and 5x5 layers.
extension FoldedConv {
    // Depthwise: x (N,C,H,W), w (C,1,k,k) -> out (N,C,oH,oW) = conv + bias, then the activation when
    // `fuseActivation` (otherwise the epilogue adds the residual and applies it).
    func depthwise(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, weights: UnsafePointer<Float>,
                           oh: Int, ow: Int, out: UnsafeMutablePointer<Float>, fuseActivation: Bool) {
        let c = inChannels, k = kernel, s = stride, pt = padding.top, pl = padding.left, act = activation
        // For tap column kj, the valid output columns are ox in [lo[kj], hi[kj]) (input column in range).
        var lo = [Int](repeating: 0, count: k), hi = [Int](repeating: 0, count: k)
        for kj in 0..<k {
            // ix = ox*s - pl + kj in [0, w)
            lo[kj] = max(0, (pl - kj + s - 1) / s)
            hi[kj] = min(ow, max(0, (w - 1 + pl - kj) / s + 1))
            if w - 1 + pl - kj < 0 { hi[kj] = 0 }
        }
        lo.withUnsafeBufferPointer { plo in
          hi.withUnsafeBufferPointer { phi in
            bias.withUnsafeBufferPointer { pb in
                parallelFor(n * c, work: oh * ow * k * k) { bc in
                    let ch = bc % c
                    let xin = x + bc * h * w, o = out + bc * oh * ow, wk = weights + ch * k * k
                    let b0 = pb[ch]
                    for i in 0..<(oh * ow) { o[i] = b0 }
                    for oy in 0..<oh {
                        let orow = o + oy * ow
                        for ki in 0..<k {
                            let iy = oy * s - pt + ki
                            if iy < 0 || iy >= h { continue }
                            let irow = xin + iy * w
                            for kj in 0..<k {
                                let wv = wk[ki * k + kj]
                                let a = plo[kj], e = phi[kj]
                                if a >= e { continue }
                                let base = irow - pl + kj
                                if s == 1 {
                                    for ox in a..<e { orow[ox] += wv * base[ox] }
                                } else {
                                    for ox in a..<e { orow[ox] += wv * base[ox * s] }
                                }
                            }
                        }
                        if fuseActivation {
                            switch act {
                            case .identity: break
                            case .relu: for ox in 0..<ow { orow[ox] = max(orow[ox], 0) }
                            case .relu6: for ox in 0..<ow { orow[ox] = min(max(orow[ox], 0), 6) }
                            }
                        }
                    }
                }
            }
          }
        }
    }
}
