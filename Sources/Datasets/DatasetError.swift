import Foundation
import TensorCore

/// Why a data set could not be loaded or generated. Every case names the file (and line, for CSVs).
public enum DatasetError: Error, CustomStringConvertible, Equatable, LocalizedError {
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
    /// A manifest path that leads outside the manifest's folder (absolute elsewhere, or with a `..` component).
    case pathOutsideFolder(file: String, line: Int, column: String, path: String)
    /// A folder entry whose name is not UTF-8 (shown with the bad bytes escaped), which no path string can name.
    case undecodableFileName(folder: String, name: String)
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
        case let .pathOutsideFolder(f, l, c, p):
            return "\(f):\(l): column \(c) has \"\(p)\", which leads outside the manifest's folder (an absolute path elsewhere, "
                + "or ..); paths must be relative to the folder of the manifest"
        case let .undecodableFileName(folder, name):
            return "\(folder): the name \"\(name)\" is not valid UTF-8 and cannot be opened by name; rename it "
                + "(e.g. convmv -f latin1 -t utf8 --notest) or move it out of the folder"
        case let .invalidArgument(r): return r
        }
    }

    public var errorDescription: String? { description }

    /// The bytes of a text file a loader reads whole (manifest, list), bounded by `limit`: a directory, FIFO, device
    /// or unreadable path is `.io` naming it with the reason in words; a file over the limit throws
    /// `InputFileError.tooLarge` unchanged (it names the path and the option that raises the limit).
    public static func reading(_ url: URL, limit: Int = InputLimits.current.maxEncodedFileBytes) throws -> Data {
        do {
            return try InputFile.read(url, limit: limit)
        } catch let e as InputFileError {
            switch e {
            case let .notAFile(path, reason): throw DatasetError.io(path: path, reason: "\(reason), not a file")
            case let .unreadable(path, reason): throw DatasetError.io(path: path, reason: "cannot read: \(reason)")
            case .tooLarge: throw e
            }
        }
    }
}
