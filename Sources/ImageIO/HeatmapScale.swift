import Foundation

/// The colour scale of a readable anomaly overlay, fixed per model so maps of different images compare.
///
/// Values at or below `low` (the median patch score of good images) are transparent, so the part stays
/// visible; between `low` and `threshold` a ramp runs blue -> cyan -> yellow -> orange with opacity
/// rising linearly from 0 to 1; at and above `threshold` (`value >= threshold`, the same comparison as
/// the decision) the colour is solid `thresholdColour`. NaN (outside the area the model saw) is
/// transparent. When `threshold <= low` there is no ramp: red at and above the threshold, else clear.
///
/// ```swift
/// let scale = HeatmapScale(low: 1.10, threshold: 2.90)
/// scale.colour(of: 0.8).a          // 0: transparent
/// scale.colour(of: 3.2)            // (230, 0, 0, 1): the threshold colour
/// let overlay = try Heatmap.overlay(map, on: crop, scale: scale)
/// ```
public struct HeatmapScale: Sendable, Codable, Equatable {
    /// At or below: transparent (typically the median patch score of good images).
    public var low: Float
    /// At or above: solid `thresholdColour` (the image or pixel decision threshold).
    public var threshold: Float

    public init(low: Float, threshold: Float) {
        self.low = low
        self.threshold = threshold
    }

    /// The decision colour, drawn for values `>= threshold`; no ramp colour equals it.
    public static let thresholdColour: (r: UInt8, g: UInt8, b: UInt8) = (230, 0, 0)

    /// Ramp stops (t, r, g, b) for t = (value - low) / (threshold - low) in (0, 1): blue, cyan, yellow, orange.
    /// The ramp ends at orange (green 140), so the last colour below the threshold stays distinct from red.
    static let rampStops: [(t: Float, r: Float, g: Float, b: Float)] = [
        (0.00, 0, 70, 255),
        (0.35, 0, 210, 255),
        (0.70, 255, 225, 0),
        (1.00, 255, 140, 0),
    ]

    /// Colour and opacity (0...1) of one map value.
    ///
    /// ```swift
    /// let c = scale.colour(of: map.scalars[i])
    /// let isDecisionRed = c.a == 1 && (c.r, c.g, c.b) == HeatmapScale.thresholdColour
    /// ```
    public func colour(of value: Float) -> (r: UInt8, g: UInt8, b: UInt8, a: Float) {
        if value.isNaN { return (0, 0, 0, 0) }
        if value >= threshold {
            let c = Self.thresholdColour
            return (c.r, c.g, c.b, 1)
        }
        if value <= low { return (0, 0, 0, 0) }
        let t = (value - low) / (threshold - low)
        guard t.isFinite, t > 0 else { return (0, 0, 0, 0) }
        let c = Self.ramp(min(t, 1))
        return (c.r, c.g, c.b, min(t, 1))
    }

    /// Ramp colour at `t` in [0, 1] (clamped), piecewise linear between `rampStops`, rounded to bytes.
    static func ramp(_ t: Float) -> (r: UInt8, g: UInt8, b: UInt8) {
        let u = t.isNaN ? 0 : min(max(t, 0), 1)
        let s = rampStops
        var k = 1
        while k < s.count - 1 && s[k].t < u { k += 1 }
        let a = s[k - 1], b = s[k]
        let f = (u - a.t) / (b.t - a.t)
        func mix(_ x: Float, _ y: Float) -> UInt8 { UInt8((x + (y - x) * f).rounded()) }
        return (mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b))
    }

    /// Short tick label: two decimals for 0.1 ..< 1000 in magnitude, else three significant digits.
    static func label(_ v: Float) -> String {
        if v.isNaN { return "NAN" }
        let a = abs(v)
        if a == 0 || (a >= 0.1 && a < 1000) { return String(format: "%.2f", Double(v)) }
        return String(format: "%.3g", Double(v))
    }
}
