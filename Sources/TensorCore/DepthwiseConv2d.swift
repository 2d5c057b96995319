/// Direct depthwise convolution (groups == C, one input channel per group), the MobileNet/EfficientNet case.
///
/// Each (image, output channel) plane is independent, so planes are split across `Parallel.workers`.
/// Per plane the input is copied once into a zero-padded scratch whose columns are split into `strideW` phases
/// (phase q holds padded columns q, q+sW, q+2sW, ...), so every tap of every stride/dilation reads a contiguous
/// run: padded column ox*sW + kj*dW lives in phase (kj*dW) % sW at index ox + (kj*dW) / sW.
/// The inner loops then run over SIMD8 lanes; 3x3 kernels sum all nine taps in registers with one store.

/// x (N,C,H,W), weight (O,1,kH,kW) with O = C*m, bias (O)? , residual (N,O,oH,oW)? -> out (N,O,oH,oW);
/// output channel oc reads input channel oc / m.
func depthwiseConv2d(_ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                     _ residual: UnsafePointer<Float>?, _ activation: Activation, _ s: ConvShape, _ p: Conv2dParameters,
                     _ out: UnsafeMutablePointer<Float>) {
    let (h, w, oh, ow, kh, kw) = (s.h, s.w, s.oh, s.ow, s.kh, s.kw)
    let (sh, sw) = p.stride, (ph, pw) = p.padding, (dh, dw) = p.dilation
    let m = s.o / s.c
    let rows = (oh - 1) * sh + (kh - 1) * dh + 1          // padded rows read
    let span = (ow - 1) * sw + (kw - 1) * dw + 1          // padded columns read
    let phaseLength = (span + sw - 1) / sw
    let rowStride = sw * phaseLength                       // scratch floats per padded row
    // Scratch offset of tap (ki, kj) relative to the first padded row of output row oy.
    var tapOffsets = [Int]()
    for ki in 0..<kh {
        for kj in 0..<kw {
            tapOffsets.append(ki * dh * rowStride + ((kj * dw) % sw) * phaseLength + (kj * dw) / sw)
        }
    }
    // Per phase: the valid run of scratch indices and the input column of index 0.
    let phases = (0..<sw).map { q in (valid: validRange(count: phaseLength, offset: q - pw, stride: sw, limit: w), first: q - pw) }
    let work = s.n * s.o
    let planeCost = oh * ow * kh * kw
    tapOffsets.withUnsafeBufferPointer { taps in
        Parallel.chunks(count: work, minChunk: Swift.max(1, 32768 / Swift.max(planeCost, 1))) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: rows * rowStride)
            scratch.initialize(repeating: 0, count: rows * rowStride)
            defer { scratch.deallocate() }
            // Stride 1: output pixel (oy, ox) reads scratch[oy*rowStride + ox + tap], linear in the "wide" index
            // oy*rowStride + ox, so a 3x3 plane is one long vector loop (no short-row tails) and a crop.
            let wideRun = sh == 1 && kh == 3 && kw == 3 && ow % 8 != 0
            let wideCount = (oh - 1) * rowStride + ow
            let wideBuf = UnsafeMutablePointer<Float>.allocate(capacity: wideRun ? wideCount : 0)
            defer { wideBuf.deallocate() }
            var loaded = -1
            for t in range {
                let b = t / s.o, oc = t % s.o
                let plane = b * s.c + oc / m
                if plane != loaded {
                    // Fill the phase-split padded scratch from x[b, oc/m]. The padding cells are the same for
                    // every plane and were zeroed once below, so only the input rows and columns are copied.
                    let xin = x + plane * h * w
                    let firstRow = Swift.min(ph, rows)
                    for r in firstRow..<Swift.max(firstRow, Swift.min(rows, h + ph)) {
                        let iy = r - ph
                        for (q, ph_) in phases.enumerated() where !ph_.valid.isEmpty {
                            let d = scratch + r * rowStride + q * phaseLength
                            let v = ph_.valid
                            let src = xin + iy * w + ph_.first
                            if sw == 1 {
                                (d + v.lowerBound).update(from: src + v.lowerBound, count: v.count)
                            } else {
                                copyStrided(d + v.lowerBound, src + v.lowerBound * sw, count: v.count, stride: sw)
                            }
                        }
                    }
                    loaded = plane
                }
                let wk = weight + oc * kh * kw
                let b0: Float = bias?[oc] ?? 0
                let o = out + t * oh * ow
                if wideRun {
                    depthwiseRows3x3(scratch, taps.baseAddress!, wk, b0, wideBuf, oh: 1, ow: wideCount, rowStep: 0)
                    for oy in 0..<oh { (o + oy * ow).update(from: wideBuf + oy * rowStride, count: ow) }
                } else if kh == 3 && kw == 3 {
                    depthwiseRows3x3(scratch, taps.baseAddress!, wk, b0, o, oh: oh, ow: ow, rowStep: sh * rowStride)
                } else {
                    depthwiseRowsGeneric(scratch, taps, wk, b0, o, oh: oh, ow: ow, rowStep: sh * rowStride)
                }
                let res = residual.map { $0 + t * oh * ow }
                if res != nil || activation != .none {
                    if let res { for i in 0..<(oh * ow) { o[i] += res[i] } }
                    applyActivation(activation, o, count: oh * ow)
                }
            }
        }
    }
}

@inline(__always)
func loadSIMD8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func storeSIMD8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// 3x3 taps summed in registers: o[oy, ox] = bias + sum_k w[k] * scratch[oy*rowStep + taps[k] + ox].
@inline(__always)
func depthwiseRows3x3(_ scratch: UnsafePointer<Float>, _ taps: UnsafePointer<Int>, _ wk: UnsafePointer<Float>, _ bias: Float,
                      _ out: UnsafeMutablePointer<Float>, oh: Int, ow: Int, rowStep: Int) {
    let (w0, w1, w2, w3, w4, w5, w6, w7, w8) = (wk[0], wk[1], wk[2], wk[3], wk[4], wk[5], wk[6], wk[7], wk[8])
    let v0 = SIMD8(repeating: w0), v1 = SIMD8(repeating: w1), v2 = SIMD8(repeating: w2)
    let v3 = SIMD8(repeating: w3), v4 = SIMD8(repeating: w4), v5 = SIMD8(repeating: w5)
    let v6 = SIMD8(repeating: w6), v7 = SIMD8(repeating: w7), v8 = SIMD8(repeating: w8)
    let vb = SIMD8<Float>(repeating: bias)
    for oy in 0..<oh {
        let base = scratch + oy * rowStep
        let a0 = base + taps[0], a1 = base + taps[1], a2 = base + taps[2]
        let a3 = base + taps[3], a4 = base + taps[4], a5 = base + taps[5]
        let a6 = base + taps[6], a7 = base + taps[7], a8 = base + taps[8]
        let o = out + oy * ow
        var ox = 0
        while ox + 8 <= ow {
            var acc = vb + v0 * loadSIMD8(a0 + ox)
            acc += v1 * loadSIMD8(a1 + ox)
            acc += v2 * loadSIMD8(a2 + ox)
            acc += v3 * loadSIMD8(a3 + ox)
            acc += v4 * loadSIMD8(a4 + ox)
            acc += v5 * loadSIMD8(a5 + ox)
            acc += v6 * loadSIMD8(a6 + ox)
            acc += v7 * loadSIMD8(a7 + ox)
            acc += v8 * loadSIMD8(a8 + ox)
            storeSIMD8(acc, o + ox)
            ox += 8
        }
        while ox < ow {
            var acc = bias + w0 * a0[ox]
            acc += w1 * a1[ox]; acc += w2 * a2[ox]; acc += w3 * a3[ox]
            acc += w4 * a4[ox]; acc += w5 * a5[ox]; acc += w6 * a6[ox]
            acc += w7 * a7[ox]; acc += w8 * a8[ox]
            o[ox] = acc
            ox += 1
        }
    }
}

/// Any kernel size: one accumulation pass per tap over each output row.
@inline(__always)
func depthwiseRowsGeneric(_ scratch: UnsafePointer<Float>, _ taps: UnsafeBufferPointer<Int>, _ wk: UnsafePointer<Float>, _ bias: Float,
                          _ out: UnsafeMutablePointer<Float>, oh: Int, ow: Int, rowStep: Int) {
    for oy in 0..<oh {
        let base = scratch + oy * rowStep
        let o = out + oy * ow
        o.update(repeating: bias, count: ow)
        for (k, off) in taps.enumerated() {
            let a = base + off
            let wv = wk[k], vv = SIMD8(repeating: wv)
            var ox = 0
            while ox + 8 <= ow {
                storeSIMD8(loadSIMD8(o + ox) + vv * loadSIMD8(a + ox), o + ox)
                ox += 8
            }
            while ox < ow { o[ox] += wv * a[ox]; ox += 1 }
        }
    }
}
