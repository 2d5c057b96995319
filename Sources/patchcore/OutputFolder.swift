import ArgumentParser
import Foundation
import TensorCore

/// Output folders of `predict` and `evaluate`: a run writes into a staging folder inside the output folder and swaps
/// its entries in when it ends, so a reader never sees old heatmaps beside new ones, and an interrupted run leaves
/// the previous results as they were. Files in the folder that no run writes are kept.
final class StagedOutputFolder {
    /// The folder the user named.
    let folder: URL
    /// Where this run writes: `<folder>/.staging.<pid>.<UUID>`, removed on interrupt.
    let staging: URL
    /// The entries a run owns (files or folders), replaced as a whole at the end.
    let entries: [String]
    private var token: Int?

    static let stagingPrefix = ".staging."

    init(_ folder: URL, entries: [String]) throws {
        self.folder = folder
        self.entries = entries
        try checkFolder(folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        Self.removeStaleStaging(in: folder)
        staging = folder.appendingPathComponent("\(Self.stagingPrefix)\(getpid()).\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false)
        token = InterruptCleanup.register(staging.path)
    }

    deinit { if let token { InterruptCleanup.unregister(token) } }

    /// Where this run writes `name` (inside the staging folder).
    func url(_ name: String) -> URL { staging.appendingPathComponent(name) }

    /// Where `name` will be once the run is committed.
    func finalURL(_ name: String) -> URL { folder.appendingPathComponent(name) }

    /// Swaps this run's entries in (each one by rename), drops the previous run's, removes the staging folder.
    func commit() throws {
        let fm = FileManager.default
        let old = staging.appendingPathComponent(".previous")
        try fm.createDirectory(at: old, withIntermediateDirectories: false)
        for name in entries {
            let new = url(name), target = finalURL(name)
            if fm.fileExists(atPath: target.path) || (try? fm.destinationOfSymbolicLink(atPath: target.path)) != nil {
                try move(target, to: old.appendingPathComponent(name))
            }
            if fm.fileExists(atPath: new.path) { try move(new, to: target) }
        }
        try? fm.removeItem(at: staging)
        if let token { InterruptCleanup.unregister(token) }
        token = nil
    }

    /// After an error: the staging folder is kept (it holds what was done) until the next run into the same folder.
    func abandon() -> URL {
        if let token { InterruptCleanup.unregister(token) }
        token = nil
        return staging
    }

    private func move(_ from: URL, to: URL) throws {
        guard rename(from.path, to.path) == 0 else {
            throw ValidationError("cannot move \(from.path) to \(to.path): \(String(cString: strerror(errno)))")
        }
    }

    /// Staging folders of runs whose process is gone (killed, or failed earlier).
    static func removeStaleStaging(in folder: URL) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names where name.hasPrefix(stagingPrefix) {
            let pidText = name.dropFirst(stagingPrefix.count).prefix { $0 != "." }
            guard let pid = pid_t(pidText), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    /// Whether `folder` holds any of the entries a run writes.
    static func holdsResults(_ folder: URL, entries: [String]) -> Bool {
        entries.contains { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
    }

    /// What `folder` holds besides a run's `entries` and staging folders (empty when it does not exist).
    static func otherContents(_ folder: URL, entries: [String]) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !entries.contains($0) && !$0.hasPrefix(stagingPrefix) }.sorted()
    }
}

/// Refuses, before any work, an output folder path that names something other than a folder (or a folder inside a
/// file).
func checkFolder(_ folder: URL) throws {
    var info = stat()
    if stat(folder.path, &info) == 0 {
        if info.st_mode & S_IFMT != S_IFDIR { throw ValidationError("\(folder.path) exists and is not a folder") }
        if access(folder.path, W_OK) != 0 { throw ValidationError("\(folder.path): cannot write there: \(String(cString: strerror(errno)))") }
        return
    }
    if errno == ENOTDIR { throw ValidationError("\(folder.path): a part of this path is a file, not a folder") }
    if errno == ELOOP { throw ValidationError("\(folder.path): too many levels of symbolic links") }
}

/// Refuses, before any work, a file path that cannot be written: a folder, a socket, a path inside a file, an
/// unwritable folder. Devices and FIFOs are allowed (`/dev/stdout`).
func checkWritable(_ url: URL) throws {
    var info = stat()
    if stat(url.path, &info) == 0 {
        switch info.st_mode & S_IFMT {
        case S_IFDIR: throw ValidationError("\(url.path) is a folder; give a file path")
        case S_IFSOCK, S_IFBLK: throw ValidationError("\(url.path) is not a file that can be written")
        default: break
        }
        if access(url.path, W_OK) != 0 { throw ValidationError("\(url.path): cannot write: \(String(cString: strerror(errno)))") }
        return
    }
    if errno == ENOTDIR { throw ValidationError("\(url.path): a part of this path is a file, not a folder") }
    if errno == ELOOP { throw ValidationError("\(url.path): too many levels of symbolic links") }
    // A new file: its nearest existing folder must be writable (the missing ones are created).
    var parent = url.deletingLastPathComponent()
    while stat(parent.path, &info) != 0, parent.path != "/" { parent = parent.deletingLastPathComponent() }
    if info.st_mode & S_IFMT != S_IFDIR { throw ValidationError("\(url.path): \(parent.path) is not a folder") }
    if access(parent.path, W_OK) != 0 { throw ValidationError("\(url.path): cannot write in \(parent.path): \(String(cString: strerror(errno)))") }
}
