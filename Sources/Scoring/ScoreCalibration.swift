import Foundation

/// Statistics of scores on good images and a decision threshold, saved with a fitted model.
///
/// `normalise` maps raw scores to a comparable scale:
/// - `.minMax`: (s - min) / (max - min) over the reference scores (1 as divisor when max == min);
/// - `.meanStd`: (s - mean) / std (population std; 1 as divisor when std == 0);
/// - `.thresholdCentred`: clamp((s - threshold) / (max - min) + 0.5, 0, 1), anomalib's min-max
///   normalisation (`normalize` in anomalib's min_max module): the threshold maps to 0.5.
/// The threshold is kept in raw units; `normalisedThreshold` is the same threshold normalised.
///
/// ```swift
/// let cal = try ScoreCalibration.fit(referenceScores: trainScores, method: .minMax,
///                                    threshold: .quantile(0.99, of: heldOutGoodScores))
/// cal.normalise(0.7); cal.isAnomalous(0.7)
/// ```
public struct ScoreCalibration: Sendable, Codable, Equatable {
    public enum Method: String, Sendable, Codable, Equatable {
        case minMax = "min_max"
        case meanStd = "mean_std"
        case thresholdCentred = "threshold_centred"
    }

    /// How the threshold is chosen.
    public enum ThresholdRule: Sendable, Equatable {
        /// Largest reference score.
        case maxOfReference
        /// q-quantile (0...1, numpy's default linear interpolation) of `scores` (e.g. held-out good images).
        case quantile(Double, of: [Float])
        /// A fixed raw threshold.
        case fixed(Float)
    }

    public var method: Method
    public var min: Float
    public var max: Float
    public var mean: Float
    public var std: Float
    /// Raw-score threshold: scores above it are anomalous.
    public var threshold: Float

    public init(method: Method, min: Float, max: Float, mean: Float, std: Float, threshold: Float) {
        self.method = method
        self.min = min
        self.max = max
        self.mean = mean
        self.std = std
        self.threshold = threshold
    }

    /// Statistics of `referenceScores` (e.g. training-image scores) and a threshold.
    public static func fit(referenceScores: [Float], method: Method = .minMax,
                           threshold rule: ThresholdRule = .maxOfReference) throws -> ScoreCalibration {
        guard !referenceScores.isEmpty else { throw ScoringError.noScores(what: "reference scores") }
        guard referenceScores.allSatisfy(\.isFinite) else {
            throw ScoringError.invalidParameter(name: "reference scores", value: "non-finite values", expected: "finite scores")
        }
        let values = referenceScores.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        let lo = referenceScores.min()!, hi = referenceScores.max()!
        let threshold: Float
        switch rule {
        case .maxOfReference:
            threshold = hi
        case let .fixed(t):
            threshold = t
        case let .quantile(q, scores):
            guard !scores.isEmpty else { throw ScoringError.noScores(what: "threshold scores") }
            guard (0...1).contains(q) else {
                throw ScoringError.invalidParameter(name: "quantile", value: "\(q)", expected: "0...1")
            }
            threshold = quantile(scores, q)
        }
        return ScoreCalibration(method: method, min: lo, max: hi, mean: Float(mean),
                                std: Float(variance.squareRoot()), threshold: threshold)
    }

    /// Normalised score (see the type's documentation).
    public func normalise(_ score: Float) -> Float {
        switch method {
        case .minMax:
            let range = max - min
            return (score - min) / (range > 0 ? range : 1)
        case .meanStd:
            return (score - mean) / (std > 0 ? std : 1)
        case .thresholdCentred:
            let range = max - min
            return Swift.min(Swift.max((score - threshold) / (range > 0 ? range : 1) + 0.5, 0), 1)
        }
    }

    public func normalise(_ scores: [Float]) -> [Float] { scores.map { normalise($0) } }

    public var normalisedThreshold: Float { normalise(threshold) }

    /// Whether a raw score is above the threshold.
    public func isAnomalous(_ score: Float) -> Bool { score > threshold }

    enum CodingKeys: String, CodingKey { case method, min, max, mean, std, threshold }
}

/// numpy.quantile(values, q) with the default 'linear' method: position q * (n - 1), interpolated; NaN for no values.
///
/// ```swift
/// quantile([3, 1, 2, 4], 0.5)   // 2.5, the median
/// ```
public func quantile(_ values: [Float], _ q: Double) -> Float {
    guard !values.isEmpty else { return .nan }
    let sorted = values.map(Double.init).sorted()
    let position = q * Double(sorted.count - 1)
    let lower = Int(position.rounded(.down)), upper = Swift.min(lower + 1, sorted.count - 1)
    let fraction = position - Double(lower)
    return Float(sorted[lower] + (sorted[upper] - sorted[lower]) * fraction)
}
