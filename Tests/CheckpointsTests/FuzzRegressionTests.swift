import Foundation
import Testing
import TensorCore
@testable import Checkpoints

/// Malformed checkpoints of the kinds the fuzz targets (Fuzz/FuzzSafeTensors, FuzzUnpickler, FuzzTorchCheckpoint)
/// generate: each must be refused with an error that names the file, never a trap. The bytes are built here; the
/// fuzzer-found files live in bench/fuzz/regressions/<target>/ and `make fuzz-smoke` replays them.
@Suite struct CheckpointsFuzzRegressionTests {
    /// A safetensors file: 8-byte little-endian header length, the JSON header, then `data`.
    func safetensors(_ header: String, data: [UInt8] = []) -> Data {
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
        return out + h + data
    }

    func unpickle(_ bytes: [UInt8], file: String) throws {
        let arena = PickleArena()
        defer { arena.dismantle() }
        try bytes.withUnsafeBytes { raw in
            var u = Unpickler(bytes: raw, file: file, arena: arena) { _ in .none }
            _ = try u.load()
        }
    }

    /// `body` throws, and the error's text names `file`.
    func expectRefused(_ file: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
                       _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("\(what): accepted", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)".contains(file), "\(what): error does not name the file: \(error)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func safetensorsShapeWhoseProductOverflowsIsRefused() {
        let data = safetensors(#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}"#)
        expectRefused("overflow.safetensors", "shape product overflow") {
            _ = try SafeTensors.decode(data, file: "overflow.safetensors")
        }
    }

    @Test func safetensorsNegativeDimensionIsRefused() {
        let data = safetensors(#"{"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]}}"#, data: .init(repeating: 0, count: 16))
        expectRefused("negative.safetensors", "negative dimension") {
            _ = try SafeTensors.decode(data, file: "negative.safetensors")
        }
    }

    @Test func safetensorsOffsetBeyondIntIsRefused() {
        let data = safetensors(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551615,4]}}"#, data: [0, 0, 0, 0])
        expectRefused("offsets.safetensors", "data offset beyond Int") {
            _ = try SafeTensors.decode(data, file: "offsets.safetensors")
        }
    }

    @Test func safetensorsHeaderLengthBeyondIntIsRefused() {
        var data = Data()
        withUnsafeBytes(of: (UInt64(1) << 63 + 5).littleEndian) { data.append(contentsOf: $0) }
        data += Array("{}".utf8)
        expectRefused("header.safetensors", "header length 2^63 + 5") {
            _ = try SafeTensors.decode(data, file: "header.safetensors")
        }
    }

    @Test func pickleLong4WithTwoGigabyteLengthIsRefused() {
        // PROTO 2, LONG4 length 2^31 - 1 with 8 bytes present, STOP.
        let p: [UInt8] = [0x80, 2, 0x8B, 0xFF, 0xFF, 0xFF, 0x7F] + [UInt8](repeating: 0, count: 8) + [0x2E]
        expectRefused("long4.pkl", "LONG4 past the end") { try unpickle(p, file: "long4.pkl") }
    }

    @Test func pickleMemoKeyNeverStoredIsRefused() {
        // PROTO 2, NONE, LONG_BINPUT 2^31 - 1, LONG_BINGET 2^31 - 1 (stored) then LONG_BINGET 5 (never stored).
        let p: [UInt8] = [0x80, 2, 0x4E, 0x72, 0xFF, 0xFF, 0xFF, 0x7F, 0x6A, 0xFF, 0xFF, 0xFF, 0x7F,
                          0x6A, 5, 0, 0, 0, 0x2E]
        expectRefused("memo.pkl", "LONG_BINGET of a missing memo key") { try unpickle(p, file: "memo.pkl") }
    }

    @Test func legacyCheckpointOfOnlyAMarkIsRefused() {
        // A legacy-format file that opens a pickle and stops: PROTO 2, MARK x 3, STOP.
        let data = Data([0x80, 2, 0x28, 0x28, 0x28, 0x2E])
        expectRefused("/tmp/marks.pth", "legacy checkpoint of marks") {
            _ = try TorchCheckpoint.readLegacy(data, url: URL(fileURLWithPath: "/tmp/marks.pth"))
        }
    }
}
