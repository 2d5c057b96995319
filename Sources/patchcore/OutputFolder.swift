import ArgumentParser
import Foundation

/// Output folders of `predict` and `evaluate`: a run never leaves old heatmaps beside new ones.
enum OutputFolder {
    /// Creates `dir` and removes the entries a previous run wrote there (`names`), keeping anything else.
    static func prepare(_ dir: URL, replacing names: [String]) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: dir.path, isDirectory: &isDir), !isDir.boolValue {
            throw ValidationError("\(dir.path) exists and is not a folder")
        }
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in names {
            let url = dir.appendingPathComponent(name)
            if fm.fileExists(atPath: url.path) { try fm.removeItem(at: url) }
        }
    }

    /// Whether `dir` holds anything.
    static func isNonEmpty(_ dir: URL) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).isEmpty == false
    }
}
