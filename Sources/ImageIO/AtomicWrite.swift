import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes bytes to a temp file in the destination folder, then renames it over the destination,
/// so readers never see a half-written file. (ImageIO's own copy; Checkpoints has `AtomicFile`.)
enum AtomicWrite {
    static func write(_ bytes: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        let temp = dir.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try bytes.write(to: temp)
        } catch {
            throw ImageError.writeFailed(file: url.path, reason: (error as NSError).localizedDescription)
        }
        if rename(temp.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temp)
            throw ImageError.writeFailed(file: url.path, reason: "rename from temp file failed: \(reason)")
        }
    }
}
