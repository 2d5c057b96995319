import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a data set, detecting its layout.
///
/// ```swift
/// let bottle = try DatasetLoader.load(URL(fileURLWithPath: "/data/mvtec_ad/bottle"))            // MVTec AD
/// let tiles  = try DatasetLoader.load(URL(fileURLWithPath: "/data/magnetic_tile/split.csv"))    // CSV manifest
/// let images = try DatasetLoader.imageFiles(in: URL(fileURLWithPath: "/incoming"), recursive: true)  // for prediction
/// ```
public enum DatasetLoader {
    /// The layout of `url`, or `nil` when none matches. Order: `.csv` file; folder with `split.csv`/`manifest.csv`;
    /// MVTec AD (`train/good` + `test`); KolektorSDD2 (`train` with `*_GT.png` + `test`).
    public static func detectLayout(_ url: URL) -> DatasetLayout? {
        if !FileListing.isDirectory(url) { return url.pathExtension.lowercased() == "csv" && FileListing.exists(url) ? .csvManifest : nil }
        if manifest(in: url) != nil { return .csvManifest }
        if MVTecADLayout.matches(url) { return .mvtecAD }
        if KolektorSDD2Layout.matches(url) { return .kolektorSDD2 }
        return nil
    }

    /// Loads a labelled data set (see `DatasetLayout` for the accepted layouts).
    /// - Throws: `DatasetError` naming the file (and CSV line) at fault: unknown layout, missing files or
    ///   columns, bad labels, no good training image.
    public static func load(_ url: URL) throws -> Dataset {
        guard FileListing.exists(url) else { throw DatasetError.notFound(path: url.path) }
        guard let layout = detectLayout(url) else {
            throw DatasetError.unknownLayout(path: url.path, reason: try unknownReason(url))
        }
        return try load(url, layout: layout)
    }

    /// Loads `url` as the given layout (no detection).
    public static func load(_ url: URL, layout: DatasetLayout) throws -> Dataset {
        guard FileListing.exists(url) else { throw DatasetError.notFound(path: url.path) }
        switch layout {
        case .mvtecAD: return try MVTecADLayout.load(url)
        case .kolektorSDD2: return try KolektorSDD2Layout.load(url)
        case .csvManifest:
            let csv = FileListing.isDirectory(url) ? manifest(in: url) : url
            guard let csv else { throw DatasetError.missingFile(file: url.appendingPathComponent("split.csv").path, referencedBy: "CSV manifest layout") }
            return try CSVManifestLayout.load(csv)
        }
    }

    /// PNG/JPEG files to run prediction on: `url` itself if it is an image file, else the images in the folder
    /// (sub-folders too when `recursive`), sorted by relative path. Hidden files are skipped.
    /// - Throws: `DatasetError.notFound`, or `.invalidArgument` when no image is found.
    public static func imageFiles(in url: URL, recursive: Bool = false) throws -> [URL] {
        guard FileListing.exists(url) else { throw DatasetError.notFound(path: url.path) }
        if !FileListing.isDirectory(url) {
            guard FileListing.isImage(url) else { throw DatasetError.invalidArgument("\(url.path): not a .png, .jpg or .jpeg file") }
            return [url]
        }
        var found: [(String, URL)] = []
        // Depth-first with an explicit stack (no recursion as deep as the tree); a folder reached twice through
        // symlinks (a loop) is listed once.
        var pending: [(URL, String)] = [(url, "")]
        var visited: Set<[UInt64]> = []
        while let (dir, prefix) = pending.popLast() {
            var info = stat()
            if stat(dir.path, &info) == 0, !visited.insert([UInt64(info.st_dev), UInt64(info.st_ino)]).inserted { continue }
            var subfolders: [(URL, String)] = []
            for entry in try FileListing.contents(of: dir) {
                let rel = prefix + entry.lastPathComponent
                if FileListing.isDirectory(entry) {
                    if recursive { subfolders.append((entry, rel + "/")) }
                } else if FileListing.isImage(entry) {
                    found.append((rel, entry))
                }
            }
            pending.append(contentsOf: subfolders.reversed())
        }
        if found.isEmpty {
            throw DatasetError.invalidArgument("\(url.path): no .png/.jpg/.jpeg images\(recursive ? "" : " (sub-folders not searched; use recursive)")")
        }
        return found.sorted { $0.0 < $1.0 }.map(\.1)
    }

    static func manifest(in dir: URL) -> URL? {
        ["split.csv", "manifest.csv"].map { dir.appendingPathComponent($0) }.first(where: FileListing.exists)
    }

    private static func unknownReason(_ url: URL) throws -> String {
        if !FileListing.isDirectory(url) { return "a file that is not a .csv manifest" }
        let subs = try FileListing.subfolders(of: url)
        let categories = subs.filter(MVTecADLayout.matches).map(\.lastPathComponent)
        if !categories.isEmpty {
            return "this looks like the MVTec AD root; pass one category folder, e.g. \(url.appendingPathComponent(categories[0]).path)"
        }
        if FileListing.isDirectory(url.appendingPathComponent("train")) && !FileListing.isDirectory(url.appendingPathComponent("test")) {
            return "found train/ but no test/"
        }
        return "found \(subs.isEmpty ? "no sub-folders" : "sub-folders " + subs.prefix(6).map(\.lastPathComponent).joined(separator: ", "))"
    }
}
