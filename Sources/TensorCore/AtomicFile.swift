import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why `AtomicFile` could not write: the path, and the reason in words (never raw Foundation error text).
public enum AtomicFileError: Error, Equatable, LocalizedError, CustomStringConvertible {
    /// The target exists but no file can be written in its place (`reason`: "is a directory", "is a socket", ...).
    case notAFile(path: String, reason: String)
    /// A system call on `path` failed; `operation` says what was being done, `reason` is the system's message.
    case failed(path: String, operation: String, reason: String)

    public var description: String {
        switch self {
        case let .notAFile(path, reason): return "\(path) \(reason); cannot write a file there"
        case let .failed(path, operation, reason): return "\(path): \(operation) failed: \(reason)"
        }
    }

    // So that `localizedDescription` (used by callers that wrap the error) says the same.
    public var errorDescription: String? { description }
}

/// Writes a file so that readers see either the old or the complete new contents, never a partial one:
/// the bytes go to a temporary file `.<name>.<pid>.<UUID>.tmp` in the destination's folder, which is fsynced and then
/// renamed over the destination.
///
/// Only regular files (or new ones) are replaced that way. A symlink is followed and its target is written (the link
/// stays); a character device or FIFO (`/dev/null`, a named pipe) is written through directly, since renaming over it
/// would replace the device node; `/dev/stdout`, `/dev/fd/N` (links to `/proc/self/fd/N`) are written to descriptor N
/// itself, whatever it is open on (terminal, pipe, or the file a shell redirected it to), so the bytes land in order
/// with what the process prints; a directory, socket or block device is refused.
///
/// ```swift
/// try AtomicFile.write(Data(json.utf8), to: URL(fileURLWithPath: "/dev/stdout"))  // prints, replaces nothing
/// ```
public enum AtomicFile {
    /// Temporaries younger than this may belong to a write still in flight in another process.
    public static let staleTemporaryAge: TimeInterval = 3600

    public static func write(_ data: Data, to url: URL) throws {
        switch try destination(of: url.path) {
        case .writeThrough(let path):
            try writeThrough(data, to: path)
        case .descriptor(let fd, let path):
            // What the process printed before (buffered by stdio) goes first.
            fflush(nil)
            try writeAll(data, to: fd, path: path)
        case .replace(let path):
            try replace(path, with: data)
        }
    }

    /// Removes temporaries of `name` in `folder` that no write in flight owns: `.<name>.<pid>.<UUID>.tmp` whose writer
    /// process is gone (a run killed between writing and renaming), and any (including the older `.<name>.<UUID>.tmp`
    /// form, which names no writer) older than `age` seconds. A live writer's young temporaries are kept, as it may be
    /// about to rename them. Returns the names removed; a folder that does not exist has none.
    @discardableResult
    public static func removeStaleTemporaries(in folder: URL, for name: String,
                                              olderThan age: TimeInterval = staleTemporaryAge) -> [String] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
        let prefix = ".\(name).", suffix = ".tmp"
        let cutoff = Date().addingTimeInterval(-age)
        var removed: [String] = []
        for entry in entries where entry.hasPrefix(prefix) && entry.hasSuffix(suffix)
            && entry.count >= prefix.count + 36 + suffix.count {
            // Only names this type makes: the end must be a UUID, so `.<name>.backup.tmp` is never touched.
            let middle = entry.dropFirst(prefix.count).dropLast(suffix.count)
            guard UUID(uuidString: String(middle.suffix(36))) != nil else { continue }
            let writer: pid_t?
            if middle.count == 36 {
                writer = nil
            } else {
                let pidText = middle.dropLast(37)
                guard middle.dropLast(36).hasSuffix("."), let pid = pid_t(pidText), pid > 0 else { continue }
                writer = pid
            }
            let path = folder.appendingPathComponent(entry).path
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType == .typeRegular,
                  let modified = attributes[.modificationDate] as? Date else { continue }
            let orphaned = writer.map { !processIsAlive($0) } ?? false
            if orphaned || modified < cutoff, unlink(path) == 0 { removed.append(entry) }
        }
        return removed
    }

    /// The temporary file name a write by this process uses for `name`.
    static func temporaryName(for name: String) -> String { ".\(name).\(getpid()).\(UUID().uuidString).tmp" }

    /// Whether a process with this id exists (EPERM: it does, owned by someone else).
    static func processIsAlive(_ pid: pid_t) -> Bool {
        if pid == getpid() { return true }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    // MARK: - Where the bytes go

    enum Destination: Equatable {
        /// A regular file or a new one, at this path (symlinks resolved): temp file + rename.
        case replace(String)
        /// A device or FIFO (or another process's descriptor link): open and write, no temp file.
        case writeThrough(String)
        /// `/proc/self/fd/N`: this process's descriptor N, written as it is (not reopened, not closed).
        case descriptor(Int32, path: String)
    }

    /// Follows symlinks one hop at a time (so a dangling link names the file to create) and classifies the end.
    static func destination(of given: String) throws -> Destination {
        var path = absolute(given)
        for _ in 0..<40 {
            // /proc/<pid>/fd/N (where /dev/stdout and /dev/fd/N lead) are kernel links to open descriptors, whose
            // targets may not be paths at all ("pipe:[123]"). Following one to a regular file and renaming over it
            // would detach the descriptor (a shell's `> out.json`) from the file: use the descriptor itself.
            if path.hasPrefix("/proc/") {
                var st = stat()
                if stat(path, &st) == 0, let refusal = refusal(st.st_mode) {
                    throw AtomicFileError.notAFile(path: given, reason: refusal)
                }
                if let fd = ownDescriptor(path) { return .descriptor(fd, path: given) }
                return .writeThrough(path)
            }
            var st = stat()
            if lstat(path, &st) != 0 {
                if errno == ENOENT { return .replace(path) }
                throw AtomicFileError.failed(path: path, operation: "stat", reason: systemMessage())
            }
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                // The folders on the way may be links too (/dev/fd -> /proc/self/fd): a link inside /proc is a
                // descriptor link, handled above, and must not be followed to its file.
                let here = withRealFolder(path)
                if here.hasPrefix("/proc/") && !path.hasPrefix("/proc/") { path = here; continue }
                path = try linkTarget(here)
            case S_IFREG:
                return .replace(path)
            case S_IFCHR, S_IFIFO:
                return .writeThrough(path)
            default:
                throw AtomicFileError.notAFile(path: path == absolute(given) ? given : "\(given) (-> \(path))",
                                               reason: refusal(st.st_mode) ?? "is not a regular file")
            }
        }
        throw AtomicFileError.failed(path: given, operation: "resolve symlinks", reason: "too many levels of symbolic links")
    }

    /// Why a file of this mode cannot be written, or nil when it can.
    private static func refusal(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFDIR: return "is a directory"
        case S_IFSOCK: return "is a socket"
        case S_IFBLK: return "is a block device"
        default: return nil
        }
    }

    private static func linkTarget(_ path: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { throw AtomicFileError.failed(path: path, operation: "read symlink", reason: systemMessage()) }
        let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if target.hasPrefix("/") { return absolute(target) }
        return absolute((path as NSString).deletingLastPathComponent + "/" + target)
    }

    /// Made absolute, nothing else: `standardizingPath` would resolve symlinks, /proc/self/fd/1 included.
    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// The path with its folder's symlinks resolved (realpath), its last component kept as it is.
    private static func withRealFolder(_ path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
        guard let real = realpath(folder, nil) else { return path }
        defer { free(real) }
        let resolved = String(cString: real)
        return (resolved == "/" ? "" : resolved) + "/" + name
    }

    /// N of `/proc/self/fd/N` or `/proc/<this pid>/fd/N`.
    private static func ownDescriptor(_ path: String) -> Int32? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count == 4, parts[0] == "proc", parts[2] == "fd",
              parts[1] == "self" || parts[1] == Substring(String(getpid())), let fd = Int32(parts[3]) else { return nil }
        return fd
    }

    // MARK: - Writing

    /// Devices and FIFOs: no temp file. O_APPEND for another process's `/proc/<pid>/fd` link to a regular file (the
    /// bytes go after what is there, not over it); devices and FIFOs ignore it.
    private static func writeThrough(_ data: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw AtomicFileError.failed(path: path, operation: "open", reason: systemMessage()) }
        defer { close(fd) }
        try writeAll(data, to: fd, path: path)
    }

    private static func replace(_ path: String, with data: Data) throws {
        let dir = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
        try makeFolder(dir)
        removeStaleTemporaries(in: URL(fileURLWithPath: dir), for: name)
        let tmp = dir + "/" + temporaryName(for: name)
        // Removed if the process is interrupted before the rename (kill -9 aside: see removeStaleTemporaries).
        let token = InterruptCleanup.register(tmp)
        defer { InterruptCleanup.unregister(token) }
        // 0o666 less the umask, as any new file gets.
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else {
            throw AtomicFileError.failed(path: path, operation: "create a temporary file beside it", reason: systemMessage())
        }
        do {
            do {
                defer { close(fd) }
                // Errors name the target the user asked for; the temporary is an implementation detail (and removed).
                try writeAll(data, to: fd, path: path)
                // Data on disk before the name points at it, so a crash leaves the old file or the new, not an empty one.
                guard fsync(fd) == 0 else {
                    throw AtomicFileError.failed(path: path, operation: "flush to disk", reason: systemMessage())
                }
            }
            guard rename(tmp, path) == 0 else {
                throw AtomicFileError.failed(path: path, operation: "rename the temporary file into place", reason: systemMessage())
            }
        } catch {
            unlink(tmp)
            throw error
        }
    }

    private static func writeAll(_ data: Data, to fd: Int32, path: String) throws {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < raw.count {
                let n = systemWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw AtomicFileError.failed(path: path, operation: "write", reason: systemMessage())
                }
                offset += n
            }
        }
    }

    /// `mkdir -p`, with the failing folder and the system's reason in the error.
    private static func makeFolder(_ dir: String) throws {
        var st = stat()
        if stat(dir, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { return }
            throw AtomicFileError.notAFile(path: dir, reason: "is not a folder")
        }
        let parent = (dir as NSString).deletingLastPathComponent
        if parent != dir && !parent.isEmpty { try makeFolder(parent) }
        if mkdir(dir, 0o777) != 0 && errno != EEXIST {
            throw AtomicFileError.failed(path: dir, operation: "create folder", reason: systemMessage())
        }
    }

    // Spelled with the module because `write` inside this type means `AtomicFile.write`.
    private static func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(fd, bytes, count)
        #else
        return Darwin.write(fd, bytes, count)
        #endif
    }

    private static func systemMessage() -> String { String(cString: strerror(errno)) }
}
