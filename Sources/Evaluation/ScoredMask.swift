import Foundation
import TensorCore

/// One test image's anomaly map with its ground-truth mask, the unit of pixel-level metrics.
///
/// ```swift
/// let item = try ScoredMask(map: anomalyMap, mask: maskPixels)   // map (H,W), mask (H,W) non-zero = defect
/// let good = try ScoredMask(map: otherMap, mask: nil)            // defect-free image: every pixel is good
/// ```
public struct ScoredMask: Sendable {
    public let width: Int
    public let height: Int
    /// Anomaly scores, row-major (H, W).
    public let scores: [Float]
    /// Ground truth, row-major (H, W): non-zero = defect pixel. `nil` means an image without defects.
    public let mask: [UInt8]?

    /// - Throws: `MetricError.countMismatch` when `scores` or `mask` do not hold `width * height` values.
    public init(width: Int, height: Int, scores: [Float], mask: [UInt8]?) throws {
        guard width >= 0, height >= 0 else {
            throw MetricError.invalidArgument(metric: "pixel metrics", reason: "negative map size \(width)x\(height)")
        }
        guard scores.count == width * height else {
            throw MetricError.countMismatch(metric: "pixel metrics (\(width)x\(height) map)", scores: scores.count, labels: width * height)
        }
        if let mask, mask.count != width * height {
            throw MetricError.countMismatch(metric: "pixel metrics (\(width)x\(height) mask)", scores: width * height, labels: mask.count)
        }
        self.width = width; self.height = height; self.scores = scores; self.mask = mask
    }

    /// From an anomaly-map tensor of shape (H, W), (1, H, W) or (1, 1, H, W).
    public init(map: Tensor, mask: [UInt8]?) throws {
        let dims = map.shape.filter { $0 != 1 }
        let hw: (Int, Int)
        switch (map.rank, dims.count) {
        case (2, _): hw = (map.shape[0], map.shape[1])
        case (3, _) where map.shape[0] == 1: hw = (map.shape[1], map.shape[2])
        case (4, _) where map.shape[0] == 1 && map.shape[1] == 1: hw = (map.shape[2], map.shape[3])
        default:
            throw MetricError.invalidArgument(metric: "pixel metrics", reason: "anomaly map shape \(map.shape); expected (H,W), (1,H,W) or (1,1,H,W)")
        }
        try self.init(width: hw.1, height: hw.0, scores: map.scalars, mask: mask)
    }

    /// Number of defect pixels.
    public var defectPixelCount: Int {
        guard let mask else { return 0 }
        return mask.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
    }
}
