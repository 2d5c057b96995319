import Foundation
import TensorCore

/// The safetensors format: 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`, then raw little-endian data.
///
/// ```swift
/// try SafeTensors.write(["w": Tensor(zeros: [2, 3])], metadata: ["format": "pt"], to: url)
/// let w = try SafeTensors.read(url).tensors["w"]!          // shape [2, 3], Float32
/// try SafeTensors.write(tensors, metadata: [:], dtype: .float16, to: halfURL)  // half the size
/// ```
public enum SafeTensors {
    /// Named tensors (converted to Float32) and the string metadata of a .safetensors file.
    public struct Contents: Sendable {
        public var tensors: [String: Tensor]
        public var metadata: [String: String]
    }

    /// Largest accepted JSON header (the reference implementation's limit is 100 MB).
    public static let maxHeaderLength = 100_000_000

    /// Reads a file through a memory mapping; tensors are widened to Float32. With `accepting`, a tensor stored in
    /// any other element type is refused (`CheckpointError.unsupportedDType` naming the file, the tensor and its
    /// dtype), e.g. `accepting: ScalarType.floatingPoint` refuses a BOOL or I64 tensor where floats are meant.
    /// Directories, FIFOs and devices are refused by name; sizes are checked against `limits`.
    public static func read(_ url: URL, accepting: Set<ScalarType>? = nil,
                            limits: InputLimits = InputLimits.current) throws -> Contents {
        let data = try CheckpointFile.map(url)
        return try decode(data, file: url.path, accepting: accepting, limits: limits)
    }

    /// The string metadata alone: the header is parsed and validated (as `read` does) and no tensor is decoded,
    /// so this costs the header, not the file, on a memory-mapped multi-GiB file.
    public static func readMetadata(_ url: URL, limits: InputLimits = InputLimits.current) throws -> [String: String] {
        let data = try CheckpointFile.map(url)
        return try index(data, file: url.path, limits: limits).metadata
    }

    struct Entry {
        var name: String
        var type: ScalarType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    /// Non-negative integers exactly (rejects 1.5, -1, strings, booleans, values above 9 * 10^15).
    private static func exactInts(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var out: [Int] = []
        for item in array {
            // JSON true / false come back as NSNumber subclasses (`__NSCFBoolean`) that also cast to Int.
            guard let n = item as? NSNumber, !String(describing: type(of: item)).contains("Boolean") else { return nil }
            let d = n.doubleValue
            guard d >= 0, d <= 9.0e15, d == d.rounded(), n.int64Value >= 0 else { return nil }
            out.append(Int(n.int64Value))
        }
        return out
    }

    /// Deepest bracket nesting of a JSON text outside strings (a linear scan; no recursion). The format needs 3
    /// (`{name: {shape: [...]}}`); a deeper header is refused before the JSON parser sees it.
    static func jsonDepth(_ bytes: Data) -> Int {
        var depth = 0, deepest = 0, inString = false, escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1; deepest = max(deepest, depth)
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
        }
        return deepest
    }

    /// Deepest header nesting accepted (the format uses 3).
    static let maxHeaderDepth = 8

    /// Parses and validates the header of a safetensors file held in `data`: entries, metadata and where the data
    /// section starts. Nothing is decoded, so this is cheap on a memory-mapped multi-GiB file.
    static func index(_ data: Data, file: String, accepting: Set<ScalarType>? = nil,
                      limits: InputLimits = InputLimits.current) throws -> (entries: [Entry], metadata: [String: String], dataStart: Int) {
        guard data.count >= 8 else { throw CheckpointError.truncated(file: file, expectedBytes: 8, actualBytes: data.count) }
        let rawLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard rawLength >= 2, rawLength <= UInt64(maxHeaderLength) else {
            throw CheckpointError.malformed(file: file, reason: "header length \(rawLength) is not plausible (2...\(maxHeaderLength))")
        }
        let headerLength = Int(rawLength)
        guard data.count - 8 >= headerLength else {
            throw CheckpointError.truncated(file: file, expectedBytes: 8 + headerLength, actualBytes: data.count)
        }
        let headerData = data.subdata(in: data.startIndex + 8 ..< data.startIndex + 8 + headerLength)
        guard headerData.first == UInt8(ascii: "{") else {
            throw CheckpointError.malformed(file: file, reason: "header (\(headerLength) bytes after the length) is not a JSON object")
        }
        let depth = jsonDepth(headerData)
        guard depth <= min(maxHeaderDepth, limits.maxNestingDepth) else {
            throw CheckpointError.malformed(file: file, reason: "header nests \(depth) levels of brackets; the format has 3")
        }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: headerData) } catch {
            throw CheckpointError.malformed(file: file, reason: "header is not valid JSON")
        }
        guard let header = parsed as? [String: Any] else {
            throw CheckpointError.malformed(file: file, reason: "header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        let dataLength = data.count - dataStart
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw CheckpointError.malformed(file: file, reason: "__metadata__ is a \(jsonKind(value)), not an object of strings")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw CheckpointError.malformed(file: file, reason: "__metadata__['\(k)'] is a \(jsonKind(v)), not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any] else {
                throw CheckpointError.malformed(file: file, reason: "tensor '\(name)': entry is a \(jsonKind(value)), not an object")
            }
            guard let dtype = entry["dtype"] as? String else {
                throw CheckpointError.malformed(file: file, reason: "tensor '\(name)': dtype is missing or not a string")
            }
            guard let shape = exactInts(entry["shape"]) else {
                throw CheckpointError.malformed(file: file, reason: "tensor '\(name)': shape \(brief(entry["shape"])) is not a list of non-negative integers")
            }
            guard let offsets = exactInts(entry["data_offsets"]), offsets.count == 2 else {
                throw CheckpointError.malformed(file: file, reason: "tensor '\(name)': data_offsets \(brief(entry["data_offsets"])) are not two non-negative integers")
            }
            guard let scalarType = ScalarType(safetensorsName: dtype) else {
                throw CheckpointError.unsupportedDType(file: file, tensor: name, dtype: dtype)
            }
            if let accepting, !accepting.contains(scalarType) {
                throw CheckpointError.unsupportedDType(
                    file: file, tensor: name,
                    dtype: "\(dtype) (expected \(accepting.map(\.safetensorsName).sorted().joined(separator: " or ")))")
            }
            // Checked against the limits before anything is allocated; the output is Float32.
            let count = try limits.checkTensor(shape: shape, bytesPerElement: 4, file: file, tensor: name)
            let bytes = try CheckedSize.product(count, scalarType.byteWidth, file: file, field: "bytes of \(name)")
            guard offsets[0] <= offsets[1], offsets[1] - offsets[0] == bytes else {
                throw CheckpointError.malformed(file: file, reason: "tensor '\(name)': data_offsets \(offsets) do not hold shape \(shape) of \(dtype) (\(bytes) bytes)")
            }
            guard offsets[1] <= dataLength else {
                throw CheckpointError.truncated(file: file, expectedBytes: dataStart + offsets[1], actualBytes: data.count)
            }
            entries.append(Entry(name: name, type: scalarType, shape: shape, begin: offsets[0], end: offsets[1]))
        }
        // Byte ranges may not overlap (the reference writer lays them out back to back).
        let ordered = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (a, b) in zip(ordered, ordered.dropFirst()) where b.begin < a.end {
            throw CheckpointError.malformed(file: file, reason: "tensors '\(a.name)' and '\(b.name)' overlap (bytes \(a.begin)..<\(a.end) and \(b.begin)..<\(b.end))")
        }
        return (entries, metadata, dataStart)
    }

    /// Parses safetensors bytes already in memory; `file` names them in errors. `accepting` as in `read`.
    public static func decode(_ data: Data, file: String, accepting: Set<ScalarType>? = nil,
                              limits: InputLimits = InputLimits.current) throws -> Contents {
        let (entries, metadata, dataStart) = try CheckpointError.wrapping {
            try index(data, file: file, accepting: accepting, limits: limits)
        }
        var tensors: [String: Tensor] = [:]
        data.withUnsafeBytes { raw in
            for e in entries {
                let scalars = e.type.decode(UnsafeRawBufferPointer(rebasing: raw[(dataStart + e.begin)..<(dataStart + e.end)]),
                                            count: e.shape.reduce(1, *))
                tensors[e.name] = Tensor(shape: e.shape, scalars: scalars)
            }
        }
        return Contents(tensors: tensors, metadata: metadata)
    }

    /// "string", "number", "list", ... for messages about a JSON value.
    static func jsonKind(_ v: Any?) -> String {
        switch v {
        case nil: return "missing value"
        case is NSNull: return "null"
        case is String: return "string"
        case is [Any]: return "list"
        case is [String: Any]: return "object"
        case is NSNumber: return "number"
        default: return "\(type(of: v!))"
        }
    }

    /// A JSON value quoted briefly in a message.
    static func brief(_ v: Any?) -> String {
        guard let v else { return "(missing)" }
        let text = "\(v)".replacingOccurrences(of: "\n", with: " ")
        return text.count > 80 ? String(text.prefix(80)) + "..." : text
    }

    /// Serialises tensors as float32 (names sorted, so equal inputs give identical bytes).
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> Data {
        try encode(tensors, metadata: metadata, dtype: .float32)
    }

    /// Serialises tensors as `dtype` (.float32, .float16, .bfloat16 or .float64; fp16/bf16 round to nearest
    /// even like torch's `.to(dtype)`). Names are sorted, so equal inputs give identical bytes.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String], dtype: ScalarType) throws -> Data {
        guard dtype.encode(UnsafeBufferPointer(start: nil, count: 0)) != nil else {
            throw CheckpointError.unsupportedDType(file: "<encoder>", tensor: "*", dtype: dtype.safetensorsName)
        }
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        let width = dtype.byteWidth
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": dtype.safetensorsName, "shape": t.shape, "data_offsets": [offset, offset + t.count * width]]
            offset += t.count * width
        }
        var headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        // Pad with spaces so the data section is 8-byte aligned, as the reference writer does.
        while (8 + headerData.count) % 8 != 0 { headerData.append(0x20) }
        var out = Data(capacity: 8 + headerData.count + offset)
        withUnsafeBytes(of: UInt64(headerData.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerData)
        for name in names {
            tensors[name]!.withUnsafeBufferPointer { p in out.append(dtype.encode(p)!) }
        }
        return out
    }

    /// Writes atomically: a temporary file in the same folder, then a rename.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        let data = try encode(tensors, metadata: metadata)
        try AtomicFile.write(data, to: url)
    }

    /// Writes atomically as `dtype` (see `encode(_:metadata:dtype:)`).
    public static func write(_ tensors: [String: Tensor], metadata: [String: String], dtype: ScalarType, to url: URL) throws {
        let data = try encode(tensors, metadata: metadata, dtype: dtype)
        try AtomicFile.write(data, to: url)
    }
}
