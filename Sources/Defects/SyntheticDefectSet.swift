import Foundation
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
public enum SyntheticDefectSetError: Error, CustomStringConvertible, Equatable {
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
        let text: String
        do { text = try String(contentsOf: manifest, encoding: .utf8) } catch {
            throw DatasetError.io(path: manifest.path, reason: error.localizedDescription)
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var out: [SyntheticDefectRecord] = []
        let decoder = JSONDecoder()
        for (i, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            do {
                out.append(try decoder.decode(SyntheticDefectRecord.self, from: Data(line.utf8)))
            } catch {
                let isTornTail = i == lines.count - 1 && !text.hasSuffix("\n")
                if isTornTail { break }
                throw SyntheticDefectSetError.badManifestLine(file: manifest.path, line: i + 1, reason: "\(error)")
            }
        }
        return out
    }

    /// Appends samples to a folder, creating it; `existingIDs` lets a rerun skip finished samples.
    public final class Writer {
        public let folder: URL
        public private(set) var existingIDs: Set<String>
        private let handle: FileHandle

        public init(folder: URL) throws {
            self.folder = folder
            let fm = FileManager.default
            do {
                for sub in ["images", "masks"] {
                    try fm.createDirectory(at: folder.appendingPathComponent(sub), withIntermediateDirectories: true)
                }
            } catch {
                throw DatasetError.io(path: folder.path, reason: "cannot create output folder: \(error.localizedDescription)")
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
                throw DatasetError.io(path: manifest.path, reason: "cannot open for appending: \(error.localizedDescription)")
            }
            try handle.seekToEnd()
        }

        deinit { try? handle.close() }

        /// Writes `images/<id>.png` and `masks/<id>.png` atomically, then appends the record (with `image`/`mask`
        /// set to those relative paths).
        public func write(id: String, image: Image, mask: Image, record: SyntheticDefectRecord) throws {
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
                                      reason: "cannot append: \(error.localizedDescription)")
            }
            existingIDs.insert(id)
        }
    }
}
