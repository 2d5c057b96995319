import Foundation
#if canImport(Glibc)
import Glibc
#endif
import ImageIO
import Datasets
import TensorCore

/// An image file and its defect mask (same size; mask foreground > 127).
public struct DefectPair: Sendable, Equatable, Hashable {
    public var image: URL
    public var mask: URL
    public init(image: URL, mask: URL) { self.image = image; self.mask = mask }
}

/// One line of a synthetic set's `manifest.jsonl`: everything needed to regenerate the sample.
///
/// Generators fill the fields that apply to them (`prompt` only for diffusion, `method` for the classical one);
/// `parameters` holds the generator's remaining settings as strings so the record stays one flat, stable schema.
public struct SyntheticDefectRecord: Sendable, Codable, Equatable {
    public var id: String
    /// Paths relative to the set's folder.
    public var image: String
    public var mask: String
    /// `classical` or `diffusion`.
    public var generator: String
    /// The seed this sample was made from (samples are independent: regenerating one needs only its record).
    public var seed: UInt64
    public var sourceImage: String?
    public var sourceMask: String?
    public var method: String?
    public var prompt: String?
    public var negativePrompt: String?
    public var parameters: [String: String]

    public init(id: String, image: String, mask: String, generator: String, seed: UInt64,
                sourceImage: String? = nil, sourceMask: String? = nil, method: String? = nil,
                prompt: String? = nil, negativePrompt: String? = nil, parameters: [String: String] = [:]) {
        self.id = id; self.image = image; self.mask = mask; self.generator = generator; self.seed = seed
        self.sourceImage = sourceImage; self.sourceMask = sourceMask; self.method = method
        self.prompt = prompt; self.negativePrompt = negativePrompt; self.parameters = parameters
    }

    enum CodingKeys: String, CodingKey {
        case id, image, mask, generator, seed, method, prompt, parameters
        case sourceImage = "source_image", sourceMask = "source_mask", negativePrompt = "negative_prompt"
    }
}

/// Why a synthetic defect folder could not be read or written.
public enum SyntheticDefectSetError: Error, CustomStringConvertible, Equatable, Sendable, LocalizedError {
    case notAFolder(path: String)
    case empty(path: String)
    case missingMask(image: String, expected: String)
    case badManifestLine(file: String, line: Int, reason: String)
    case missingFile(file: String, referencedBy: String)
    case badReview(file: String, reason: String)
    case unknownSamples(folder: String, ids: [String])
    case allRejected(path: String, count: Int)

    public var description: String {
        switch self {
        case let .notAFolder(p): return "\(p): not a folder of synthetic defects (expected images/ and masks/ inside)"
        case let .empty(p): return "\(p): no image + mask pairs (expected images/<id>.png with masks/<id>.png)"
        case let .missingMask(i, e): return "\(i): no mask (expected \(e))"
        case let .badManifestLine(f, l, r): return "\(f):\(l): bad manifest line: \(r)"
        case let .missingFile(f, r): return "\(f): missing (listed in \(r))"
        case let .badReview(f, r): return "\(f): not a review file ({\"accepted\": [ids], \"rejected\": [ids]}): \(r)"
        case let .unknownSamples(f, ids):
            return "\(f): no sample with id \(ids.map { "'\($0)'" }.joined(separator: ", ")) (ids are the file names in images/ without extension)"
        case let .allRejected(p, n): return "\(p): all \(n) sample(s) are rejected in \(SyntheticDefectReview.fileName)"
        }
    }

    public var errorDescription: String? { description }
}

/// The on-disk layout shared by every defect generator (`patchcore synthesize`, classical or diffusion) and read by
/// the positive bank (`--positives DIR`):
///
/// ```
/// DIR/images/<id>.png    the defective image
/// DIR/masks/<id>.png     its 0/255 mask, same size
/// DIR/manifest.jsonl     one SyntheticDefectRecord per line (optional for hand-made folders)
/// ```
/// A sample exists once its manifest line is written; the image and mask are written atomically before it, so an
/// interrupted run never leaves a listed pair half-written, and a rerun skips the ids already listed.
public enum SyntheticDefectSet {
    public static let manifestName = "manifest.jsonl"

    /// The image + mask pairs of a folder: the manifest's entries when it exists, else images/ paired with masks/ by
    /// file name (any PNG/JPEG extension); without the samples an expert rejected in review.json
    /// (`SyntheticDefectReview`) unless `includingRejected`.
    ///
    /// ```swift
    /// let pairs = try SyntheticDefectSet.pairs(in: URL(fileURLWithPath: "synthetic/"))
    /// ```
    public static func pairs(in folder: URL, includingRejected: Bool = false) throws -> [DefectPair] {
        let images = folder.appendingPathComponent("images"), masks = folder.appendingPathComponent("masks")
        guard FileListing.isDirectory(folder), FileListing.isDirectory(images), FileListing.isDirectory(masks) else {
            throw SyntheticDefectSetError.notAFolder(path: folder.path)
        }
        let manifest = folder.appendingPathComponent(manifestName)
        var pairs: [DefectPair] = []
        if FileListing.exists(manifest) {
            for record in try records(in: folder) {
                // records(in:) has checked that both paths stay inside the folder.
                let pair = DefectPair(image: folder.appendingPathComponent(record.image),
                                      mask: folder.appendingPathComponent(record.mask))
                for file in [pair.image, pair.mask] where !FileListing.exists(file) {
                    throw SyntheticDefectSetError.missingFile(file: file.path, referencedBy: manifest.path)
                }
                pairs.append(pair)
            }
        } else {
            let maskByStem = Dictionary(try FileListing.images(in: masks).map {
                ($0.deletingPathExtension().lastPathComponent, $0)
            }, uniquingKeysWith: { a, _ in a })
            for image in try FileListing.images(in: images) {
                let stem = image.deletingPathExtension().lastPathComponent
                guard let mask = maskByStem[stem] else {
                    throw SyntheticDefectSetError.missingMask(image: image.path, expected: masks.appendingPathComponent(stem + ".png").path)
                }
                pairs.append(DefectPair(image: image, mask: mask))
            }
        }
        if pairs.isEmpty { throw SyntheticDefectSetError.empty(path: folder.path) }
        if includingRejected { return pairs }
        let rejected = try SyntheticDefectReview.load(folder: folder).rejected
        if rejected.isEmpty { return pairs }
        let kept = pairs.filter { !rejected.contains($0.id) }
        if kept.isEmpty { throw SyntheticDefectSetError.allRejected(path: folder.path, count: pairs.count) }
        return kept
    }

    /// The manifest's records, in file order (empty when there is no manifest). A torn last line (a run killed while
    /// appending) is ignored; any other bad line is an error naming the line.
    public static func records(in folder: URL) throws -> [SyntheticDefectRecord] {
        let manifest = folder.appendingPathComponent(manifestName)
        guard FileListing.exists(manifest) else { return [] }
        let data: Data
        do { data = try InputFile.read(manifest) } catch let error as InputFileError {
            throw DatasetError.io(path: manifest.path, reason: error.description)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SyntheticDefectSetError.badManifestLine(file: manifest.path, line: 1, reason: "the file is not UTF-8 text")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var out: [SyntheticDefectRecord] = []
        let decoder = JSONDecoder()
        for (i, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let record: SyntheticDefectRecord
            do {
                record = try decoder.decode(SyntheticDefectRecord.self, from: Data(line.utf8))
            } catch {
                let isTornTail = i == lines.count - 1 && !text.hasSuffix("\n")
                if isTornTail { break }
                throw SyntheticDefectSetError.badManifestLine(file: manifest.path, line: i + 1, reason: describe(error))
            }
            for (field, path) in [("image", record.image), ("mask", record.mask)] {
                if let reason = outsideReason(path) {
                    throw SyntheticDefectSetError.badManifestLine(
                        file: manifest.path, line: i + 1, reason: "\(field) \"\(path)\" \(reason)")
                }
            }
            out.append(record)
        }
        return out
    }

    /// Why a path from a file does not name a file inside the set's folder (absolute, `..`, empty), or nil when it
    /// does. Paths are kept relative so that a moved folder still works, and must not reach outside it.
    public static func outsideReason(_ path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path.hasPrefix("/") { return "is absolute; expected a path relative to the folder (images/<id>.png)" }
        if path.contains("\0") { return "contains a NUL character" }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        if parts.contains("..") { return "contains \"..\" and would point outside the folder" }
        if parts.isEmpty || parts.allSatisfy({ $0 == "." }) { return "names the folder itself, not a file" }
        return nil
    }

    /// A decoding error as "field id: expected a string" (never Foundation's dump).
    static func describe(_ error: Error) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.isEmpty ? "the line" : "field " + keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case let DecodingError.typeMismatch(type, c): return "\(path(c.codingPath)): expected \(typeName(type))"
        case let DecodingError.valueNotFound(type, c): return "\(path(c.codingPath)): expected \(typeName(type)), got null"
        case let DecodingError.keyNotFound(key, _): return "missing field \(key.stringValue)"
        case let DecodingError.dataCorrupted(c):
            // Foundation reports a number that does not fit its field (a negative seed) as invalid JSON, without a path.
            return c.codingPath.isEmpty ? "not a JSON object, or a number that does not fit its field (seed is a non-negative integer)"
                : "\(path(c.codingPath)): invalid value"
        default: return "not a JSON object"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is UInt64.Type, is Int.Type: return "a non-negative integer"
        case is [String: String].Type: return "an object of strings"
        default: return "\(type)"
        }
    }

    /// Appends samples to a folder, creating it; `existingIDs` lets a rerun skip finished samples.
    public final class Writer {
        public let folder: URL
        public private(set) var existingIDs: Set<String>
        /// Temporaries (`.<name>.<UUID>.tmp`, relative to `folder`) that earlier, killed runs left and this writer
        /// removed when it opened the folder.
        public private(set) var removedTemporaries: [String] = []
        /// Temporaries left in place because another writer holds the folder and they are younger than
        /// `AtomicFile.staleTemporaryAge` (they may be its writes in flight).
        public private(set) var keptTemporaries: [String] = []
        private let handle: FileHandle
        /// An exclusive `flock` on the folder while this writer is open (-1 when another writer holds it).
        private let lockDescriptor: Int32

        public init(folder: URL) throws {
            self.folder = folder
            let fm = FileManager.default
            do {
                for sub in ["images", "masks"] {
                    try fm.createDirectory(at: folder.appendingPathComponent(sub), withIntermediateDirectories: true)
                }
            } catch {
                throw DatasetError.io(path: folder.path, reason: "cannot create output folder (a file in the way, or no permission)")
            }
            // Holding the folder's lock means no other writer (this process or another) is writing here, so every
            // temporary of the files a writer makes is left over from a killed run and can go now; without the lock,
            // only those older than AtomicFile.staleTemporaryAge go and the rest are listed.
            lockDescriptor = Writer.lock(folder)
            let age: TimeInterval = lockDescriptor >= 0 ? 0 : AtomicFile.staleTemporaryAge
            for sub in ["", "images", "masks"] {
                let dir = sub.isEmpty ? folder : folder.appendingPathComponent(sub)
                for name in Writer.temporaryTargets(in: dir, root: sub.isEmpty) {
                    let removed = AtomicFile.removeStaleTemporaries(in: dir, for: name, olderThan: age)
                    removedTemporaries += removed.map { sub.isEmpty ? $0 : "\(sub)/\($0)" }
                }
                for name in Writer.temporaryTargets(in: dir, root: sub.isEmpty) {
                    keptTemporaries.append(sub.isEmpty ? ".\(name).*.tmp" : "\(sub)/.\(name).*.tmp")
                }
            }
            let manifest = folder.appendingPathComponent(SyntheticDefectSet.manifestName)
            var records = try SyntheticDefectSet.records(in: folder)
            // Keep only complete samples; rewrite the manifest when a torn line or a missing file was dropped.
            let complete = records.filter {
                FileListing.exists(folder.appendingPathComponent($0.image)) && FileListing.exists(folder.appendingPathComponent($0.mask))
            }
            let onDisk = (try? Data(contentsOf: manifest)) ?? Data()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let canonical = try complete.map { String(decoding: try encoder.encode($0), as: UTF8.self) + "\n" }.joined()
            if complete.count != records.count || (!onDisk.isEmpty && onDisk.last != UInt8(ascii: "\n")) || !FileListing.exists(manifest) {
                try AtomicFile.write(Data(canonical.utf8), to: manifest)
            }
            records = complete
            existingIDs = Set(records.map(\.id))
            do { handle = try FileHandle(forWritingTo: manifest) } catch {
                throw DatasetError.io(path: manifest.path, reason: "cannot open for appending")
            }
            try handle.seekToEnd()
        }

        deinit {
            try? handle.close()
            if lockDescriptor >= 0 { close(lockDescriptor) }
        }

        /// An exclusive, non-blocking lock on `folder` (released by the kernel when the process dies), or -1.
        static func lock(_ folder: URL) -> Int32 {
            let fd = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { return -1 }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 { close(fd); return -1 }
            return fd
        }

        /// The destination names of AtomicFile temporaries in `dir` that a writer makes: `<id>.png` in images/ and
        /// masks/, the manifest in the folder itself. Other files' temporaries (review.json, ...) are not touched.
        static func temporaryTargets(in dir: URL, root: Bool) -> [String] {
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [] }
            var names = Set<String>()
            for entry in entries where entry.hasPrefix(".") && entry.hasSuffix(".tmp") && entry.count > 42 {
                // ".<name>.<36-character UUID>.tmp"
                let name = String(entry.dropFirst().dropLast(4 + 37))
                if root ? name == SyntheticDefectSet.manifestName : name.hasSuffix(".png") { names.insert(name) }
            }
            return names.sorted()
        }

        /// Writes `images/<id>.png` and `masks/<id>.png` atomically, then appends the record (with `image`/`mask`
        /// set to those relative paths).
        public func write(id: String, image: Image, mask: Image, record: SyntheticDefectRecord) throws {
            guard !id.isEmpty, !id.contains("/"), id != ".", id != "..", !id.contains("\0") else {
                throw DefectSynthesisError.invalidArgument("sample id \"\(id)\" must be a plain file name (no \"/\", not \"..\")")
            }
            var record = record
            record.id = id
            record.image = "images/\(id).png"
            record.mask = "masks/\(id).png"
            try ImageFile.writePNG(image, to: folder.appendingPathComponent(record.image))
            try ImageFile.writePNG(mask, to: folder.appendingPathComponent(record.mask))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let line = String(decoding: try encoder.encode(record), as: UTF8.self) + "\n"
            do { try handle.write(contentsOf: Data(line.utf8)) } catch {
                throw DatasetError.io(path: folder.appendingPathComponent(SyntheticDefectSet.manifestName).path,
                                      reason: "cannot append (disk full or no permission)")
            }
            existingIDs.insert(id)
        }
    }
}
