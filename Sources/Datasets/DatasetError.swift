import Foundation

/// Why a data set could not be loaded or generated. Every case names the file (and line, for CSVs).
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// The path does not exist.
    case notFound(path: String)
    /// A file that the layout requires is missing; `referencedBy` says where it was expected from.
    case missingFile(file: String, referencedBy: String)
    /// The folder matches none of the accepted layouts.
    case unknownLayout(path: String, reason: String)
    /// The CSV header lacks required columns.
    case missingColumns(file: String, missing: [String], found: [String])
    /// A CSV cell holds an unusable value.
    case badValue(file: String, line: Int, column: String, value: String, expected: String)
    /// The CSV is not well-formed (e.g. unterminated quote, wrong number of fields).
    case malformedCSV(file: String, line: Int, reason: String)
    /// No good training image.
    case emptyTrainingSet(path: String)
    /// A folder or file could not be listed/read/written.
    case io(path: String, reason: String)
    /// Bad argument to a generator or loader.
    case invalidArgument(String)

    /// The layouts `DatasetLoader.load` accepts, for error messages.
    public static let acceptedLayouts = """
        accepted layouts: MVTec AD category folder (train/good/*.png, test/<type>/*.png, \
        ground_truth/<type>/<name>_mask.png); KolektorSDD2 folder (train/ and test/ with NNNNN.png + NNNNN_GT.png); \
        a CSV manifest file (columns image,mask,label,split[,defect_type]) or a folder holding split.csv or manifest.csv
        """

    public var description: String {
        switch self {
        case let .notFound(p): return "\(p): no such file or folder"
        case let .missingFile(f, r): return "\(f): missing (expected by \(r))"
        case let .unknownLayout(p, r): return "\(p): unknown data set layout: \(r); \(DatasetError.acceptedLayouts)"
        case let .missingColumns(f, m, found):
            return "\(f): missing column(s) \(m.joined(separator: ", ")) in header (found: \(found.joined(separator: ", "))); expected image,mask,label,split[,defect_type]"
        case let .badValue(f, l, c, v, e): return "\(f):\(l): column \(c) has \"\(v)\"; expected \(e)"
        case let .malformedCSV(f, l, r): return "\(f):\(l): malformed CSV: \(r)"
        case let .emptyTrainingSet(p): return "\(p): no good training images (split=train, label=good); a model needs at least one"
        case let .io(p, r): return "\(p): \(r)"
        case let .invalidArgument(r): return r
        }
    }
}
