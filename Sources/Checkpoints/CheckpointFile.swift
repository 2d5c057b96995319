import Foundation
import TensorCore

/// Opens checkpoint files for reading: refuses directories, FIFOs and devices by name before touching them (mapping a
/// FIFO would block forever), then maps the regular file. Errors are `CheckpointError.unreadable` with the path and
/// the reason in words, never Foundation's error text.
enum CheckpointFile {
    /// The bytes of `url` as a read-only memory mapping (checkpoints can be many GiB; nothing is copied).
    static func map(_ url: URL) throws -> Data {
        let file = url.path
        do { try InputFile.checkRegularFile(url) } catch let e as InputFileError {
            switch e {
            case let .notAFile(_, reason): throw CheckpointError.unreadable(file: file, reason: "\(reason), not a file")
            case let .unreadable(_, reason): throw CheckpointError.unreadable(file: file, reason: reason)
            case .tooLarge: throw CheckpointError.unreadable(file: file, reason: e.description)
            }
        }
        do { return try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw CheckpointError.unreadable(file: file, reason: reason(error))
        }
    }

    /// The POSIX reason under a Foundation error, or a plain sentence.
    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return "the file cannot be opened or mapped"
    }
}
