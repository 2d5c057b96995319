/// Why a list of feature maps cannot be turned into patch features.
public enum PatchFeatureError: Error, Equatable, CustomStringConvertible {
    /// No feature map was given.
    case noTaps
    /// A tap is not (N,C,H,W) with positive sizes.
    case badTapShape(tap: Int, shape: [Int])
    /// Taps disagree on the batch size.
    case batchMismatch(tap: Int, expected: Int, actual: Int)
    /// The neighbourhood size is not a positive odd number.
    case badPatchSize(Int)
    /// A reduction dimension is not positive.
    case badReduction(pretrainDimension: Int, targetDimension: Int)

    public var description: String {
        switch self {
        case .noTaps:
            return "patch features need at least one feature map (N,C,H,W), got none"
        case let .badTapShape(tap, shape):
            return "feature map \(tap) has shape \(shape); expected (N,C,H,W) with all sizes > 0"
        case let .batchMismatch(tap, expected, actual):
            return "feature map \(tap) has batch \(actual); expected \(expected) like feature map 0"
        case let .badPatchSize(k):
            return "patch size \(k) must be a positive odd number (3 in PatchCore)"
        case let .badReduction(p, t):
            return "channel reduction needs positive dimensions, got pretrain \(p), target \(t)"
        }
    }
}
