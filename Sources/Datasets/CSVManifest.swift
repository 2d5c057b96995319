import Foundation

/// Minimal RFC 4180 CSV reader: comma-separated, fields optionally in double quotes (`""` escapes a quote,
/// quoted fields may hold commas and newlines), LF or CRLF line ends, a UTF-8 BOM is skipped, blank lines ignored.
enum CSVReader {
    /// Rows with the 1-based line number each starts on.
    static func parse(_ text: String, file: String) throws -> [(line: Int, fields: [String])] {
        var rows: [(Int, [String])] = []
        var field = "", fields: [String] = []
        var inQuotes = false, fieldWasQuoted = false
        var line = 1, rowLine = 1
        var chars = Array(text.unicodeScalars)
        if chars.first == "\u{FEFF}" { chars.removeFirst() }
        var i = 0
        func endRow() {
            fields.append(field)
            if !(fields.count == 1 && fields[0].trimmingCharacters(in: .whitespaces).isEmpty && !fieldWasQuoted) {
                rows.append((rowLine, fields))
            }
            fields = []; field = ""; fieldWasQuoted = false
        }
        while i < chars.count {
            let c = chars[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < chars.count && chars[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 1 } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
            } else {
                switch c {
                case "\"":
                    if field.trimmingCharacters(in: .whitespaces).isEmpty { field = ""; inQuotes = true; fieldWasQuoted = true } else {
                        throw DatasetError.malformedCSV(file: file, line: line, reason: "quote inside an unquoted field")
                    }
                case ",": fields.append(field); field = ""; fieldWasQuoted = false
                case "\r": break
                case "\n": endRow(); line += 1; rowLine = line
                default: field.unicodeScalars.append(c)
                }
            }
            i += 1
        }
        if inQuotes { throw DatasetError.malformedCSV(file: file, line: rowLine, reason: "unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty { endRow() }
        return rows
    }
}

/// A CSV manifest: header `image,mask,label,split[,defect_type]` in any column order (names case-insensitive),
/// paths relative to the CSV's folder (absolute paths allowed), empty `mask` = no mask,
/// label `good|normal|ok` or `defect|anomaly|ng` (case-insensitive), split `train|test`.
/// The `mask` and `defect_type` columns may be omitted; `defect_type` defaults to `good` / `defect`.
///
/// ```
/// image,mask,label,defect_type,split
/// MT_Blowhole/Imgs/exp1_num_108719.jpg,MT_Blowhole/Imgs/exp1_num_108719.png,defect,blowhole,test
/// ```
enum CSVManifestLayout {
    static let goodLabels: Set<String> = ["good", "normal", "ok"]
    static let defectLabels: Set<String> = ["defect", "anomaly", "ng"]

    static func load(_ csv: URL, checkFilesExist: Bool = true) throws -> Dataset {
        let text: String
        do { text = try String(contentsOf: csv, encoding: .utf8) } catch {
            throw DatasetError.io(path: csv.path, reason: "cannot read as UTF-8 text: \(error.localizedDescription)")
        }
        let rows = try CSVReader.parse(text, file: csv.path)
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
        func resolve(_ p: String) -> URL { p.hasPrefix("/") ? URL(fileURLWithPath: p) : base.appendingPathComponent(p) }

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
            let image = resolve(f[ci])
            let mask = cm.flatMap { f[$0].isEmpty ? nil : resolve(f[$0]) }
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
