import Foundation
import ImageIO
import TensorCore

/// Heatmap pictures of a prediction, on one colour scale per model (its calibration): nothing drawn at or below
/// the median good map level, the decision colour at and above the map's threshold level, a legend band with the
/// score, the decision and the model under the image. Drawn at the resolution of the image as it was given, so an
/// overlay lines up with what the camera took.
///
/// ```swift
/// let p = try scorer.predict(.file(url))
/// try ImageFile.writePNG(try HeatmapRenderer.overlay(p), to: out)
/// try ImageFile.writePNG(try HeatmapRenderer.composite(p, groundTruth: mask), to: strip)
/// ```
public enum HeatmapRenderer {
    public static func scale(of p: Prediction) -> HeatmapScale {
        HeatmapScale(low: p.mapLow, threshold: p.mapThreshold)
    }

    /// The text under an overlay.
    public static func caption(of p: Prediction) -> [String] {
        let relation = p.isAnomalous ? ">=" : "<"
        return [
            "\(p.isAnomalous ? "ANOMALOUS" : "OK")  score \(format(p.score)) \(relation) \(format(p.threshold))  (norm \(String(format: "%.2f", p.normalizedScore)))",
            "model \(p.model)",
        ]
    }

    /// The overlay on the original image with its legend band.
    public static func overlay(_ p: Prediction) throws -> Image {
        let scale = scale(of: p)
        let image = try Heatmap.overlay(p.mapOnOriginal(), on: p.original, scale: scale)
        return Heatmap.annotate(image, scale: scale, lines: caption(of: p), textScale: textScale(width: image.width))
    }

    /// anomalib-style strip: original | overlay | predicted region (map at the decision level) | ground truth
    /// outline when a mask (at the original's size; > 127 = defect) is given.
    public static func composite(_ p: Prediction, groundTruth: Image? = nil) throws -> Image {
        let scale = scale(of: p)
        let onOriginal = p.mapOnOriginal()
        let original = p.original.toRGB()
        var panels = [original, try Heatmap.overlay(onOriginal, on: original, scale: scale),
                      try Heatmap.outline(onOriginal, on: original, level: scale.threshold, thickness: thickness(width: original.width))]
        if let groundTruth {
            let mask = groundTruth.width == original.width && groundTruth.height == original.height
                ? groundTruth : groundTruth.resizedNearest(width: original.width, height: original.height)
            panels.append(try Heatmap.maskOutline(mask: mask.channels == 1 ? mask : mask.toGray(), on: original,
                                                  thickness: thickness(width: original.width)))
        }
        let strip = Heatmap.strip(panels)
        return Heatmap.annotate(strip, scale: scale, lines: caption(of: p), textScale: textScale(width: strip.width))
    }

    /// About 50 characters of caption across the picture, never smaller than 2x the 5x7 font.
    static func textScale(width: Int) -> Int { max(2, width / 300) }
    static func thickness(width: Int) -> Int { max(1, width / 400) }

    static func format(_ x: Float) -> String { String(format: abs(x) >= 1000 || (abs(x) < 0.01 && x != 0) ? "%.3g" : "%.3f", Double(x)) }
}
