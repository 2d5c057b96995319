import Foundation
import Testing
import TensorCore
@testable import Datasets

/// Issue 11, data sets: folder listings survive names that are not UTF-8 and symlink loops, manifests cannot point
/// outside their folder, and the CSV reader turns any malformed byte sequence into an error naming file and line.
@Suite("Hostile data sets")
struct HostileDatasetTests {
    /// Creates an empty file whose name is the raw bytes `name` (not necessarily UTF-8) in `dir`.
    static func createRaw(_ name: [UInt8], in dir: URL) throws {
        let path = Array(dir.path.utf8) + [UInt8(ascii: "/")] + name + [0]
        let fd = path.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) }
        }
        try #require(fd >= 0, "cannot create the test file: \(String(cString: strerror(errno)))")
        close(fd)
    }

    @Test func nonUTF8ImageNameIsANamedErrorAndOtherNamesAreSkipped() throws {
        let t = try TempTree(); defer { t.remove() }
        try t.touch("a.png")
        try Self.createRaw(Array("notes".utf8) + [0xFF] + Array(".txt".utf8), in: t.root)
        #expect(try DatasetLoader.imageFiles(in: t.root).map(\.lastPathComponent) == ["a.png"])
        try Self.createRaw(Array("caf".utf8) + [0xE9] + Array(".png".utf8), in: t.root)
        let e = try #require(throws: DatasetError.self) { try DatasetLoader.imageFiles(in: t.root) }
        print(e)
        #expect(e == .undecodableFileName(folder: t.root.path, name: "caf\\xE9.png"))
        #expect(e.description.contains(t.root.path) && e.description.contains("caf\\xE9.png") && e.description.contains("rename"))
        #expect(e.localizedDescription == e.description)
    }

    @Test func recursiveListingSurvivesASymlinkLoop() throws {
        let t = try TempTree(); defer { t.remove() }
        try t.touch("a.png"); try t.touch("sub/b.png")
        try FileManager.default.createSymbolicLink(atPath: t.root.appendingPathComponent("sub/up").path,
                                                   withDestinationPath: t.root.path)
        let found = try DatasetLoader.imageFiles(in: t.root, recursive: true)
        #expect(found.map(\.lastPathComponent) == ["a.png", "b.png"])
    }

    @Test func manifestPathsOutsideTheFolderAreRefused() throws {
        let manifest = URL(fileURLWithPath: "/data/set/split.csv")
        for (path, column) in [("/etc/passwd", "image"), ("../other/x.png", "image"), ("imgs/../../x.png", "mask")] {
            let csv = column == "image" ? "image,mask,label,split\na.png,,good,train\n\(path),,good,test\n"
                                        : "image,mask,label,split\na.png,,good,train\nb.png,\(path),defect,test\n"
            let e = try #require(throws: DatasetError.self) { try CSVManifest.parse(csv, manifest: manifest) }
            #expect(e == .pathOutsideFolder(file: manifest.path, line: 3, column: column, path: path))
            #expect(e.description.hasPrefix("/data/set/split.csv:3: column \(column)"))
        }
        // Inside the folder (".." only as part of a name, an absolute path under the folder) is fine, and the caller can allow outside paths.
        let ok = try CSVManifest.parse("image,label,split\na..b.png,good,train\n/data/set/imgs/c.png,good,test\n", manifest: manifest)
        #expect(ok.samples.map(\.image.path) == ["/data/set/a..b.png", "/data/set/imgs/c.png"])
        #expect(throws: DatasetError.pathOutsideFolder(file: manifest.path, line: 2, column: "image", path: "/data/settle/a.png")) {
            try CSVManifest.parse("image,label,split\n/data/settle/a.png,good,train\n", manifest: manifest)
        }
        let outside = try CSVManifest.parse(Data("image,label,split\n/x/a.png,good,train\n".utf8), manifest: manifest,
                                            allowPathsOutsideFolder: true)
        #expect(outside.samples[0].image.path == "/x/a.png")
        // The helper for manifest.jsonl readers.
        #expect(throws: DatasetError.pathOutsideFolder(file: "m.jsonl", line: 4, column: "mask", path: "../m.png")) {
            try ManifestPath.resolve("../m.png", in: URL(fileURLWithPath: "/s"), manifest: "m.jsonl", line: 4, field: "mask")
        }
    }

    @Test func malformedCSVBytesAreErrorsNamingFileLineAndField() throws {
        let m = URL(fileURLWithPath: "/d/m.csv")
        func error(_ bytes: [UInt8]) -> DatasetError? {
            do { _ = try CSVManifest.parse(Data(bytes), manifest: m); Issue.record("parsed") } catch let e as DatasetError {
                return e
            } catch { Issue.record("\(error)") }
            return nil
        }
        let header = Array("image,label,split\r\n".utf8)
        // Latin-1 byte in line 3's first field.
        let latin1 = header + Array("a.png,good,train\r\n".utf8) + Array("caf".utf8) + [0xE9] + Array(".png,good,test\r\n".utf8)
        #expect(error(latin1) == .malformedCSV(file: m.path, line: 3, reason: "field 1 is not valid UTF-8 text (save the file as UTF-8)"))
        // A line that never ends (or a binary file): bounded, not buffered whole as one field.
        let huge = header + [UInt8](repeating: UInt8(ascii: "x"), count: 200_000)
        #expect(error(huge) == .malformedCSV(file: m.path, line: 2, reason: "field 1 is longer than 65536 bytes (not a CSV manifest, or a quote left open)"))
        #expect(error(header + Array("\"a.png\"x,good,train\n".utf8)) == .malformedCSV(file: m.path, line: 2, reason: "text after the closing quote of field 1"))
        #expect(error(header + Array("a.png,good\n".utf8)) == .malformedCSV(file: m.path, line: 2, reason: "2 fields, header has 3"))
        #expect(error(header + [0, 1, 2, 0xFF, 0xFE]) != nil)
        #expect(error([]) == .missingColumns(file: m.path, missing: ["image", "label", "split"], found: []))
        // BOM, CRLF, quotes with spaces around them and a quoted empty row still read.
        let fine = [0xEF, 0xBB, 0xBF] + header + Array(" \"a, b.png\" ,good,train\r\n\"\"\r\n".utf8)
        let rows = try CSVReader.parse(Data(fine), file: "f")
        #expect(rows.map(\.line) == [1, 2, 3] && rows[1].fields[0] == "a, b.png" && rows[2].fields == [""])
    }

    @Test func manifestThatIsAFIFOOrDirectoryIsNamedNotBlocking() throws {
        let t = try TempTree(); defer { t.remove() }
        let fifo = t.root.appendingPathComponent("split.csv")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let e = try #require(throws: DatasetError.self) { try DatasetLoader.load(fifo) }
        #expect(e == .io(path: fifo.path, reason: "is a FIFO (named pipe), not a file"))
        let dir = t.root.appendingPathComponent("d.csv")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let d = try #require(throws: DatasetError.self) { try CSVManifest.load(dir) }
        #expect(d == .io(path: dir.path, reason: "is a directory, not a file"))
        var limits = InputLimits(); limits.maxEncodedFileBytes = 10
        let big = try t.touch("big.csv", "image,label,split\na.png,good,train\n")
        #expect(throws: InputFileError.tooLarge(path: big.path, bytes: 35, limit: 10)) { try CSVManifest.load(big, limits: limits) }
    }
}
