/// A legend band for heatmap panels: the scale's colour bar with tick labels, then lines of text.
///
/// Layout at text scale `s` (pixels): margin `2s`; a bar `5s` high from the left to the right margin,
/// its first 85% the ramp from `low` to `threshold` and the rest `thresholdColour`; ticks under `low`
/// (the bar's left end) and `threshold` (where red starts) with their values; then each text line,
/// wrapped to the width.
extension Heatmap {
    /// Where `annotate` puts the legend band.
    public enum BandPosition: Sendable, Equatable { case below, above }

    /// Background of legend bands and default background of strips (dark gray).
    public static let bandBackground: (r: UInt8, g: UInt8, b: UInt8) = (28, 28, 28)
    /// Colour of legend text and ticks.
    public static let bandInk: (r: UInt8, g: UInt8, b: UInt8) = (240, 240, 240)

    /// RGB copy of `image` with a legend band below (or above) it: the colour bar of `scale`, tick labels
    /// for `low` and `threshold`, and `lines` (wrapped when wider than the image). Text is drawn with
    /// `BitmapFont` at `textScale` (clamped to 1...8); at 2, 18 characters fit on a 224-px line.
    ///
    /// ```swift
    /// let panel = Heatmap.annotate(try Heatmap.overlay(map, on: crop, scale: scale), scale: scale,
    ///                              lines: ["score 3.21 >= 2.90 ANOMALOUS", "model abc123 v2"])
    /// ```
    public static func annotate(_ image: Image, scale: HeatmapScale, lines: [String],
                                textScale: Int = 2, position: BandPosition = .below) -> Image {
        let rgb = image.toRGB()
        let band = legendBand(width: rgb.width, scale: scale, lines: lines, textScale: textScale)
        let pixels = position == .below ? rgb.pixels + band.pixels : band.pixels + rgb.pixels
        return Image(width: rgb.width, height: rgb.height + band.height, channels: 3, pixels: pixels)
    }

    /// The band alone, `width` pixels wide (RGB).
    static func legendBand(width w: Int, scale: HeatmapScale, lines: [String], textScale: Int) -> Image {
        let s = min(max(textScale, 1), 8)
        let margin = 2 * s
        let textWidth = w - 2 * margin
        let wrapped = lines.flatMap { BitmapFont.wrap($0, width: textWidth, scale: s) }

        // Vertical layout, top to bottom.
        let barTop = 2 * s, barHeight = 5 * s
        let tickTop = barTop + barHeight, tickHeight = 2 * s
        let labelTop = tickTop + tickHeight + 1
        let linesTop = labelTop + BitmapFont.glyphHeight * s + 3 * s
        let linesHeight = wrapped.isEmpty ? 0 : wrapped.count * BitmapFont.lineHeight * s - 2 * s
        let height = (wrapped.isEmpty ? labelTop + BitmapFont.glyphHeight * s : linesTop + linesHeight) + 2 * s

        let bg = bandBackground
        var band = Image(width: w, height: height, channels: 3,
                         pixels: [UInt8](repeating: 0, count: w * height * 3))
        for i in 0..<(w * height) {
            band.pixels[3 * i] = bg.r; band.pixels[3 * i + 1] = bg.g; band.pixels[3 * i + 2] = bg.b
        }
        func fill(_ xs: Range<Int>, _ ys: Range<Int>, _ c: (r: UInt8, g: UInt8, b: UInt8)) {
            let y0 = max(ys.lowerBound, 0), y1 = min(ys.upperBound, height)
            let x0 = max(xs.lowerBound, 0), x1 = min(xs.upperBound, w)
            guard y0 < y1, x0 < x1 else { return }
            for y in y0..<y1 {
                for x in x0..<x1 {
                    let o = 3 * (y * w + x)
                    band.pixels[o] = c.r; band.pixels[o + 1] = c.g; band.pixels[o + 2] = c.b
                }
            }
        }

        // Colour bar: x0 ..< xT ramp (pixel centres sample low ... threshold), xT ..< x1 red.
        let x0 = margin, x1 = w - margin
        if x1 - x0 >= 2 {
            let redWidth = max(1, (x1 - x0) * 15 / 100)
            let xT = x1 - redWidth
            for x in x0..<xT {
                let c = HeatmapScale.ramp((Float(x - x0) + 0.5) / Float(xT - x0))
                fill(x..<(x + 1), barTop..<(barTop + barHeight), c)
            }
            fill(xT..<x1, barTop..<(barTop + barHeight), HeatmapScale.thresholdColour)
            // Ticks and their values: low left-aligned at x0, threshold centred on xT (kept right of low's label).
            fill(x0..<(x0 + max(1, s / 2)), tickTop..<(tickTop + tickHeight), bandInk)
            fill(xT..<(xT + max(1, s / 2)), tickTop..<(tickTop + tickHeight), bandInk)
            let lowText = HeatmapScale.label(scale.low), thresholdText = HeatmapScale.label(scale.threshold)
            BitmapFont.draw(lowText, on: &band, x: x0, y: labelTop, scale: s, colour: bandInk)
            let tw = BitmapFont.width(of: thresholdText, scale: s)
            let lowEnd = x0 + BitmapFont.width(of: lowText, scale: s) + BitmapFont.advance * s
            let tx = max(min(xT - tw / 2, w - margin - tw), lowEnd)
            BitmapFont.draw(thresholdText, on: &band, x: tx, y: labelTop, scale: s, colour: bandInk)
        }
        for (k, line) in wrapped.enumerated() {
            BitmapFont.draw(line, on: &band, x: margin, y: linesTop + k * BitmapFont.lineHeight * s,
                            scale: s, colour: bandInk)
        }
        return band
    }
}
