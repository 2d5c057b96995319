import Foundation
import TensorCore

/// Anomaly-map visualisation: matplotlib's 'jet' colormap and an alpha-blended overlay.
///
/// For figures people read and compare, prefer the `HeatmapScale` overlay (transparent where the map is
/// low, decision red at the threshold) with `outline`, `annotate`, `strip` and `project` beside it.
///
/// ```swift
/// let overlay = try Heatmap.overlay(map, on: crop, min: 0, max: 3, alpha: 0.5)   // map (224,224)
/// try ImageFile.writePNG(overlay, to: URL(fileURLWithPath: "overlay.png"))
/// ```
public enum Heatmap {
    /// matplotlib `_jet_data` (x, value) breakpoints per channel: dark blue -> cyan -> yellow -> dark red.
    static let jetSegments: [[(Double, Double)]] = [
        [(0, 0), (0.35, 0), (0.66, 1), (0.89, 1), (1, 0.5)],              // red
        [(0, 0), (0.125, 0), (0.375, 1), (0.64, 1), (0.91, 0), (1, 0)],   // green
        [(0, 0.5), (0.11, 1), (0.34, 1), (0.65, 0), (1, 0)],              // blue
    ]

    /// 256-entry RGB table, as matplotlib builds it: entry i samples the segments at i/255 and
    /// converts to bytes by truncating `value * 255`.
    public static let jetTable: [(r: UInt8, g: UInt8, b: UInt8)] = (0..<256).map { i in
        let x = Double(i) / 255
        func channel(_ seg: [(Double, Double)]) -> UInt8 {
            var k = 1
            while k < seg.count - 1 && seg[k].0 < x { k += 1 }
            let (x0, y0) = seg[k - 1], (x1, y1) = seg[k]
            let t = x1 > x0 ? (x - x0) / (x1 - x0) : 0
            return UInt8(min(max(y0 + (y1 - y0) * t, 0), 1) * 255)
        }
        return (channel(jetSegments[0]), channel(jetSegments[1]), channel(jetSegments[2]))
    }

    /// Jet colour of `t` in [0, 1] (clamped; NaN -> 0), matplotlib lookup `int(t * 256)` capped at 255.
    @inline(__always)
    public static func jet(_ t: Float) -> (r: UInt8, g: UInt8, b: UInt8) {
        let u = t.isNaN ? 0 : min(max(t, 0), 1)
        return jetTable[min(Int(u * 256), 255)]
    }

    /// RGB image of a map (H,W) coloured with jet after normalising `min...max` to [0, 1].
    public static func colorize(_ map: Tensor, min lo: Float, max hi: Float) throws -> Image {
        let (h, w) = try Image.planeSize(map, what: "heatmap")
        var out = [UInt8](repeating: 0, count: h * w * 3)
        for i in 0..<(h * w) {
            let c = jet(Image.normalized(map.scalars[i], lo, hi))
            out[3 * i] = c.r; out[3 * i + 1] = c.g; out[3 * i + 2] = c.b
        }
        return Image(width: w, height: h, channels: 3, pixels: out)
    }

    /// `round((1 - alpha) * image + alpha * jet(map))` per channel; the map must match the image size.
    public static func overlay(_ map: Tensor, on image: Image, min lo: Float, max hi: Float,
                               alpha: Float = 0.5) throws -> Image {
        let (h, w) = try Image.planeSize(map, what: "heatmap")
        guard h == image.height, w == image.width else {
            throw ImageError.shapeMismatch(what: "heatmap", expected: "(\(image.height),\(image.width)) like the image",
                                           actual: "\(map.shape)")
        }
        let colors = try colorize(map, min: lo, max: hi)
        let rgb = image.toRGB()
        let a = min(max(alpha.isNaN ? 0 : alpha, 0), 1)
        let out = zip(rgb.pixels, colors.pixels).map { base, color in
            UInt8(((1 - a) * Float(base) + a * Float(color)).rounded())
        }
        return Image(width: w, height: h, channels: 3, pixels: out)
    }

    /// `overlay` written as a PNG (atomically).
    public static func writeOverlay(_ map: Tensor, on image: Image, min lo: Float, max hi: Float,
                                    alpha: Float = 0.5, to url: URL) throws {
        try ImageFile.writePNG(try overlay(map, on: image, min: lo, max: hi, alpha: alpha), to: url)
    }
}
