import Foundation
import Testing
import TensorCore
import TestSupport
@testable import Checkpoints

@Suite struct SafeTensorsTests {
    @Test(arguments: ["f32", "f16", "bf16"])
    func filesWrittenByPythonLoad(_ kind: String) throws {
        let got = try SafeTensors.read(fixtures.url("py_\(kind).safetensors"))
        let want = try SafeTensors.read(fixtures.url("expected_py_\(kind).safetensors")).tensors
        expectIdentical(got.tensors, want, "py_\(kind).safetensors")
        #expect(try CheckpointLoader.load(fixtures.url("py_\(kind).safetensors")).tensors == got.tensors)
        if kind == "f32" { #expect(got.metadata == ["format": "pt", "origin": "python"]) }
    }

    /// The encoder's output is byte-identical to the committed swift_encoded_*.safetensors, which
    /// `python3 scripts/make_checkpoint_fixtures.py --verify-swift` loads with the Python library.
    @Test(arguments: [("f32", ScalarType.float32), ("f16", .float16), ("bf16", .bfloat16)])
    func encoderOutputMatchesPythonVerifiedFiles(_ kind: String, _ dtype: ScalarType) throws {
        let input = try SafeTensors.read(fixtures.url("swift_encoder_input.safetensors")).tensors
        let data = try SafeTensors.encode(input, metadata: [:], dtype: dtype)
        let committed = try? Data(contentsOf: fixtures.url("swift_encoded_\(kind).safetensors"))
        if data != committed {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("swift_encoded_\(kind).safetensors")
            try data.write(to: out)
            Issue.record("encoder output differs from the committed fixture; new output at \(out.path) (verify with --verify-swift)")
        }
        // Reading back gives torch's rounding of the input (expected values written by the Python library).
        let back = try SafeTensors.decode(data, file: "mem").tensors
        let want = kind == "f32" ? input : try SafeTensors.read(fixtures.url("expected_swift_encoded_\(kind).safetensors")).tensors
        expectIdentical(back, want, "swift encoder \(kind)")
    }

    @Test func roundTripKeepsMetadataAndIsDeterministic() throws {
        let t = ["b/x": Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]), "a": Tensor(shape: [], scalars: [5]), "e": Tensor(zeros: [0])]
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensors.write(t, metadata: ["k": "v"], to: url)
        let back = try SafeTensors.read(url)
        #expect(back.tensors == t && back.metadata == ["k": "v"])
        #expect(try SafeTensors.encode(t) == SafeTensors.encode(t))
        #expect(checkpointError { _ = try SafeTensors.encode(t, metadata: [:], dtype: .int64) } != nil)
    }

    /// The archive drops a tensor's pages from its mapping once read: reading it (and its neighbours) again must
    /// give the same values, in fp32 and as raw half bits.
    @Test(arguments: [ScalarType.float32, .float16, .bfloat16])
    func archiveReadsTheSameValuesTwice(_ dtype: ScalarType) throws {
        var rng = SplitMix64(seed: 5)
        let t = ["a": Tensor.random([3, 5000], in: -2...2, using: &rng), "b": Tensor.random([7, 4099], in: -2...2, using: &rng),
                 "c": Tensor.random([11], in: -2...2, using: &rng)]
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("archive-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensors.write(t, metadata: [:], dtype: dtype, to: url)
        let want = try SafeTensors.read(url).tensors
        let archive = try SafeTensorsArchive(url: url)
        let bitsFirst = try archive.halfBits("b")
        for name in ["b", "a", "c", "b", "a"] { #expect(try archive.tensor(name) == want[name], "\(name)") }
        let bitsAgain = try archive.halfBits("b")
        #expect((bitsFirst == nil) == (dtype == .float32))
        #expect(bitsFirst?.bits == bitsAgain?.bits && bitsFirst?.type == bitsAgain?.type)
        if let bits = bitsAgain?.bits {
            let widened = bits.map { dtype == .float16 ? halfToFloat($0) : bfloat16ToFloat($0) }
            #expect(widened == want["b"]!.scalars)
        }
    }

    /// A file with `header` as its JSON header followed by `dataBytes` zero bytes.
    func file(_ header: String, dataBytes: Int = 16, length: UInt64? = nil) -> Data {
        var d = Data()
        let h = Data(header.utf8)
        withUnsafeBytes(of: (length ?? UInt64(h.count)).littleEndian) { d.append(contentsOf: $0) }
        d.append(h)
        d.append(Data(count: dataBytes))
        return d
    }

    @Test func hostileHeadersAreRejected() {
        let cases: [(String, Data)] = [
            ("overlap", file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#)),
            ("out of range", file(#"{"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}"#)),
            ("size mismatch", file(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#)),
            ("reversed", file(#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#)),
            ("negative dim", file(#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#)),
            ("fractional", file(#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}"#)),
            ("overflowing shape", file(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}"#)),
            ("bad json", file(#"{"a":{"dtype":"F32","#)),
            ("not an object", file(#"[1,2,3]"#)),
            ("metadata not strings", file(#"{"__metadata__":{"n":1}}"#)),
            ("unknown dtype", file(#"{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#)),
            ("huge header", file("{}", length: 1 << 40)),
            ("max UInt64 header", file("{}", length: UInt64.max)),
            ("header past the end", file("{}", length: 1000)),
            ("short", Data([1, 2, 3])),
        ]
        for (label, data) in cases {
            let error = checkpointError { _ = try SafeTensors.decode(data, file: "bad.safetensors") }
            #expect(error != nil, "\(label) was accepted")
            #expect(error?.description.hasPrefix("bad.safetensors") == true, "\(label): \(String(describing: error))")
        }
        // Adjacent and empty tensors are fine.
        let ok = file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[4],"data_offsets":[8,16]},"c":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}"#)
        #expect(checkpointError { _ = try SafeTensors.decode(ok, file: "ok") } == nil)
    }

    @Test func bfloat16RoundingMatchesTorch() {
        // round to nearest even on the 16 dropped bits; NaN stays NaN
        #expect(ScalarType.bfloat16Bits(1.0) == 0x3F80)
        #expect(ScalarType.bfloat16Bits(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie, even stays
        #expect(ScalarType.bfloat16Bits(Float(bitPattern: 0x3F81_8000)) == 0x3F82)  // tie, odd rounds up
        #expect(ScalarType.bfloat16Bits(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(ScalarType.bfloat16Bits(.nan) == 0x7FC0)
        #expect(ScalarType.bfloat16Bits(.infinity) == 0x7F80)
    }
}
