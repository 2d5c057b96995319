import Foundation

/// Why a scheduler could not be configured or driven. Config errors name the file, the field and the value.
public enum SchedulerError: Error, CustomStringConvertible, Equatable, Sendable, LocalizedError {
    /// The config file could not be read or parsed.
    case unreadableConfig(file: String, reason: String)
    /// A config field holds a value this port does not implement.
    case unsupportedConfig(field: String, value: String, file: String, supported: String)
    /// `_class_name` (or the requested override) is not one of the implemented schedulers.
    case unknownScheduler(name: String, file: String, supported: [String])
    /// An argument out of range (inference steps, strength, timestep not in the schedule, ...).
    case invalidArgument(String)
    /// Tensors that must have equal shapes do not.
    case shapeMismatch(what: String, expected: [Int], actual: [Int])
    /// `step`/`addNoise` called before `setTimesteps`.
    case timestepsNotSet(scheduler: String)

    public var description: String {
        switch self {
        case let .unreadableConfig(file, reason): return "cannot read scheduler config \(file): \(reason)"
        case let .unsupportedConfig(field, value, file, supported):
            return "unsupported scheduler config: \(field) = \(value) in \(file) (supported: \(supported))"
        case let .unknownScheduler(name, file, supported):
            return "unsupported scheduler '\(name)' in \(file); supported: \(supported.joined(separator: ", "))"
        case let .invalidArgument(message): return message
        case let .shapeMismatch(what, expected, actual): return "\(what) has shape \(actual), expected \(expected)"
        case let .timestepsNotSet(scheduler): return "\(scheduler): call setTimesteps before stepping"
        }
    }

    public var errorDescription: String? { description }
}
