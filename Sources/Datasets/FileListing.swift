import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Directory helpers shared by the loaders.
public enum FileListing {
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    public static func isDirectory(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }

    public static func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }

    public static func isImage(_ url: URL) -> Bool { imageExtensions.contains(url.pathExtension.lowercased()) }

    /// Non-hidden entries of a folder, sorted by name.
    ///
    /// Listed with `opendir` / `readdir` on the raw names: an entry whose name is not UTF-8 cannot be named by a
    /// `URL` or `String` path (Foundation would hand back a lossy name that does not exist), so an image-like one
    /// (`.png`, `.jpg`, `.jpeg`) or a folder throws `DatasetError.undecodableFileName` naming the folder and the name
    /// with its bad bytes escaped, and any other is skipped.
    public static func contents(of dir: URL) throws -> [URL] {
        guard let handle = opendir(dir.path) else {
            throw DatasetError.io(path: dir.path, reason: "cannot list folder: \(String(cString: strerror(errno)))")
        }
        defer { closedir(handle) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(handle) else {
                if errno != 0 {
                    throw DatasetError.io(path: dir.path, reason: "cannot list folder: \(String(cString: strerror(errno)))")
                }
                break
            }
            let raw: [UInt8] = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if raw.first == UInt8(ascii: ".") { continue }  // hidden, "." and ".."
            guard let name = String(validating: raw, as: UTF8.self) else {
                if Int32(entry.pointee.d_type) == Int32(DT_DIR) || looksLikeImage(raw) {
                    throw DatasetError.undecodableFileName(folder: dir.path, name: escaped(raw))
                }
                continue
            }
            names.append(name)
        }
        return names.sorted().map { dir.appendingPathComponent($0) }
    }

    /// Whether raw name bytes end in an image extension (ASCII, any case).
    static func looksLikeImage(_ raw: [UInt8]) -> Bool {
        guard let dot = raw.lastIndex(of: UInt8(ascii: ".")) else { return false }
        let ext = String(decoding: raw[(dot + 1)...], as: UTF8.self).lowercased()
        return imageExtensions.contains(ext)
    }

    /// Printable ASCII kept, every other byte as `\xHH`.
    static func escaped(_ raw: [UInt8]) -> String {
        raw.map { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") ? String(UnicodeScalar($0)) : String(format: "\\x%02X", $0) }
            .joined()
    }

    public static func subfolders(of dir: URL) throws -> [URL] { try contents(of: dir).filter(isDirectory) }

    /// Image files directly in a folder, sorted by name.
    public static func images(in dir: URL) throws -> [URL] { try contents(of: dir).filter { isImage($0) && !isDirectory($0) } }
}
