import Foundation
import Testing
import TensorCore
@testable import Checkpoints

/// Malformed safetensors files generated in the test: each gives a `CheckpointError` naming the file and the tensor
/// or field, never a trap.
@Suite struct HostileSafeTensorsTests {
    /// `header` as the JSON header (its length, or `length`), then `dataBytes` zero bytes.
    func file(_ header: String, dataBytes: Int = 16, length: UInt64? = nil) -> Data {
        var d = Data()
        let h = Data(header.utf8)
        withUnsafeBytes(of: (length ?? UInt64(h.count)).littleEndian) { d.append(contentsOf: $0) }
        d.append(h)
        d.append(Data(count: dataBytes))
        return d
    }

    func error(_ data: Data, accepting: Set<ScalarType>? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> CheckpointError? {
        let e = checkpointError { _ = try SafeTensors.decode(data, file: "m.safetensors", accepting: accepting) }
        #expect(e != nil, "accepted", sourceLocation: sourceLocation)
        #expect(e?.file == "m.safetensors", sourceLocation: sourceLocation)
        #expect(e?.description.hasPrefix("m.safetensors") == true, sourceLocation: sourceLocation)
        return e
    }

    /// (case, header, words the message must contain)
    static let malformedHeaders: [(String, String, [String])] = [
        ("reversed offsets", #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, ["'w'", "data_offsets"]),
        ("overlapping offsets", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, ["'a'", "'b'", "overlap"]),
        ("negative shape", #"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, ["'w'", "shape"]),
        ("boolean shape", #"{"w":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#, ["'w'", "shape"]),
        ("string shape", #"{"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#, ["'w'", "shape"]),
        ("huge shape value", #"{"w":{"dtype":"F32","shape":[1e300],"data_offsets":[0,8]}}"#, ["'w'", "shape"]),
        ("three offsets", #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}}"#, ["'w'", "data_offsets"]),
        ("no dtype", #"{"w":{"shape":[2],"data_offsets":[0,8]}}"#, ["'w'", "dtype"]),
        ("entry not an object", #"{"w":3}"#, ["'w'", "number"]),
        ("metadata a number", #"{"__metadata__":5}"#, ["__metadata__", "number"]),
        ("metadata a list", #"{"__metadata__":["a"]}"#, ["__metadata__", "list"]),
        ("metadata value an object", #"{"__metadata__":{"k":{"x":"y"}}}"#, ["__metadata__['k']", "object"]),
        ("metadata value null", #"{"__metadata__":{"k":null}}"#, ["__metadata__['k']", "null"]),
        ("not JSON", #"{"w":"#, ["not valid JSON"]),
        ("not an object", #"[1,2]"#, ["not a JSON object"]),
        ("deeply nested", "{\"w\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}", ["nests 100001 levels"]),
    ]

    @Test func malformedHeadersNameTheFileAndTheField() {
        for (label, header, words) in Self.malformedHeaders {
            guard case let .malformed(_, reason)? = error(file(header)) else { Issue.record("\(label): not .malformed"); continue }
            for w in words { #expect(reason.contains(w), "\(label): '\(w)' not in \(reason)") }
        }
    }

    @Test func headerLengthsAreChecked() {
        for length: UInt64 in [1 << 63, UInt64.max, 1 << 40, 0, 1] {
            guard case let .malformed(_, reason)? = error(file("{}", length: length)) else { Issue.record("\(length)"); continue }
            #expect(reason.contains("header length \(length)"), "\(reason)")
        }
        guard case let .truncated(_, expected, actual)? = error(file("{}", dataBytes: 0, length: 1000)) else { Issue.record("past the end"); return }
        #expect(expected == 1008 && actual == 10)
        #expect(error(Data([1, 2, 3])) == .truncated(file: "m.safetensors", expectedBytes: 8, actualBytes: 3))
    }

    @Test func shapesBeyondTheLimitsAreRefusedBeforeAllocating() {
        let cases: [(String, String)] = [
            ("product overflows", #"{"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}"#),
            ("too many elements", #"{"w":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}"#),
        ]
        for (label, header) in cases {
            guard case let .limit(e)? = error(file(header)) else { Issue.record("\(label): not .limit"); continue }
            #expect(e.file == "m.safetensors" && e.field == "shape of w", "\(label): \(e)")
        }
        // Offsets beyond the file: truncated, with the size the header implies.
        guard case let .truncated(_, expected, _)? = error(file(#"{"w":{"dtype":"F32","shape":[1000],"data_offsets":[0,4000]}}"#)) else {
            Issue.record("out of file"); return
        }
        #expect(expected > 4000)
    }

    @Test func dtypesAreValidatedWhereFloatsAreExpected() throws {
        guard case let .unsupportedDType(_, tensor, dtype)? = error(file(#"{"w":{"dtype":"X9","shape":[2],"data_offsets":[0,8]}}"#)) else {
            Issue.record("unknown dtype"); return
        }
        #expect(tensor == "w" && dtype == "X9")
        let boolFile = file(#"{"mask":{"dtype":"BOOL","shape":[4],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#)
        // Accepted when any dtype is, refused when floats are required.
        #expect(try SafeTensors.decode(boolFile, file: "m.safetensors").tensors["mask"]?.shape == [4])
        guard case let .unsupportedDType(_, t, d)? = error(boolFile, accepting: ScalarType.floatingPoint) else { Issue.record("BOOL"); return }
        #expect(t == "mask" && d.hasPrefix("BOOL") && d.contains("F32"), "\(d)")
        // The archive and the file reader take the same filter.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bool-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try boolFile.write(to: url)
        #expect(checkpointError { _ = try SafeTensors.read(url, accepting: ScalarType.floatingPoint) }
                == .unsupportedDType(file: url.path, tensor: "mask", dtype: "BOOL (expected BF16 or F16 or F32 or F64)"))
        #expect(checkpointError { _ = try SafeTensorsArchive(url: url, accepting: [.float32]) }
                == .unsupportedDType(file: url.path, tensor: "mask", dtype: "BOOL (expected F32)"))
        #expect(try SafeTensorsArchive(url: url).names == ["mask", "w"])
    }

    @Test func theLoaderWrapsLimitErrors() {
        let data = file(#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}"#)
        guard case let .limit(e)? = checkpointError({ _ = try CheckpointLoader.load(data, file: "l.safetensors") }) else {
            Issue.record("not .limit"); return
        }
        #expect(e.file == "l.safetensors" && e.field == "shape of w")
    }
}
