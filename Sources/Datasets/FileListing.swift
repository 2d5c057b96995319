import Foundation

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
    public static func contents(of dir: URL) throws -> [URL] {
        do {
            return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
                .filter { !$0.lastPathComponent.hasPrefix(".") }
                .sorted { $0.lastPathComponent < $1.lastPathComponent }
        } catch {
            throw DatasetError.io(path: dir.path, reason: "cannot list folder: \(error.localizedDescription)")
        }
    }

    public static func subfolders(of dir: URL) throws -> [URL] { try contents(of: dir).filter(isDirectory) }

    /// Image files directly in a folder, sorted by name.
    public static func images(in dir: URL) throws -> [URL] { try contents(of: dir).filter { isImage($0) && !isDirectory($0) } }
}
