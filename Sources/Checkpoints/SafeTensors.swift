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

    /// Reads a file through a memory mapping; tensors are widened to Float32.
    public static func read(_ url: URL) throws -> Contents {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw CheckpointError.unreadable(file: file, reason: error.localizedDescription)
        }
        return try decode(data, file: file)
    }

    struct Entry {
        var name: String
        var type: ScalarType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    /// Non-negative integers exactly (rejects 1.5, -1, strings).
    private static func exactInts(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var out: [Int] = []
        for item in array {
            guard let n = item as? NSNumber else { return nil }
            let d = n.doubleValue
            guard d >= 0, d <= 9.0e15, d == d.rounded(), n.int64Value >= 0 else { return nil }
            out.append(Int(n.int64Value))
        }
        return out
    }

    /// Parses and validates the header of a safetensors file held in `data`: entries, metadata and where the data
    /// section starts. Nothing is decoded, so this is cheap on a memory-mapped multi-GiB file.
    static func index(_ data: Data, file: String) throws -> (entries: [Entry], metadata: [String: String], dataStart: Int) {
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
        guard headerData.first == UInt8(ascii: "{"),
              let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw CheckpointError.malformed(file: file, reason: "header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        let dataLength = data.count - dataStart
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw CheckpointError.malformed(file: file, reason: "__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw CheckpointError.malformed(file: file, reason: "__metadata__['\(k)'] is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any],
                  let dtype = entry["dtype"] as? String,
                  let shape = exactInts(entry["shape"]),
                  let offsets = exactInts(entry["data_offsets"]), offsets.count == 2
            else { throw CheckpointError.malformed(file: file, reason: "entry '\(name)' lacks a dtype, a shape of non-negative integers or two data_offsets") }
            guard let scalarType = ScalarType(safetensorsName: dtype) else {
                throw CheckpointError.unsupportedDType(file: file, tensor: name, dtype: dtype)
            }
            var count = 1
            for d in shape {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, p <= Int(Int32.max) * 64 else { throw CheckpointError.malformed(file: file, reason: "tensor '\(name)': shape \(shape) is too large") }
                count = p
            }
            guard offsets[0] <= offsets[1], offsets[1] - offsets[0] == count * scalarType.byteWidth else {
                throw CheckpointError.malformed(file: file, reason: "tensor '\(name)': data_offsets \(offsets) do not hold shape \(shape) of \(dtype) (\(count * scalarType.byteWidth) bytes)")
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

    public static func decode(_ data: Data, file: String) throws -> Contents {
        let (entries, metadata, dataStart) = try index(data, file: file)
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
