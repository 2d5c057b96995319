import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import TensorCore

@Suite struct AtomicFileTests {
    /// A fresh folder per test, removed afterwards.
    private static func withFolder(_ body: (URL) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atomicfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer {
            chmod(dir.path, 0o755)
            try? FileManager.default.removeItem(at: dir)
        }
        try body(dir)
    }

    private static func temporaries(in dir: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".tmp") }
    }

    private static func fileType(_ path: String) -> mode_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & S_IFMT : 0
    }

    @Test func writesNewAndReplacesRegularFiles() throws {
        try Self.withFolder { (dir: URL) throws in
            let file = dir.appendingPathComponent("sub/out.json")
            try AtomicFile.write(Data("one".utf8), to: file)
            try AtomicFile.write(Data("two".utf8), to: file)
            #expect(try String(contentsOf: file, encoding: .utf8) == "two")
            #expect(try Self.temporaries(in: file.deletingLastPathComponent()).isEmpty)
        }
    }

    @Test func writesThroughSymlinkAndKeepsIt() throws {
        try Self.withFolder { (dir: URL) throws in
            let target = dir.appendingPathComponent("real.txt"), link = dir.appendingPathComponent("link.txt")
            try Data("old".utf8).write(to: target)
            try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "real.txt")
            try AtomicFile.write(Data("new".utf8), to: link)
            #expect(Self.fileType(link.path) == S_IFLNK)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link.path) == "real.txt")
            #expect(try String(contentsOf: target, encoding: .utf8) == "new")
            #expect(try Self.temporaries(in: dir).isEmpty)
        }
    }

    @Test func danglingSymlinkCreatesItsTarget() throws {
        try Self.withFolder { (dir: URL) throws in
            let link = dir.appendingPathComponent("link.txt")
            try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "made.txt")
            try AtomicFile.write(Data("x".utf8), to: link)
            #expect(Self.fileType(link.path) == S_IFLNK)
            #expect(try String(contentsOf: dir.appendingPathComponent("made.txt"), encoding: .utf8) == "x")
        }
    }

    @Test func writesThroughFIFO() throws {
        try Self.withFolder { (dir: URL) throws in
            let fifo = dir.appendingPathComponent("pipe")
            #expect(mkfifo(fifo.path, 0o600) == 0)
            let payload = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0) })  // more than a pipe buffer
            let received = Received()
            // The reader must run while the writer blocks in open(2) and write(2).
            // The read end is opened here, before the write, so the writer's open(2) never waits on a thread that
            // failed; plain read(2), as Foundation's file reading may take the FIFO for an empty file. Until the writer
            // has opened its end, read returns 0 (no writer) without meaning EOF, hence the retry until bytes arrive.
            let fd = open(fifo.path, O_RDONLY | O_NONBLOCK)
            try #require(fd >= 0)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            let expected = payload.count
            let reader = Thread {
                var bytes = Data()
                var chunk = [UInt8](repeating: 0, count: 65536)
                let deadline = Date().addingTimeInterval(20)
                while bytes.count < expected && Date() < deadline {
                    let n = read(fd, &chunk, chunk.count)
                    if n > 0 { bytes.append(contentsOf: chunk[0..<n]) } else if n == 0 && !bytes.isEmpty { break } else { usleep(1000) }
                }
                close(fd)
                received.set(bytes)
                received.done.signal()
            }
            reader.start()
            try AtomicFile.write(payload, to: fifo)
            #expect(received.done.wait(timeout: .now() + 30) == .success)
            #expect(received.get() == payload)
            #expect(Self.fileType(fifo.path) == S_IFIFO)
            #expect(try Self.temporaries(in: dir).isEmpty)
        }
    }

    @Test func devNullStaysACharacterDevice() throws {
        try AtomicFile.write(Data("discarded".utf8), to: URL(fileURLWithPath: "/dev/null"))
        #expect(Self.fileType("/dev/null") == S_IFCHR)
        #expect(try Self.temporaries(in: URL(fileURLWithPath: "/dev")).isEmpty)
    }

    @Test func symlinkToCharacterDeviceIsKept() throws {
        try Self.withFolder { (dir: URL) throws in
            let link = dir.appendingPathComponent("sink")
            try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "/dev/null")
            try AtomicFile.write(Data("x".utf8), to: link)
            #expect(Self.fileType(link.path) == S_IFLNK)
            #expect(Self.fileType("/dev/null") == S_IFCHR)
        }
    }

    /// `/dev/stdout` redirected by a shell to a file: the bytes go through the descriptor (in order with what else is
    /// written to it), the file is not replaced (which would detach the descriptor from it).
    @Test func descriptorLinkWritesToTheDescriptorItself() throws {
        try Self.withFolder { dir in
            let file = dir.appendingPathComponent("redirected.txt")
            let fd = open(file.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            try #require(fd >= 0)
            defer { close(fd) }
            var before = stat(), after = stat()
            #expect(write(fd, "before\n", 7) == 7)
            #expect(stat(file.path, &before) == 0)
            try AtomicFile.write(Data("json\n".utf8), to: URL(fileURLWithPath: "/dev/fd/\(fd)"))
            try AtomicFile.write(Data("more\n".utf8), to: URL(fileURLWithPath: "/proc/self/fd/\(fd)"))
            #expect(write(fd, "after\n", 6) == 6)
            #expect(try String(contentsOf: file, encoding: .utf8) == "before\njson\nmore\nafter\n")
            #expect(stat(file.path, &after) == 0 && after.st_ino == before.st_ino)
            #expect(try Self.temporaries(in: dir).isEmpty)
        }
    }

    @Test func refusesDirectory() throws {
        try Self.withFolder { (dir: URL) throws in
            let folder = dir.appendingPathComponent("results")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let error = #expect(throws: AtomicFileError.self) { try AtomicFile.write(Data("x".utf8), to: folder) }
            #expect(error == .notAFile(path: folder.path, reason: "is a directory"))
            #expect(error?.description.contains("\(folder.path) is a directory") == true)
            #expect(Self.fileType(folder.path) == S_IFDIR)
            #expect(try Self.temporaries(in: dir).isEmpty)
        }
    }

    @Test func removesStaleTemporariesOnly() throws {
        try Self.withFolder { (dir: URL) throws in
            let name = "model.safetensors"
            let stale = ".\(name).\(UUID().uuidString).tmp", fresh = ".\(name).\(UUID().uuidString).tmp"
            let otherName = ".other.bin.\(UUID().uuidString).tmp", notOurs = ".\(name).backup.tmp"
            let old = Date().addingTimeInterval(-2 * AtomicFile.staleTemporaryAge)
            for entry in [stale, fresh, otherName, notOurs] {
                let path = dir.appendingPathComponent(entry).path
                #expect(FileManager.default.createFile(atPath: path, contents: Data("partial".utf8)))
                if entry != fresh { try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: path) }
            }
            // A write cleans up what a killed run left, and leaves a possibly live temporary of another writer.
            try AtomicFile.write(Data("x".utf8), to: dir.appendingPathComponent(name))
            #expect(try Set(Self.temporaries(in: dir)) == [fresh, otherName, notOurs])
            #expect(AtomicFile.removeStaleTemporaries(in: dir, for: name, olderThan: 0) == [fresh])
            #expect(AtomicFile.removeStaleTemporaries(in: dir.appendingPathComponent("missing"), for: name).isEmpty)
        }
    }

    @Test func removesTemporariesOfDeadWritersAtOnce() throws {
        try Self.withFolder { (dir: URL) throws in
            let name = "model.safetensors"
            // A child that has exited (and been reaped) is a pid no process holds now.
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/bin/true")
            try child.run()
            child.waitUntilExit()
            let dead = ".\(name).\(child.processIdentifier).\(UUID().uuidString).tmp"
            let live = ".\(name).\(getppid()).\(UUID().uuidString).tmp"
            for entry in [dead, live] {
                #expect(FileManager.default.createFile(atPath: dir.appendingPathComponent(entry).path, contents: Data("partial".utf8)))
            }
            try AtomicFile.write(Data("x".utf8), to: dir.appendingPathComponent(name))
            #expect(try Self.temporaries(in: dir) == [live])
        }
    }

    @Test func interruptCleanupRemovesRegisteredPaths() throws {
        try Self.withFolder { (dir: URL) throws in
            let file = dir.appendingPathComponent(".partial.tmp"), folder = dir.appendingPathComponent("staging")
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("heatmaps"), withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: file.path, contents: Data("x".utf8)))
            let tokens = [InterruptCleanup.register(file.path), InterruptCleanup.register(folder.path)]
            let kept = dir.appendingPathComponent("kept")
            #expect(FileManager.default.createFile(atPath: kept.path, contents: Data("x".utf8)))
            InterruptCleanup.unregister(InterruptCleanup.register(kept.path))
            #expect(Set(InterruptCleanup.removeRegistered()).isSuperset(of: [file.path, folder.path]))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["kept"])
            tokens.forEach(InterruptCleanup.unregister)
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/full"), "needs /dev/full"))
    func fullDiskErrorNamesTheTarget() throws {
        // /dev/full is written through (a device), and every write fails with ENOSPC.
        let error = #expect(throws: AtomicFileError.self) {
            try AtomicFile.write(Data("x".utf8), to: URL(fileURLWithPath: "/dev/full"))
        }
        #expect(error?.description.contains("/dev/full") == true)
        #expect(error?.description.contains("No space left on device") == true)
    }

    // Root ignores folder permissions (the write would succeed), so there is no error to provoke this way.
    @Test(.enabled(if: geteuid() != 0, "root ignores folder permissions, so the write would not fail"))
    func leavesNoTemporaryAfterAnError() throws {
        try Self.withFolder { (dir: URL) throws in
            let locked = dir.appendingPathComponent("locked")
            try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: true)
            let target = locked.appendingPathComponent("out.json")
            try Data("old".utf8).write(to: target)
            chmod(locked.path, 0o555)
            defer { chmod(locked.path, 0o755) }
            let error = #expect(throws: AtomicFileError.self) { try AtomicFile.write(Data("new".utf8), to: target) }
            #expect(error?.description.contains(target.path) == true)
            #expect(error?.description.contains("Permission denied") == true)
            #expect(try Self.temporaries(in: locked).isEmpty)
            #expect(try String(contentsOf: target, encoding: .utf8) == "old")
        }
    }

    @Test func errorNamesPathWhenTemporaryCannotBeMade() throws {
        try Self.withFolder { (dir: URL) throws in
            // A 250-byte name is valid but its temporary (`.<name>.<UUID>.tmp`) is over the 255-byte limit.
            let target = dir.appendingPathComponent(String(repeating: "n", count: 250))
            let error = #expect(throws: AtomicFileError.self) { try AtomicFile.write(Data("x".utf8), to: target) }
            #expect(error?.description.contains(target.path) == true)
            #expect(error?.description.contains("File name too long") == true)
            #expect(try Self.temporaries(in: dir).isEmpty)
        }
    }
}

/// The FIFO reader's result, handed across threads.
private final class Received: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?
    let done = DispatchSemaphore(value: 0)
    func set(_ d: Data?) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data? { lock.lock(); defer { lock.unlock() }; return data }
}
