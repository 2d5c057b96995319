import Foundation
import TensorCore

/// Minimal RFC 4180 CSV reader: comma-separated, fields optionally in double quotes (`""` escapes a quote,
/// quoted fields may hold commas and newlines; spaces may surround the quotes), LF or CRLF line ends, a UTF-8 BOM is
/// skipped, blank lines ignored. It works on the UTF-8 bytes (every delimiter is ASCII) in one loop, without
/// recursion. Bytes that are not UTF-8, a field longer than `maxFieldBytes` (a line that never ends, a binary file)
/// or text after a closing quote are errors naming the file, line and column.
enum CSVReader {
    static let maxFieldBytes = 1 << 16

    /// Rows with the 1-based line number each starts on.
    static func parse(_ text: String, file: String) throws -> [(line: Int, fields: [String])] {
        try parse(bytes: Array(text.utf8), file: file)
    }

    /// Rows of UTF-8 `data`; invalid UTF-8 is an error naming the line.
    static func parse(_ data: Data, file: String) throws -> [(line: Int, fields: [String])] {
        try parse(bytes: [UInt8](data), file: file)
    }

    static func parse(bytes: [UInt8], file: String) throws -> [(line: Int, fields: [String])] {
        var rows: [(Int, [String])] = []
        var field: [UInt8] = [], fields: [String] = []
        // inQuotes: between a field's quotes; quoted: the field had quotes; closed: its closing quote was seen.
        var inQuotes = false, quoted = false, closed = false
        var line = 1, rowLine = 1
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0

        func endField() throws {
            guard let text = String(validating: field, as: UTF8.self) else {
                throw DatasetError.malformedCSV(file: file, line: line, reason: "field \(fields.count + 1) is not valid "
                                                + "UTF-8 text (save the file as UTF-8)")
            }
            // Unquoted fields keep their spaces (callers trim); a quoted one is exactly what was between the quotes.
            fields.append(text)
            field = []
        }
        func endRow() throws {
            let lastQuoted = quoted
            try endField()
            if !(fields.count == 1 && fields[0].trimmingCharacters(in: .whitespaces).isEmpty && !lastQuoted) {
                rows.append((rowLine, fields))
            }
            fields = []
            quoted = false; closed = false
        }
        while i < bytes.count {
            let c = bytes[i]
            if inQuotes {
                if c == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") { field.append(c); i += 1 } else {
                        inQuotes = false; closed = true
                    }
                } else {
                    if c == UInt8(ascii: "\n") { line += 1 }
                    field.append(c)
                }
            } else {
                switch c {
                case UInt8(ascii: "\""):
                    guard !closed, field.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) else {
                        throw DatasetError.malformedCSV(file: file, line: line, reason: "quote inside an unquoted field")
                    }
                    field = []; inQuotes = true; quoted = true
                case UInt8(ascii: ","):
                    try endField(); quoted = false; closed = false
                case UInt8(ascii: "\r"): break
                case UInt8(ascii: "\n"): try endRow(); line += 1; rowLine = line
                case 0x20, 0x09: if !closed { field.append(c) }
                default:
                    if closed {
                        throw DatasetError.malformedCSV(file: file, line: line,
                                                        reason: "text after the closing quote of field \(fields.count + 1)")
                    }
                    field.append(c)
                }
            }
            if field.count > maxFieldBytes {
                throw DatasetError.malformedCSV(file: file, line: line, reason: "field \(fields.count + 1) is longer than "
                                                + "\(maxFieldBytes) bytes (not a CSV manifest, or a quote left open)")
            }
            i += 1
        }
        if inQuotes { throw DatasetError.malformedCSV(file: file, line: rowLine, reason: "unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty || quoted { try endRow() }
        return rows
    }
}

/// A CSV manifest: header `image,mask,label,split[,defect_type]` in any column order (names case-insensitive),
/// paths relative to the CSV's folder (absolute paths only inside that folder), empty `mask` = no mask,
/// label `good|normal|ok` or `defect|anomaly|ng` (case-insensitive), split `train|test`.
/// The `mask` and `defect_type` columns may be omitted; `defect_type` defaults to `good` / `defect`.
/// A path that leads outside the CSV's folder (absolute elsewhere, or with a `..` component) is refused with an error naming
/// the manifest, line, column and path, unless `allowPathsOutsideFolder` is set.
///
/// ```
/// image,mask,label,defect_type,split
/// MT_Blowhole/Imgs/exp1_num_108719.jpg,MT_Blowhole/Imgs/exp1_num_108719.png,defect,blowhole,test
/// ```
///
/// ```swift
/// let ds = try CSVManifest.parse(Data(csv.utf8), manifest: URL(fileURLWithPath: "/data/tiles/split.csv"))  // no I/O
/// ```
public enum CSVManifest {
    /// Reads `csv` (at most `limits.maxEncodedFileBytes`; a directory, FIFO or device is refused by name) and parses it.
    public static func load(_ csv: URL, checkFilesExist: Bool = true, allowPathsOutsideFolder: Bool = false,
                            limits: InputLimits = .current) throws -> Dataset {
        let data = try DatasetError.reading(csv, limit: limits.maxEncodedFileBytes)
        return try parse(data, manifest: csv, checkFilesExist: checkFilesExist,
                         allowPathsOutsideFolder: allowPathsOutsideFolder)
    }

    /// Parses manifest bytes (UTF-8) as if read from `manifest`, which names it in errors and is the folder paths are
    /// relative to. Touches no file unless `checkFilesExist`.
    public static func parse(_ data: Data, manifest: URL, checkFilesExist: Bool = false,
                             allowPathsOutsideFolder: Bool = false) throws -> Dataset {
        try dataset(CSVReader.parse(data, file: manifest.path), manifest: manifest, checkFilesExist: checkFilesExist,
                    allowPathsOutsideFolder: allowPathsOutsideFolder)
    }

    /// `parse` on text already decoded.
    public static func parse(_ text: String, manifest: URL, checkFilesExist: Bool = false,
                             allowPathsOutsideFolder: Bool = false) throws -> Dataset {
        try dataset(CSVReader.parse(text, file: manifest.path), manifest: manifest, checkFilesExist: checkFilesExist,
                    allowPathsOutsideFolder: allowPathsOutsideFolder)
    }

    static let goodLabels: Set<String> = ["good", "normal", "ok"]
    static let defectLabels: Set<String> = ["defect", "anomaly", "ng"]

    static func dataset(_ rows: [(line: Int, fields: [String])], manifest csv: URL, checkFilesExist: Bool,
                        allowPathsOutsideFolder: Bool) throws -> Dataset {
        guard let header = rows.first else {
            throw DatasetError.missingColumns(file: csv.path, missing: ["image", "label", "split"], found: [])
        }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let missing = ["image", "label", "split"].filter { !names.contains($0) }
        if !missing.isEmpty { throw DatasetError.missingColumns(file: csv.path, missing: missing, found: names) }
        func column(_ n: String) -> Int? { names.firstIndex(of: n) }
        let ci = column("image")!, cl = column("label")!, cs = column("split")!
        let cm = column("mask"), ct = column("defect_type")
        let base = csv.deletingLastPathComponent()
        func resolve(_ p: String, line: Int, column: String) throws -> URL {
            try ManifestPath.resolve(p, in: base, manifest: csv.path, line: line, field: column,
                                     allowOutside: allowPathsOutsideFolder)
        }

        var samples: [Sample] = []
        for (line, raw) in rows.dropFirst() {
            guard raw.count == names.count else {
                throw DatasetError.malformedCSV(file: csv.path, line: line, reason: "\(raw.count) fields, header has \(names.count)")
            }
            let f = raw.map { $0.trimmingCharacters(in: .whitespaces) }
            let labelText = f[cl].lowercased()
            let label: Label
            if goodLabels.contains(labelText) { label = .good } else if defectLabels.contains(labelText) { label = .defect } else {
                throw DatasetError.badValue(file: csv.path, line: line, column: "label", value: f[cl],
                                            expected: "good/normal/ok or defect/anomaly/ng")
            }
            guard let split = Split(rawValue: f[cs].lowercased()) else {
                throw DatasetError.badValue(file: csv.path, line: line, column: "split", value: f[cs], expected: "train or test")
            }
            guard !f[ci].isEmpty else {
                throw DatasetError.badValue(file: csv.path, line: line, column: "image", value: "", expected: "an image path")
            }
            let image = try resolve(f[ci], line: line, column: "image")
            let mask = try cm.flatMap { f[$0].isEmpty ? nil : try resolve(f[$0], line: line, column: "mask") }
            if checkFilesExist {
                if !FileListing.exists(image) { throw DatasetError.missingFile(file: image.path, referencedBy: "\(csv.path) line \(line)") }
                if let mask, !FileListing.exists(mask) { throw DatasetError.missingFile(file: mask.path, referencedBy: "\(csv.path) line \(line)") }
            }
            let type = ct.map { f[$0] }.flatMap { $0.isEmpty ? nil : $0 } ?? label.rawValue
            samples.append(Sample(image: image, mask: mask, label: label, split: split, defectType: type))
        }
        if !samples.contains(where: { $0.split == .train && $0.label == .good }) {
            throw DatasetError.emptyTrainingSet(path: csv.path)
        }
        let name = csv.lastPathComponent == "split.csv" || csv.lastPathComponent == "manifest.csv"
            ? base.lastPathComponent : csv.deletingPathExtension().lastPathComponent
        return Dataset(name: name, root: csv, layout: .csvManifest, samples: samples)
    }
}

/// The loader's name for the CSV layout.
enum CSVManifestLayout {
    static func load(_ csv: URL, checkFilesExist: Bool = true) throws -> Dataset {
        try CSVManifest.load(csv, checkFilesExist: checkFilesExist)
    }
}

/// Paths written in a manifest (CSV, `manifest.jsonl`): relative to the manifest's folder and inside it.
public enum ManifestPath {
    /// `folder/path` (or `path` itself when it is an absolute path inside `folder`), or an error naming the manifest,
    /// line and field when `path` is empty, holds a NUL or control character, is an absolute path outside `folder`, or
    /// has a `..` component (unless `allowOutside`).
    ///
    /// ```swift
    /// let image = try ManifestPath.resolve(record.image, in: folder, manifest: manifestURL.path, line: 12, field: "image")
    /// ```
    public static func resolve(_ path: String, in folder: URL, manifest: String, line: Int, field: String,
                               allowOutside: Bool = false) throws -> URL {
        guard !path.isEmpty else {
            throw DatasetError.badValue(file: manifest, line: line, column: field, value: "", expected: "a path")
        }
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw DatasetError.badValue(file: manifest, line: line, column: field, value: path.debugDescription,
                                        expected: "a path without control characters")
        }
        let absolute = path.hasPrefix("/")
        if !allowOutside {
            let inside: Bool
            if path.split(separator: "/").contains("..") {
                inside = false
            } else if absolute {
                let base = folder.standardizedFileURL.pathComponents
                let target = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
                inside = target.count > base.count && Array(target.prefix(base.count)) == base
            } else {
                inside = true
            }
            guard inside else { throw DatasetError.pathOutsideFolder(file: manifest, line: line, column: field, path: path) }
        }
        return absolute ? URL(fileURLWithPath: path) : folder.appendingPathComponent(path)
    }
}
