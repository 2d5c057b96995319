import Crypto
import Foundation
import TensorCore

/// Images, heatmaps, masks and model files as content-addressed files: `DIR/blobs/ab/<sha256>`. A blob is named by
/// the SHA-256 of its bytes and written atomically (`AtomicFile`: temporary file, fsync, rename), so a reader never
/// sees half a file, the same bytes are stored once, and several replicas can share one folder. Names come only
/// from hashing: a client's file name never becomes a path.
public struct BlobStore: Sendable {
    public let root: URL

    public init(root: URL) throws {
        self.root = root
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw StoreError.unavailable(location: root.path, reason: "cannot create the blob folder")
        }
    }

    public static func name(of data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// Stores `data` (once: an existing blob of the same content is kept) and returns its name.
    @discardableResult
    public func put(_ data: Data) throws -> String {
        let name = Self.name(of: data)
        let url = try self.url(of: name)
        if FileManager.default.fileExists(atPath: url.path) { return name }
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try AtomicFile.write(data, to: url)
        } catch {
            throw StoreError.unavailable(location: url.path, reason: "cannot write the blob: \(error)")
        }
        return name
    }

    public func get(_ name: String) throws -> Data {
        let url = try self.url(of: name)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw StoreError.notFound(kind: "blob", key: name)
        }
        return data
    }

    public func contains(_ name: String) -> Bool {
        guard let url = try? url(of: name) else { return false }
        return FileManager.default.fileExists(atPath: url.path)
    }

    /// The file of a blob; refuses any name that is not 64 lowercase hex digits.
    public func url(of name: String) throws -> URL {
        guard name.utf8.count == 64, name.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw StoreError.badBlob("'\(name.prefix(80))' is not a blob name (64 lowercase hex digits)")
        }
        return root.appendingPathComponent(String(name.prefix(2))).appendingPathComponent(name)
    }
}
