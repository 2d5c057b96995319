/// Why scores or maps cannot be computed from the given arrays.
public enum ScoringError: Error, Equatable, CustomStringConvertible {
    /// An array does not have the shape the computation needs.
    case shapeMismatch(what: String, expected: String, actual: [Int])
    /// A parameter is out of range.
    case invalidParameter(name: String, value: String, expected: String)
    /// The memory bank holds no features.
    case emptyBank
    /// Calibration needs at least one score.
    case noScores(what: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(what, expected, actual):
            return "\(what) has shape \(actual); expected \(expected)"
        case let .invalidParameter(name, value, expected):
            return "\(name) = \(value) is invalid; expected \(expected)"
        case .emptyBank:
            return "the memory bank is empty; fit the model on at least one good image first"
        case let .noScores(what):
            return "\(what) is empty; calibration needs at least one score"
        }
    }
}
