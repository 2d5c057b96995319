import Foundation

/// Pillow's separable 8-bit resampling (libImaging/Resample.c: `precompute_coeffs`, `normalize_coeffs_8bpc`,
/// `ImagingResampleHorizontal_8bpc`, `ImagingResampleVertical_8bpc`), shared by BILINEAR (`resized`) and
/// LANCZOS (`resizedLanczos`).
///
/// Notation (Pillow's): for an input span `[in0, in1)` resampled to `outSize` pixels, `scale = (in1 - in0) / outSize`,
/// `filterscale = max(scale, 1)`, `support = filter.support * filterscale` (the filter widened when shrinking, the
/// antialiasing). Output pixel `xx` has centre `in0 + (xx + 0.5) * scale` and taps `xmin ..< xmin + count` weighted by
/// `filter((x + xmin - centre + 0.5) / filterscale)`, normalised to sum 1 and rounded to 22-bit fixed point.
/// Horizontal pass first (rounded and clipped to 8 bits), then vertical.
enum PILResampleFilter: Sendable {
    /// Triangle filter, support 1 (Pillow `BILINEAR`).
    case bilinear
    /// sinc(x) sinc(x / 3) on [-3, 3), support 3 (Pillow `LANCZOS`).
    case lanczos

    /// Half-width of the filter at scale 1.
    var support: Double {
        switch self {
        case .bilinear: return 1
        case .lanczos: return 3
        }
    }

    /// Pillow `bilinear_filter` / `lanczos_filter`.
    @inline(__always)
    func weight(_ x: Double) -> Double {
        switch self {
        case .bilinear:
            let t = abs(x)
            return t < 1.0 ? 1.0 - t : 0.0
        case .lanczos:
            func sinc(_ x: Double) -> Double { x == 0 ? 1 : sin(x * .pi) / (x * .pi) }
            return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0
        }
    }
}

extension Image {
    /// Pillow `Image.resize((width, height), filter, box)`: `box` is the source region `(x0, y0, x1, y1)` in
    /// (fractional) pixels, the whole image when nil. Without a box, the same size returns the image unchanged and an
    /// axis of unchanged length is not resampled, as Pillow does.
    func resampled(width newWidth: Int, height newHeight: Int, filter: PILResampleFilter,
                   box: (x0: Double, y0: Double, x1: Double, y1: Double)? = nil) -> Image {
        let b = box ?? (0, 0, Double(width), Double(height))
        if box == nil && newWidth == width && newHeight == height { return self }
        guard newWidth > 0, newHeight > 0, width > 0, height > 0 else {
            return Image(width: max(newWidth, 0), height: max(newHeight, 0), channels: channels,
                         pixels: [UInt8](repeating: 0, count: max(newWidth, 0) * max(newHeight, 0) * channels))
        }
        let needH = newWidth != width || b.x0 != 0 || b.x1 != Double(width)
        let needV = newHeight != height || b.y0 != 0 || b.y1 != Double(height)
        let h = PILResampleCoefficients(filter: filter, inSize: width, in0: b.x0, in1: b.x1, outSize: newWidth)
        let v = PILResampleCoefficients(filter: filter, inSize: height, in0: b.y0, in1: b.y1, outSize: newHeight)
        var current = self
        var vBounds = v.xmin
        if needH {
            // Only rows the vertical pass reads: [first, last).
            let first = v.xmin[0]
            let last = v.xmin[newHeight - 1] + v.count[newHeight - 1]
            current = current.resampledHorizontally(h, rows: first..<max(last, first))
            vBounds = v.xmin.map { $0 - first }
        }
        if needV {
            current = current.resampledVertically(v, xmin: vBounds)
        }
        return current
    }

    // x (H,W,C) -> (rows.count, outW, C)
    func resampledHorizontally(_ k: PILResampleCoefficients, rows: Range<Int>) -> Image {
        let c = channels, inW = width, outW = k.outSize, ksize = k.ksize
        let outH = rows.count
        let half: Int32 = 1 << (PILResampleCoefficients.precisionBits - 1)
        var out = [UInt8](repeating: 0, count: outH * outW * c)
        pixels.withUnsafeBufferPointer { srcBuf in
        out.withUnsafeMutableBufferPointer { dstBuf in
        k.weights.withUnsafeBufferPointer { kkBuf in
        k.xmin.withUnsafeBufferPointer { xminBuf in
        k.count.withUnsafeBufferPointer { countBuf in
            let src = srcBuf.baseAddress!, dst = dstBuf.baseAddress!, kk = kkBuf.baseAddress!
            for yy in 0..<outH {
                let srow = src + (rows.lowerBound + yy) * inW * c
                let drow = dst + yy * outW * c
                for xx in 0..<outW {
                    let n = countBuf[xx], w = kk + xx * ksize
                    var p = srow + xminBuf[xx] * c
                    if c == 3 {
                        var s0 = half, s1 = half, s2 = half
                        for x in 0..<n {
                            let wx = w[x]
                            s0 &+= Int32(p[0]) &* wx
                            s1 &+= Int32(p[1]) &* wx
                            s2 &+= Int32(p[2]) &* wx
                            p += 3
                        }
                        drow[xx * 3] = PILResampleCoefficients.clip8(s0)
                        drow[xx * 3 + 1] = PILResampleCoefficients.clip8(s1)
                        drow[xx * 3 + 2] = PILResampleCoefficients.clip8(s2)
                    } else {
                        for ch in 0..<c {
                            var ss = half
                            var q = p + ch
                            for x in 0..<n {
                                ss &+= Int32(q[0]) &* w[x]
                                q += c
                            }
                            drow[xx * c + ch] = PILResampleCoefficients.clip8(ss)
                        }
                    }
                }
            }
        }}}}}
        return Image(width: outW, height: outH, channels: c, pixels: out)
    }

    // x (H,W,C) -> (outH, W, C); xmin are row bounds relative to this image.
    func resampledVertically(_ k: PILResampleCoefficients, xmin: [Int]) -> Image {
        let c = channels, rowLen = width * channels, outH = k.outSize, ksize = k.ksize
        let half: Int32 = 1 << (PILResampleCoefficients.precisionBits - 1)
        var out = [UInt8](repeating: 0, count: outH * rowLen)
        var acc = [Int32](repeating: 0, count: rowLen)
        pixels.withUnsafeBufferPointer { srcBuf in
        out.withUnsafeMutableBufferPointer { dstBuf in
        acc.withUnsafeMutableBufferPointer { accBuf in
        k.weights.withUnsafeBufferPointer { kkBuf in
            let src = srcBuf.baseAddress!, dst = dstBuf.baseAddress!, ss = accBuf.baseAddress!
            for yy in 0..<outH {
                ss.update(repeating: half, count: rowLen)
                let ymin = xmin[yy], n = k.count[yy]
                for y in 0..<n {
                    let w = kkBuf[yy * ksize + y]
                    let srow = src + (ymin + y) * rowLen
                    for i in 0..<rowLen { ss[i] &+= Int32(srow[i]) &* w }
                }
                let drow = dst + yy * rowLen
                for i in 0..<rowLen { drow[i] = PILResampleCoefficients.clip8(ss[i]) }
            }
        }}}}
        return Image(width: width, height: outH, channels: c, pixels: out)
    }
}


/// Pillow `precompute_coeffs` + `normalize_coeffs_8bpc` for one axis and one filter.
struct PILResampleCoefficients {
    static let precisionBits = 32 - 8 - 2

    let outSize: Int
    let ksize: Int
    /// First input index of each output sample.
    let xmin: [Int]
    /// Number of taps of each output sample.
    let count: [Int]
    /// Fixed-point weights, `ksize` per output sample (zero-padded).
    let weights: [Int32]

    /// Coefficients resampling the input span `[in0, in1)` (default: the whole axis) of an `inSize` axis to `outSize`.
    init(filter: PILResampleFilter, inSize: Int, in0: Double = 0, in1: Double? = nil, outSize: Int) {
        let scale = ((in1 ?? Double(inSize)) - in0) / Double(outSize)
        let filterscale = max(scale, 1.0)
        let support = filter.support * filterscale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        let ss = 1.0 / filterscale
        let one = Double(1 << Self.precisionBits)
        var xmin = [Int](repeating: 0, count: outSize)
        var count = [Int](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * ksize)
        var k = [Double](repeating: 0, count: ksize)
        for xx in 0..<outSize {
            let centre = in0 + (Double(xx) + 0.5) * scale
            var lo = Int(centre - support + 0.5)  // C (int) truncates toward zero
            if lo < 0 { lo = 0 }
            var hi = Int(centre + support + 0.5)
            if hi > inSize { hi = inSize }
            let n = max(hi - lo, 0)
            var ww = 0.0
            for x in 0..<n {
                k[x] = filter.weight((Double(x + lo) - centre + 0.5) * ss)
                ww += k[x]
            }
            for x in 0..<n {
                let v = ww != 0 ? k[x] / ww : k[x]
                weights[xx * ksize + x] = Int32(v < 0 ? -0.5 + v * one : 0.5 + v * one)
            }
            xmin[xx] = lo
            count[xx] = n
        }
        self.outSize = outSize
        self.ksize = ksize
        self.xmin = xmin
        self.count = count
        self.weights = weights
    }

    /// `ss >> 22` clamped to 0...255 (Pillow `clip8`).
    @inline(__always)
    static func clip8(_ ss: Int32) -> UInt8 {
        let v = ss >> Int32(precisionBits)
        return v < 0 ? 0 : (v > 255 ? 255 : UInt8(v))
    }
}
