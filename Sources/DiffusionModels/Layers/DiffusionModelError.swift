/// Why a diffusion model could not be built or run. Each case names the file or argument and what was expected.
public enum DiffusionModelError: Error, CustomStringConvertible, Equatable {
    /// A config value this implementation does not support (`field` as spelled in config.json).
    case unsupportedConfig(file: String, field: String, value: String)
    /// A config that is inconsistent (e.g. list lengths that differ).
    case invalidConfig(file: String, reason: String)
    /// A call argument of the wrong shape.
    case invalidInput(argument: String, expected: String, actual: [Int])

    public var description: String {
        switch self {
        case let .unsupportedConfig(file, field, value):
            return "\(file): unsupported value \(value) for \"\(field)\""
        case let .invalidConfig(file, reason):
            return "\(file): invalid config: \(reason)"
        case let .invalidInput(argument, expected, actual):
            return "\(argument) has shape \(actual), expected \(expected)"
        }
    }
}
