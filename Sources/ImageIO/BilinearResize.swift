/// Antialiased bilinear resize, a port of Pillow's `Image.resize(size, BILINEAR)` (libImaging/Resample.c)
/// for 8-bit images, which is what torchvision `Resize` runs on PIL images.
///
/// Notation (Pillow's): `scale` = in/out, `filterscale = max(scale, 1)`, `support = 1 * filterscale`
/// (triangle filter widened when shrinking, the antialiasing). Output pixel `xx` has centre
/// `(xx + 0.5) * scale` and taps `xmin ..< xmin + xmax` with weights `tri((x + xmin - centre + 0.5) / filterscale)`,
/// normalised to sum 1, then rounded to 22-bit fixed point. Horizontal pass first (rounded and clipped
/// to 8 bits), then vertical.
extension Image {
    /// Resized copy, pixel-exact with PIL BILINEAR (and so torchvision `Resize` on PIL images) for
    /// gray and RGB. RGBA is resampled per channel without PIL's alpha premultiplication: call `toRGB()`
    /// first for parity. A zero or negative target size gives an empty image.
    ///
    /// ```swift
    /// let small = image.resized(width: 256, height: 256)
    /// ```
    public func resized(width newWidth: Int, height newHeight: Int) -> Image {
        if newWidth == width && newHeight == height { return self }
        if newWidth <= 0 || newHeight <= 0 || width == 0 || height == 0 {
            return Image(width: max(newWidth, 0), height: max(newHeight, 0), channels: channels,
                         pixels: [UInt8](repeating: 0, count: max(newWidth, 0) * max(newHeight, 0) * channels))
        }
        let h = PILResampleCoefficients(inSize: width, outSize: newWidth)
        let v = PILResampleCoefficients(inSize: height, outSize: newHeight)
        var current = self
        var rowOffset = 0
        var vBounds = v.xmin
        if newWidth != width {
            // Only rows the vertical pass reads: [first, last).
            let first = v.xmin[0]
            let last = v.xmin[newHeight - 1] + v.count[newHeight - 1]
            current = current.resampledHorizontally(h, rows: first..<last)
            rowOffset = first
            vBounds = v.xmin.map { $0 - rowOffset }
        }
        if newHeight != height {
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

/// Pillow `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear (triangle) filter along one axis.
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
    /// The same weights before rounding (normalised doubles), for the reference implementation.
    let exactWeights: [Double]

    init(inSize: Int, outSize: Int) {
        let scale = Double(inSize) / Double(outSize)
        let filterscale = max(scale, 1.0)
        let support = 1.0 * filterscale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var xmin = [Int](repeating: 0, count: outSize)
        var count = [Int](repeating: 0, count: outSize)
        var kk = [Double](repeating: 0, count: outSize * ksize)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1.0 / filterscale
            var lo = Int(center - support + 0.5)  // C (int) truncates toward zero
            if lo < 0 { lo = 0 }
            var hi = Int(center + support + 0.5)
            if hi > inSize { hi = inSize }
            let n = hi - lo
            var ww = 0.0
            for x in 0..<max(n, 0) {
                let t = abs((Double(x + lo) - center + 0.5) * ss)
                let w = t < 1.0 ? 1.0 - t : 0.0
                kk[xx * ksize + x] = w
                ww += w
            }
            if ww != 0 { for x in 0..<max(n, 0) { kk[xx * ksize + x] /= ww } }
            xmin[xx] = lo
            count[xx] = max(n, 0)
        }
        let one = Double(1 << Self.precisionBits)
        self.outSize = outSize
        self.ksize = ksize
        self.xmin = xmin
        self.count = count
        self.exactWeights = kk
        self.weights = kk.map { $0 < 0 ? Int32(-0.5 + $0 * one) : Int32(0.5 + $0 * one) }
    }

    /// `ss >> 22` clamped to 0...255 (Pillow `clip8`).
    @inline(__always)
    static func clip8(_ ss: Int32) -> UInt8 {
        let v = ss >> Int32(precisionBits)
        return v < 0 ? 0 : (v > 255 ? 255 : UInt8(v))
    }
}
