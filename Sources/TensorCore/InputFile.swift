import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a file could not be read: the path, and the reason in words (never Foundation's error text).
public enum InputFileError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// The path names something other than a regular file ("is a directory", "is a FIFO", "is a character device").
    case notAFile(path: String, reason: String)
    /// Opening or reading failed; `reason` is the system's message ("No such file or directory",
    /// "Too many levels of symbolic links", "Permission denied").
    case unreadable(path: String, reason: String)
    /// The file is larger than the limit for its kind.
    case tooLarge(path: String, bytes: Int, limit: Int)

    public var path: String {
        switch self {
        case let .notAFile(path, _), let .unreadable(path, _), let .tooLarge(path, _, _): return path
        }
    }

    /// What is wrong, without the path (for errors that name the file themselves).
    public var reason: String {
        switch self {
        case let .notAFile(_, reason): return "\(reason), not a file"
        case let .unreadable(_, reason): return "cannot read: \(reason)"
        case let .tooLarge(_, bytes, limit): return "\(bytes) bytes, more than the limit of \(limit) bytes (--max-file-bytes)"
        }
    }

    public var description: String {
        switch self {
        case let .notAFile(path, reason): return "\(path) \(reason), not a file"
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        case let .tooLarge(path, bytes, limit):
            return "\(path) is \(bytes) bytes, more than the limit of \(limit) bytes for this kind of file"
                + " (raise it with --max-file-bytes if the file is genuine)"
        }
    }

    public var errorDescription: String? { description }
}

/// Reads whole regular files with a size bound, refusing directories, FIFOs and devices by name before reading a byte
/// (a FIFO would block forever; `/dev/zero` never ends). Symlinks are followed once by the kernel; a loop is reported
/// as such.
public enum InputFile {
    /// The bytes of `url`, at most `limit` of them.
    public static func read(_ url: URL, limit: Int = InputLimits.current.maxEncodedFileBytes) throws -> Data {
        let path = url.path
        // O_NONBLOCK so that opening a FIFO without a writer does not block; fstat below refuses it anyway.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw InputFileError.unreadable(path: path, reason: systemReason(errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw InputFileError.unreadable(path: path, reason: systemReason(errno)) }
        if let kind = nonRegularKind(info.st_mode) { throw InputFileError.notAFile(path: path, reason: kind) }
        let size = Int(info.st_size)
        guard size <= limit else { throw InputFileError.tooLarge(path: path, bytes: size, limit: limit) }
        // Back to blocking reads for a regular file.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var data = Data(count: size)
        var done = 0
        try data.withUnsafeMutableBytes { (buffer: UnsafeMutableRawBufferPointer) in
            while done < size {
                let n = Glibc.read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw InputFileError.unreadable(path: path, reason: systemReason(errno))
                }
                if n == 0 { break }  // shrank while reading: keep what is there
                done += n
            }
        }
        if done < size { data.removeSubrange(done..<size) }
        return data
    }

    /// Throws `InputFileError` unless `url` names a readable regular file (following symlinks); reads nothing.
    public static func checkRegularFile(_ url: URL) throws {
        var info = stat()
        guard stat(url.path, &info) == 0 else {
            throw InputFileError.unreadable(path: url.path, reason: systemReason(errno))
        }
        if let kind = nonRegularKind(info.st_mode) { throw InputFileError.notAFile(path: url.path, reason: kind) }
    }

    /// "is a directory", "is a FIFO", ... for anything but a regular file.
    static func nonRegularKind(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "is a directory"
        case S_IFIFO: return "is a FIFO (named pipe)"
        case S_IFCHR: return "is a character device"
        case S_IFBLK: return "is a block device"
        case S_IFSOCK: return "is a socket"
        default: return "is not a regular file"
        }
    }

    static func systemReason(_ code: Int32) -> String { String(cString: strerror(code)) }
}
