import Foundation
import ImageIO

/// Pillow's 8-bit LANCZOS resample (libImaging/Resample.c), the `resample="lanczos"` of diffusers'
/// `VaeImageProcessor`, which prepares SD / SDXL inpainting images and masks.
///
/// Notation (Pillow's): for an input span `[in0, in1)` resampled to `outSize` pixels, `scale = (in1 - in0) / outSize`,
/// `filterscale = max(scale, 1)`, `support = 3 * filterscale`. Output pixel `xx` has centre `in0 + (xx + 0.5) * scale`
/// and taps `xmin ..< xmin + count` weighted by `lanczos((x + xmin - centre + 0.5) / filterscale)`, normalised to sum
/// 1 and rounded to 22-bit fixed point. Horizontal pass first (rounded and clipped to 8 bits), then vertical.
struct LanczosCoefficients {
    static let precisionBits = 32 - 8 - 2
    let outSize: Int
    let ksize: Int
    var xmin: [Int]
    var count: [Int]
    var weights: [Int32]  // outSize * ksize

    static func lanczos(_ x: Double) -> Double {
        func sinc(_ x: Double) -> Double { x == 0 ? 1 : sin(x * .pi) / (x * .pi) }
        return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0
    }

    init(inSize: Int, in0: Double, in1: Double, outSize: Int) {
        let scale = (in1 - in0) / Double(outSize)
        let filterscale = max(scale, 1)
        let support = 3.0 * filterscale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        self.outSize = outSize
        self.ksize = ksize
        xmin = [Int](repeating: 0, count: outSize)
        count = [Int](repeating: 0, count: outSize)
        weights = [Int32](repeating: 0, count: outSize * ksize)
        var k = [Double](repeating: 0, count: ksize)
        let ss = 1.0 / filterscale
        for xx in 0..<outSize {
            let centre = in0 + (Double(xx) + 0.5) * scale
            var lo = Int(centre - support + 0.5)  // C (int): truncation toward zero
            if lo < 0 { lo = 0 }
            var hi = Int(centre + support + 0.5)
            if hi > inSize { hi = inSize }
            let n = max(hi - lo, 0)
            var ww = 0.0
            for x in 0..<n {
                k[x] = Self.lanczos((Double(x + lo) - centre + 0.5) * ss)
                ww += k[x]
            }
            let one = Double(1 << Self.precisionBits)
            for x in 0..<n {
                let v = ww != 0 ? k[x] / ww : k[x]
                weights[xx * ksize + x] = Int32(v < 0 ? -0.5 + v * one : 0.5 + v * one)
            }
            xmin[xx] = lo
            count[xx] = n
        }
    }

    @inline(__always) static func clip8(_ v: Int32) -> UInt8 {
        let s = v >> Int32(precisionBits)
        return s < 0 ? 0 : (s > 255 ? 255 : UInt8(s))
    }
}

extension Image {
    /// Pillow `Image.resize((width, height), LANCZOS, box)` for gray and RGB 8-bit images, pixel-exact.
    /// `box` is the source region `(x0, y0, x1, y1)` in (fractional) pixels, the whole image when nil.
    /// The same size without a box returns the image unchanged, as Pillow does.
    ///
    /// ```swift
    /// let small = image.resizedLanczos(width: 512, height: 512)
    /// ```
    public func resizedLanczos(width newWidth: Int, height newHeight: Int,
                               box: (x0: Double, y0: Double, x1: Double, y1: Double)? = nil) -> Image {
        let b = box ?? (0, 0, Double(width), Double(height))
        if box == nil && newWidth == width && newHeight == height { return self }
        guard newWidth > 0, newHeight > 0, width > 0, height > 0 else {
            return Image(width: max(newWidth, 0), height: max(newHeight, 0), channels: channels,
                         pixels: [UInt8](repeating: 0, count: max(newWidth, 0) * max(newHeight, 0) * channels))
        }
        let needH = newWidth != width || b.x0 != 0 || b.x1 != Double(width)
        let needV = newHeight != height || b.y0 != 0 || b.y1 != Double(height)
        let h = LanczosCoefficients(inSize: width, in0: b.x0, in1: b.x1, outSize: newWidth)
        var v = LanczosCoefficients(inSize: height, in0: b.y0, in1: b.y1, outSize: newHeight)
        var current = self
        if needH {
            // Only the rows the vertical pass reads.
            let first = v.xmin[0]
            let last = v.xmin[newHeight - 1] + v.count[newHeight - 1]
            current = current.lanczosHorizontal(h, rows: first..<max(last, first))
            v.xmin = v.xmin.map { $0 - first }
        }
        if needV { current = current.lanczosVertical(v) }
        return current
    }

    // x (H,W,C) -> (rows.count, outW, C)
    func lanczosHorizontal(_ k: LanczosCoefficients, rows: Range<Int>) -> Image {
        let c = channels, inW = width, outW = k.outSize
        let half: Int32 = 1 << Int32(LanczosCoefficients.precisionBits - 1)
        var out = [UInt8](repeating: 0, count: rows.count * outW * c)
        pixels.withUnsafeBufferPointer { src in
            for (yy, y) in rows.enumerated() {
                for xx in 0..<outW {
                    let n = k.count[xx], x0 = k.xmin[xx], wBase = xx * k.ksize
                    for ch in 0..<c {
                        var ss = half
                        for x in 0..<n {
                            ss &+= Int32(src[(y * inW + x0 + x) * c + ch]) &* k.weights[wBase + x]
                        }
                        out[(yy * outW + xx) * c + ch] = LanczosCoefficients.clip8(ss)
                    }
                }
            }
        }
        return Image(width: outW, height: rows.count, channels: c, pixels: out)
    }

    // x (H,W,C) -> (outH, W, C)
    func lanczosVertical(_ k: LanczosCoefficients) -> Image {
        let c = channels, w = width, outH = k.outSize
        let half: Int32 = 1 << Int32(LanczosCoefficients.precisionBits - 1)
        var out = [UInt8](repeating: 0, count: outH * w * c)
        pixels.withUnsafeBufferPointer { src in
            for yy in 0..<outH {
                let n = k.count[yy], y0 = k.xmin[yy], wBase = yy * k.ksize
                for i in 0..<(w * c) {
                    var ss = half
                    for y in 0..<n { ss &+= Int32(src[(y0 + y) * w * c + i]) &* k.weights[wBase + y] }
                    out[yy * w * c + i] = LanczosCoefficients.clip8(ss)
                }
            }
        }
        return Image(width: w, height: outH, channels: c, pixels: out)
    }
}
