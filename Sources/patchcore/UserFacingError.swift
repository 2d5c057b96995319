import ArgumentParser
import Foundation
import TensorCore

/// What the user reads when a command fails: library errors as they describe themselves (they name the file and the
/// field), Foundation's errors rewritten as "<path>: <reason>" (their own text is a domain dump).
struct UserFacingError: Error, CustomStringConvertible {
    let description: String

    /// `error`, or its readable form when it is Foundation's. ArgumentParser's own errors and exit codes pass through.
    static func translate(_ error: Error) -> Error {
        guard SystemErrorText.isFoundationError(error) else { return error }
        return UserFacingError(description: describe(error))
    }

    static func describe(_ error: Error) -> String { SystemErrorText.describe(error) }
}
