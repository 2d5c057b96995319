/// Convolution as a sum of shifted matrix products ("implicit GEMM"), without im2col.
///
/// Notation: the zero-padded input of one image is split into sH*sW stride phases,
/// xq[(qy, qx)][ch][r][j] = xpad[ch][qy + sH*r][qx + sW*j], each phase an (Hq, Wq) plane. Output pixel (oy, ox)
/// of tap (ki, kj) reads padded pixel (oy*sH + ki*dH, ox*sW + kj*dW), which is phase ((ki*dH) % sH, (kj*dW) % sW)
/// at (oy + (ki*dH)/sH, ox + (kj*dW)/sW). Computing the output over full-width rows (oH, Wq) makes every tap a
/// plain strided matrix: y_wide (O/g, oH*Wq) += W_tap (O/g, C/g) x xq_tap (C/g, oH*Wq) with row stride Hq*Wq.
/// So a kH x kW conv is kH*kW sgemms with K = C/g reading the input in place (one padded copy, no 9x im2col
/// buffer); the columns ox >= oW of y_wide are discarded when the epilogue writes the output.
/// Used where C/g is large enough for sgemm to be efficient with K = C/g.

/// Padded, phase-split copy of one image's channels: x (C,H,W) -> xq (sH*sW, C, Hq, Wq); zero outside the input.
/// Phase planes of channel ch start at xq + phase*phaseStride + ch*channelStride (defaults: packed).
func phaseSplit(_ x: UnsafePointer<Float>, channels c: Int, h: Int, w: Int, _ p: Conv2dParameters,
                hq: Int, wq: Int, into xq: UnsafeMutablePointer<Float>,
                channelStride: Int? = nil, phaseStride: Int? = nil) {
    let cs = channelStride ?? hq * wq
    let ps = phaseStride ?? c * hq * wq
    let (sh, sw) = p.stride, (ph, pw) = p.padding
    Parallel.chunks(count: c, minChunk: Swift.max(1, 8192 / Swift.max(1, h * w))) { chans in
        for ch in chans {
            let src = x + ch * h * w
            for qy in 0..<sh {
                for qx in 0..<sw {
                    let dst = xq + (qy * sw + qx) * ps + ch * cs
                    let cols = validRange(count: wq, offset: qx - pw, stride: sw, limit: w)
                    for r in 0..<hq {
                        let iy = qy + sh * r - ph
                        copyPaddedRow(into: dst + r * wq, count: wq, valid: cols,
                                      from: iy >= 0 && iy < h ? src + iy * w + qx - pw : nil, stride: sw)
                    }
                }
            }
        }
    }
}

/// Stride-phase geometry of one conv call.
struct PhaseGeometry {
    let hq, wq: Int
    init(_ s: ConvShape, _ p: Conv2dParameters) {
        hq = (s.h + p.padding.h + p.paddingEnd.h + p.stride.h - 1) / p.stride.h
        wq = (s.w + p.padding.w + p.paddingEnd.w + p.stride.w - 1) / p.stride.w
    }
    /// Floats of the phase-split copy of C channels, plus slack for the wide rows' overrun past the last plane.
    func count(channels: Int, _ s: ConvShape, _ p: Conv2dParameters) -> Int {
        p.stride.h * p.stride.w * channels * hq * wq + wq + (s.kw - 1) * p.dilation.w + 16
    }
    /// Offset of tap (ki, kj) in xq: its phase plane (for channel 0) and its shift inside the plane.
    func tapOffset(ki: Int, kj: Int, channels: Int, _ p: Conv2dParameters, phaseStride: Int? = nil) -> Int {
        let (sh, sw) = p.stride, (dh, dw) = p.dilation
        let phase = ((ki * dh) % sh) * sw + (kj * dw) % sw
        return phase * (phaseStride ?? channels * hq * wq) + ((ki * dh) / sh) * wq + (kj * dw) / sw
    }
}

/// x (N,C,H,W), weight (O,C/g,kH,kW) -> out (N,O,oH,oW) with bias, residual and activation fused into the crop.
func shiftedGemmConv2d(_ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                       _ residual: UnsafePointer<Float>?, _ activation: Activation, _ s: ConvShape, _ p: Conv2dParameters,
                       _ out: UnsafeMutablePointer<Float>, tapWeights: UnsafePointer<Float>? = nil,
                       passFloats: Int = 8 << 20) {
    let geo = PhaseGeometry(s, p)
    let taps = s.kh * s.kw
    let (hq, wq, oh, ow) = (geo.hq, geo.wq, s.oh, s.ow)
    let planeQ = hq * wq
    let phases = p.stride.h * p.stride.w
    // Images of a pass are stacked as one tall image: channel ch holds its images' (Hq, Wq) planes back to back,
    // so each tap is one sgemm over all of them; wide rows that straddle two images are discarded like the
    // columns ox >= oW. Passes are sized so the wide output stays near `passFloats`.
    let perPass = Swift.max(1, Swift.min(s.n, passFloats / Swift.max(1, s.og * planeQ)))
    let channelStride = perPass * planeQ
    let phaseStride = s.c * channelStride
    let splitCount = phases * phaseStride
    let xqCount = splitCount + wq + (s.kw - 1) * p.dilation.w + 16
    let xq = UnsafeMutablePointer<Float>.allocate(capacity: xqCount)
    defer { xq.deallocate() }
    (xq + splitCount).update(repeating: 0, count: xqCount - splitCount)
    // Weights regrouped per tap (see `regroupTapWeights`), unless the caller prepared them once for the layer.
    let regrouped = UnsafeMutablePointer<Float>.allocate(capacity: tapWeights == nil ? taps * s.o * s.cg : 0)
    defer { regrouped.deallocate() }
    if tapWeights == nil { regroupTapWeights(weight, o: s.o, cg: s.cg, taps: taps, into: regrouped) }
    let wt = tapWeights ?? UnsafePointer(regrouped)
    let tmp = UnsafeMutablePointer<Float>.allocate(capacity: s.og * ((perPass - 1) * hq + oh) * wq)
    defer { tmp.deallocate() }
    var b0 = 0
    while b0 < s.n {
        let nb = Swift.min(perPass, s.n - b0)
        for i in 0..<nb {
            phaseSplit(x + (b0 + i) * s.c * s.h * s.w, channels: s.c, h: s.h, w: s.w, p, hq: hq, wq: wq,
                       into: xq + i * planeQ, channelStride: channelStride, phaseStride: phaseStride)
        }
        let wide = ((nb - 1) * hq + oh) * wq
        for gi in 0..<s.g {
            sgemmBatch((0..<taps).map { t in
                let off = geo.tapOffset(ki: t / s.kw, kj: t % s.kw, channels: s.c, p, phaseStride: phaseStride)
                return GemmCall(m: s.og, n: wide, k: s.cg,
                                a: wt + (t * s.o + gi * s.og) * s.cg, lda: s.cg,
                                b: xq + off + gi * s.cg * channelStride, ldb: channelStride,
                                beta: t == 0 ? 0 : 1,
                                c: tmp, ldc: wide)
            }, chained: true)
            // Crop the wide rows into the output, fusing bias, residual and activation.
            Parallel.chunks(count: nb * s.og, minChunk: Swift.max(1, 16384 / Swift.max(1, s.plane))) { items in
                for item in items {
                    let (i, oc) = (item / s.og, item % s.og)
                    let plane = ((b0 + i) * s.o + gi * s.og + oc) * oh * ow
                    let dst = out + plane
                    let src = tmp + oc * wide + i * hq * wq
                    let bv: Float = bias?[gi * s.og + oc] ?? 0
                    if let residual {
                        let r = residual + plane
                        for oy in 0..<oh {
                            let (d, sr, rr) = (dst + oy * ow, src + oy * wq, r + oy * ow)
                            for ox in 0..<ow { d[ox] = sr[ox] + bv + rr[ox] }
                        }
                    } else {
                        for oy in 0..<oh {
                            let (d, sr) = (dst + oy * ow, src + oy * wq)
                            for ox in 0..<ow { d[ox] = sr[ox] + bv }
                        }
                    }
                    applyActivation(activation, dst, count: oh * ow)
                }
            }
        }
        b0 += nb
    }
}

/// Weights regrouped per tap: weight (O, C/g, kH, kW) -> wt (kH*kW, O, C/g), so each tap's (O/g, C/g) block is a
/// matrix for sgemm. `PreparedConv2d` does this once per layer; plain `conv2d` on every call.
func regroupTapWeights(_ weight: UnsafePointer<Float>, o: Int, cg: Int, taps: Int, into wt: UnsafeMutablePointer<Float>) {
    Parallel.chunks(count: o, minChunk: 64) { ocs in
        for oc in ocs {
            // One output channel's (C/g, taps) block is small and stays in L1; write each tap's row contiguously.
            let block = weight + oc * cg * taps
            for t in 0..<taps {
                let dst = wt + (t * o + oc) * cg
                var src = block + t
                for ch in 0..<cg {
                    dst[ch] = src.pointee
                    src += taps
                }
            }
        }
    }
}

/// im2col from a phase-split copy: every (channel, tap, output row) is one contiguous run of oW floats.
/// xq (sH*sW, C/g, Hq, Wq) of one image and group -> rows `channels` of cols (C/g*kH*kW, oH*oW).
func im2colFromPhases(_ xq: UnsafePointer<Float>, channels: Range<Int>, groupChannels cg: Int, _ geo: PhaseGeometry,
                      _ s: ConvShape, _ p: Conv2dParameters, cols: UnsafeMutablePointer<Float>) {
    let planeQ = geo.hq * geo.wq
    for ch in channels {
        for ki in 0..<s.kh {
            for kj in 0..<s.kw {
                let src = xq + geo.tapOffset(ki: ki, kj: kj, channels: cg, p) + ch * planeQ
                let dst = cols + ((ch * s.kh + ki) * s.kw + kj) * s.plane
                for oy in 0..<s.oh {
                    (dst + oy * s.ow).update(from: src + oy * geo.wq, count: s.ow)
                }
            }
        }
    }
}
