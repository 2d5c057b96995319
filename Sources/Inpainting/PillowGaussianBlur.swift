import Foundation
import ImageIO

/// Pillow's `ImageFilter.GaussianBlur(radius)` on 8-bit gray images (libImaging/BoxBlur.c), which diffusers'
/// `VaeImageProcessor.blur(mask, blur_factor)` applies to soften inpainting masks.
///
/// Notation (Pillow's, after Gwosdek et al. 2011, "Theoretical foundations of Gaussian convolution by extended box
/// filtering"): three passes of an extended box filter of fractional radius `r = l + a`, where `l` is the integer box
/// radius and `a` the weight of the two taps just outside it, chosen so the three passes have variance
/// `radius^2`. Each pass runs along rows with 24-bit fixed-point weights `ww` (inner taps) and `fw` (outer taps),
/// edges replicated; the vertical passes run on the transposed image.
enum PillowGaussianBlur {
    /// `_gaussian_blur_radius(radius, passes)` in C float arithmetic.
    static func boxRadius(_ radius: Float, passes: Int) -> Float {
        let sigma2: Float = radius * radius / Float(passes)
        let L = Float((12.0 * Double(sigma2) + 1.0).squareRoot())
        let l = Float(floor((Double(L) - 1.0) / 2.0))
        var a: Float = (2 * l + 1) * (l * (l + 1) - 3 * sigma2)
        a /= 6 * (sigma2 - (l + 1) * (l + 1))
        return l + a
    }

    /// One extended box pass along every row of `x` (rows of `width`), in place.
    static func horizontalPass(_ x: inout [UInt8], width: Int, height: Int, radius floatRadius: Float) {
        let radius = Int(floatRadius)
        let ww = UInt32(Float(1 << 24) / (floatRadius * 2 + 1))
        let fw = (UInt32(1 << 24) &- UInt32(radius * 2 + 1) &* ww) / 2
        let edgeA = min(radius + 1, width), edgeB = max(width - radius - 1, 0)
        let lastx = width - 1
        var line = [UInt8](repeating: 0, count: width)
        for y in 0..<height {
            let base = y * width
            @inline(__always) func px(_ i: Int) -> UInt32 { UInt32(x[base + i]) }
            var acc = px(0) &* UInt32(radius + 1)
            if edgeA > 1 { for i in 0..<(edgeA - 1) { acc &+= px(i) } }
            acc &+= px(lastx) &* UInt32(radius - edgeA + 1)
            func emit(_ i: Int, sub: Int, add: Int, left: Int, right: Int) {
                acc = acc &+ px(add) &- px(sub)
                let bulk = acc &* ww &+ (px(left) &+ px(right)) &* fw
                line[i] = UInt8(truncatingIfNeeded: (bulk &+ (1 << 23)) >> 24)
            }
            if edgeA <= edgeB {
                for i in 0..<edgeA { emit(i, sub: 0, add: i + radius, left: 0, right: i + radius + 1) }
                for i in edgeA..<edgeB {
                    emit(i, sub: i - radius - 1, add: i + radius, left: i - radius - 1, right: i + radius + 1)
                }
                for i in edgeB...lastx { emit(i, sub: i - radius - 1, add: lastx, left: i - radius - 1, right: lastx) }
            } else {
                for i in 0..<edgeB { emit(i, sub: 0, add: i + radius, left: 0, right: i + radius + 1) }
                for i in edgeB..<edgeA { emit(i, sub: 0, add: lastx, left: 0, right: lastx) }
                if edgeA <= lastx {
                    for i in edgeA...lastx { emit(i, sub: i - radius - 1, add: lastx, left: i - radius - 1, right: lastx) }
                }
            }
            for i in 0..<width { x[base + i] = line[i] }
        }
    }

    static func transposed(_ x: [UInt8], width: Int, height: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: x.count)
        for y in 0..<height { for i in 0..<width { out[i * height + y] = x[y * width + i] } }
        return out
    }

    /// The blurred gray image.
    static func blur(_ image: Image, radius: Double, passes: Int = 3) -> Image {
        let g = image.channels == 1 ? image : image.toGray()
        let r = boxRadius(Float(radius), passes: passes)
        guard r != 0, g.width > 0, g.height > 0 else { return g }
        var px = g.pixels
        for _ in 0..<passes { horizontalPass(&px, width: g.width, height: g.height, radius: r) }
        var t = transposed(px, width: g.width, height: g.height)
        for _ in 0..<passes { horizontalPass(&t, width: g.height, height: g.width, radius: r) }
        px = transposed(t, width: g.height, height: g.width)
        return Image(width: g.width, height: g.height, channels: 1, pixels: px)
    }
}
