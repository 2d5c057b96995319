import Foundation
import TensorCore

/// The safetensors format: 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`, then raw little-endian data.
public enum SafeTensors {
    /// Named tensors (converted to Float32) and the string metadata of a .safetensors file.
    public struct Contents: Sendable {
        public var tensors: [String: Tensor]
        public var metadata: [String: String]
    }

    public static func read(_ url: URL) throws -> Contents {
        let file = url.path
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw CheckpointError.unreadable(file: file, reason: error.localizedDescription)
        }
        return try decode(data, file: file)
    }

    public static func decode(_ data: Data, file: String) throws -> Contents {
        guard data.count >= 8 else { throw CheckpointError.truncated(file: file, expectedBytes: 8, actualBytes: data.count) }
        let headerLength = data.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard headerLength > 1, headerLength <= 100_000_000 else {
            throw CheckpointError.malformed(file: file, reason: "header length \(headerLength) is not plausible")
        }
        guard data.count >= 8 + headerLength else {
            throw CheckpointError.truncated(file: file, expectedBytes: 8 + headerLength, actualBytes: data.count)
        }
        let headerData = data.subdata(in: data.startIndex + 8 ..< data.startIndex + 8 + headerLength)
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw CheckpointError.malformed(file: file, reason: "header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let entry = value as? [String: Any],
                  let dtype = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [NSNumber])?.map(\.intValue),
                  let offsets = (entry["data_offsets"] as? [NSNumber])?.map(\.intValue), offsets.count == 2
            else { throw CheckpointError.malformed(file: file, reason: "entry '\(name)' lacks dtype, shape or data_offsets") }
            guard let scalarType = ScalarType(safetensorsName: dtype) else {
                throw CheckpointError.unsupportedDType(file: file, tensor: name, dtype: dtype)
            }
            let count = shape.reduce(1, *)
            guard offsets[1] - offsets[0] == count * scalarType.byteWidth, offsets[0] >= 0 else {
                throw CheckpointError.malformed(file: file, reason: "tensor '\(name)': \(offsets[1] - offsets[0]) bytes for shape \(shape) of \(dtype)")
            }
            guard dataStart + offsets[1] <= data.count else {
                throw CheckpointError.truncated(file: file, expectedBytes: dataStart + offsets[1], actualBytes: data.count)
            }
            let scalars = data.withUnsafeBytes { raw in
                scalarType.decode(UnsafeRawBufferPointer(rebasing: raw[(dataStart + offsets[0])..<(dataStart + offsets[1])]), count: count)
            }
            tensors[name] = Tensor(shape: shape, scalars: scalars)
        }
        return Contents(tensors: tensors, metadata: metadata)
    }

    /// Serialises tensors as float32 (names sorted, so equal inputs give identical bytes).
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + t.count * 4]]
            offset += t.count * 4
        }
        var headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad with spaces so the data section is 8-byte aligned, as the reference writer does.
        while (8 + headerData.count) % 8 != 0 { headerData.append(0x20) }
        var out = Data(capacity: 8 + headerData.count + offset)
        withUnsafeBytes(of: UInt64(headerData.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerData)
        for name in names {
            tensors[name]!.withUnsafeBufferPointer { p in
                out.append(UnsafeBufferPointer(start: p.baseAddress, count: p.count))
            }
        }
        return out
    }

    /// Writes atomically: a temporary file in the same folder, then a rename.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        let data = try encode(tensors, metadata: metadata)
        try AtomicFile.write(data, to: url)
    }
}
