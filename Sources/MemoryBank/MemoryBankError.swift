/// Errors raised by the memory bank and the coreset sampler on bad input.
///
/// Each case names the tensor and what was expected, so a caller can print it as is.
public enum MemoryBankError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A tensor had the wrong rank or shape (`expected` is written like "(N,D) with N >= 1").
    case badShape(tensor: String, expected: String, actual: [Int])
    /// A configuration value is out of its range.
    case invalidArgument(name: String, value: String, expected: String)

    public var description: String {
        switch self {
        case let .badShape(tensor, expected, actual):
            return "\(tensor): expected shape \(expected), got \(actual)"
        case let .invalidArgument(name, value, expected):
            return "\(name) = \(value): expected \(expected)"
        }
    }
}
