/// Side-by-side composites for anomalib-style figures: original | overlay | predicted region | ground truth.
extension Heatmap {
    /// RGB image of `panels` left to right, `gap` pixels of `background` between them (negative = 0).
    /// Panels whose height differs from the first one's are resized to that height keeping their aspect
    /// ratio (PIL-exact bilinear, `Image.resized(width:height:)`); gray and RGBA panels become RGB.
    /// The width is the sum of the (resized) panel widths plus `gap * (panels.count - 1)`.
    ///
    /// ```swift
    /// let figure = Heatmap.strip([crop, overlay, predicted, groundTruth])
    /// try ImageFile.writePNG(Heatmap.annotate(figure, scale: scale, lines: ["score 3.21 >= 2.90 ANOMALOUS"]), to: url)
    /// ```
    public static func strip(_ panels: [Image], gap: Int = 4,
                             background: (r: UInt8, g: UInt8, b: UInt8) = Heatmap.bandBackground) -> Image {
        guard let first = panels.first else { return Image(width: 0, height: 0, channels: 3, pixels: []) }
        let h = first.height
        let g = max(gap, 0)
        let fitted: [Image] = panels.map { panel in
            let rgb = panel.toRGB()
            guard rgb.height != h else { return rgb }
            let w = rgb.height == 0 ? 0 : Int((Double(rgb.width) * Double(h) / Double(rgb.height)).rounded())
            return rgb.resized(width: w, height: h)
        }
        let width = fitted.reduce(0) { $0 + $1.width } + g * (fitted.count - 1)
        var out = [UInt8](repeating: 0, count: width * h * 3)
        for i in 0..<(width * h) {
            out[3 * i] = background.r; out[3 * i + 1] = background.g; out[3 * i + 2] = background.b
        }
        var left = 0
        for panel in fitted {
            let rowBytes = panel.width * 3
            for y in 0..<h where rowBytes > 0 {
                let dst = (y * width + left) * 3, src = y * rowBytes
                out.replaceSubrange(dst..<(dst + rowBytes), with: panel.pixels[src..<(src + rowBytes)])
            }
            left += panel.width + g
        }
        return Image(width: width, height: h, channels: 3, pixels: out)
    }
}
