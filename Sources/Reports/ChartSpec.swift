import Foundation

/// A chart for charts.js's `drawCharts`, encoded as the options of its drawing function.
public enum ChartSpec: Sendable, Encodable, Equatable {
    /// One named series of values (histogram, bars) or of points (curves).
    public struct Series: Sendable, Encodable, Equatable {
        public var name: String
        public var values: [Double]?
        public var x: [Double]?
        public var y: [Double]?
        /// A CSS class of charts.css (`series-good`, `series-defect`, `series-0` ...); nil: by position.
        public var cls: String?

        public static func values(_ name: String, _ values: [Double], cls: String? = nil) -> Series {
            Series(name: name, values: values, x: nil, y: nil, cls: cls)
        }
        public static func points(_ name: String, x: [Double], y: [Double], cls: String? = nil) -> Series {
            Series(name: name, values: nil, x: x, y: y, cls: cls)
        }
    }

    /// Curves on [0, 1] x [0, 1]; `step` for precision-recall, `diagonal` for the chance line of a ROC.
    case curves([Series], xLabel: String, yLabel: String, diagonal: Bool = false, step: Bool = false)
    /// Histograms of the series on [lo, hi], each as a share of its own size, with an optional threshold line.
    case histogram([Series], lo: Double, hi: Double, threshold: Double?, xLabel: String)
    /// Grouped bars: one group per category, one bar per series (values in category order) on [lo, hi].
    case bars(categories: [String], [Series], lo: Double, hi: Double, yLabel: String)

    private enum Keys: String, CodingKey {
        case kind, curves, series, xLabel, yLabel, diagonal, step, lo, hi, threshold, categories
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case let .curves(curves, xLabel, yLabel, diagonal, step):
            try c.encode("curves", forKey: .kind); try c.encode(curves, forKey: .curves)
            try c.encode(xLabel, forKey: .xLabel); try c.encode(yLabel, forKey: .yLabel)
            try c.encode(diagonal, forKey: .diagonal); try c.encode(step, forKey: .step)
        case let .histogram(series, lo, hi, threshold, xLabel):
            try c.encode("histogram", forKey: .kind); try c.encode(series, forKey: .series)
            try c.encode(lo, forKey: .lo); try c.encode(hi, forKey: .hi)
            try c.encodeIfPresent(threshold, forKey: .threshold); try c.encode(xLabel, forKey: .xLabel)
        case let .bars(categories, series, lo, hi, yLabel):
            try c.encode("bars", forKey: .kind); try c.encode(categories, forKey: .categories)
            try c.encode(series, forKey: .series); try c.encode(lo, forKey: .lo); try c.encode(hi, forKey: .hi)
            try c.encode(yLabel, forKey: .yLabel)
        }
    }
}
