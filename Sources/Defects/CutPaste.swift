import Foundation
import ImageIO
import TensorCore

/// Pastes a real defect crop onto a good image: the crop is rotated and scaled about its centre (bilinear sampling),
/// its region mask, feathered by a small Gaussian blur, is the alpha, and the crop's colours may be shifted to the
/// target's local mean. In the spirit of CutPaste (Li et al., CVPR 2021), which pastes random patches of good images;
/// here the patches are real defects.
///
/// Geometry (continuous pixel coordinates, pixel (i, j) has centre (i + 0.5, j + 0.5)): the crop, `cw` x `ch`, has
/// centre c = (cw / 2, ch / 2); placed with top-left (x, y), its centre lands at o = (x + cw / 2, y + ch / 2). An
/// output point p reads the crop at q = c + R(-theta) (p - o) / s. At s = 1, theta = 0 this is q = p - (x, y): the
/// crop's pixels are copied exactly.
///
/// ```swift
/// let (crop, cropMask, _) = CutPaste.crop(defect: image, regions: map, region: map.regions[0], padding: 4)
/// let out = CutPaste.paste(crop: crop, cropMask: cropMask, onto: good, scale: 1, angleDegrees: 30, x: 40, y: 60,
///                          featherSigma: 1, matchColour: true, alphaThreshold: 0.05)
/// ```
public enum CutPaste {
    /// The region's bounding box grown by `padding` (clipped to the image), the defect image cropped to it, and the
    /// region's own mask (other regions left out) cropped the same way.
    public static func crop(defect: Image, regions: DefectRegionMap, region: DefectRegion,
                            padding: Int) -> (crop: Image, mask: Image, box: PixelBox) {
        let box = region.box.padded(by: padding, width: defect.width, height: defect.height)
        let crop = defect.cropped(x: box.x0, y: box.y0, width: box.width, height: box.height)
        let mask = regions.mask(of: region).cropped(x: box.x0, y: box.y0, width: box.width, height: box.height)
        return (crop, mask, box)
    }

    /// Half the width and height of the axis-aligned box around the crop rotated by `angleDegrees` and scaled.
    public static func halfExtent(width cw: Int, height ch: Int, scale: Double, angleDegrees: Double) -> (x: Double, y: Double) {
        let t = angleDegrees * Double.pi / 180
        let c = abs(cos(t)), s = abs(sin(t))
        return (scale * (c * Double(cw) + s * Double(ch)) / 2, scale * (s * Double(cw) + c * Double(ch)) / 2)
    }

    /// The result of a paste: the image, its 0/255 mask (exactly the pixels whose alpha is above the threshold; all
    /// other pixels equal the good image's), and the colour shift that was applied per channel.
    public struct Result: Sendable, Equatable {
        public var image: Image
        public var mask: Image
        public var colourShift: [Float]
    }

    /// Pastes `crop` (channels must equal `good`'s) with alpha = `cropMask` (1 channel, same size, > 127 = defect)
    /// feathered by `featherSigma`, scaled by `scale` and rotated by `angleDegrees` (counter-clockwise in image axes:
    /// x right, y down), the unrotated crop's top-left at (`x`, `y`).
    public static func paste(crop: Image, cropMask: Image, onto good: Image, scale: Double, angleDegrees: Double,
                             x: Int, y: Int, featherSigma: Double, matchColour: Bool, alphaThreshold: Double) -> Result {
        let W = good.width, H = good.height, C = good.channels
        let cw = crop.width, ch = crop.height
        // alphaSrc (ch, cw): region mask in [0, 1], feathered.
        var alphaSrc = cropMask.pixels.map { $0 > 127 ? Float(1) : 0 }
        if featherSigma > 0 && cw > 0 && ch > 0 {
            alphaSrc = gaussianBlur(Tensor(shape: [1, ch, cw], scalars: alphaSrc), sigma: featherSigma).scalars
        }
        let theta = angleDegrees * Double.pi / 180
        let cosT = cos(theta), sinT = sin(theta)
        let ccx = Double(cw) / 2, ccy = Double(ch) / 2
        let ox = Double(x) + ccx, oy = Double(y) + ccy
        // Output box: the rotated crop's extent around o, one pixel of margin, clipped.
        let (hx, hy) = halfExtent(width: cw, height: ch, scale: scale, angleDegrees: angleDegrees)
        let bx0 = max(0, Int((ox - hx).rounded(.down)) - 1), bx1 = min(W, Int((ox + hx).rounded(.up)) + 1)
        let by0 = max(0, Int((oy - hy).rounded(.down)) - 1), by1 = min(H, Int((oy + hy).rounded(.up)) + 1)
        let bw = max(0, bx1 - bx0), bh = max(0, by1 - by0)
        // alpha (bh, bw) and colour (bh, bw, C) of the transformed crop over the output box.
        var alpha = [Float](repeating: 0, count: bw * bh)
        var colour = [Float](repeating: 0, count: bw * bh * C)
        for py in by0..<(by0 + bh) {
            for px in bx0..<(bx0 + bw) {
                let dx = Double(px) + 0.5 - ox, dy = Double(py) + 0.5 - oy
                let fx = ccx + (cosT * dx + sinT * dy) / scale - 0.5
                let fy = ccy + (-sinT * dx + cosT * dy) / scale - 0.5
                let x0 = Int(fx.rounded(.down)), y0 = Int(fy.rounded(.down))
                if x0 < -1 || y0 < -1 || x0 >= cw || y0 >= ch { continue }
                let tx = Float(fx - Double(x0)), ty = Float(fy - Double(y0))
                let weights: [(Int, Int, Float)] = [(x0, y0, (1 - tx) * (1 - ty)), (x0 + 1, y0, tx * (1 - ty)),
                                                    (x0, y0 + 1, (1 - tx) * ty), (x0 + 1, y0 + 1, tx * ty)]
                var a: Float = 0
                let o = (py - by0) * bw + (px - bx0)
                for (ix, iy, w) in weights where w != 0 {
                    // alpha: zero outside the crop; colour: edge-clamped.
                    if ix >= 0 && ix < cw && iy >= 0 && iy < ch { a += w * alphaSrc[iy * cw + ix] }
                    let sx = min(max(ix, 0), cw - 1), sy = min(max(iy, 0), ch - 1)
                    for c in 0..<C { colour[o * C + c] += w * Float(crop.pixels[(sy * cw + sx) * C + c]) }
                }
                alpha[o] = a
            }
        }
        let threshold = Float(alphaThreshold)
        // Colour shift: mean of the good image under the paste minus mean of the crop's context (outside its mask).
        var shift = [Float](repeating: 0, count: C)
        if matchColour {
            var target = [Double](repeating: 0, count: C), context = [Double](repeating: 0, count: C)
            var nt = 0, nc = 0
            for i in 0..<(bw * bh) where alpha[i] > threshold {
                let gx = bx0 + i % bw, gy = by0 + i / bw
                for c in 0..<C { target[c] += Double(good.pixels[(gy * W + gx) * C + c]) }
                nt += 1
            }
            for i in 0..<(cw * ch) where cropMask.pixels[i] <= 127 {
                for c in 0..<C { context[c] += Double(crop.pixels[i * C + c]) }
                nc += 1
            }
            if nt > 0 && nc > 0 {
                for c in 0..<C { shift[c] = Float(target[c] / Double(nt) - context[c] / Double(nc)) }
            }
        }
        var pixels = good.pixels
        var mask = [UInt8](repeating: 0, count: W * H)
        for i in 0..<(bw * bh) where alpha[i] > threshold {
            let a = min(alpha[i], 1)
            let g = (by0 + i / bw) * W + (bx0 + i % bw)
            for c in 0..<C {
                let pasted = min(max(colour[i * C + c] + shift[c], 0), 255)
                let v = Float(good.pixels[g * C + c]) * (1 - a) + pasted * a
                pixels[g * C + c] = UInt8(min(max(v.rounded(), 0), 255))
            }
            mask[g] = 255
        }
        return Result(image: Image(width: W, height: H, channels: C, pixels: pixels),
                      mask: Image(width: W, height: H, channels: 1, pixels: mask), colourShift: shift)
    }
}
