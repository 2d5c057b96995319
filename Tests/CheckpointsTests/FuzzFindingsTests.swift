// Findings of the libFuzzer targets in Fuzz/ (bench/FUZZ.md, "Findings"): each trapped, hung or ran out of memory
// on main at b555165; the inputs are in bench/fuzz/regressions/.
import Foundation
import Testing
import TensorCore
@testable import Checkpoints

/// The findings, as tests of the regression suite: they share its `unpickle` and `expectRefused`.
extension CheckpointsFuzzRegressionTests {
    /// bench/fuzz/regressions/FuzzUnpickler/hand-binbytes8-length-2e63.pkl: `position + length` overflowed in
    /// Unpickler.take (Unpickler.swift:209, "arithmetic overflow" trap).
    @Test func binbytes8LengthNearIntMaxIsRefused() {
        // PROTO 4, BINBYTES8 length 2^63 - 1, then two bytes.
        let p: [UInt8] = [0x80, 4, 0x8E, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E, 0x2E]
        expectRefused("bytes8.pkl", "BINBYTES8 of 2^63 - 1 bytes") { try unpickle(p, file: "bytes8.pkl") }
    }

    /// Nesting deeper than InputLimits.maxNestingDepth (1,000) is refused, naming the depth: a 200,000-deep list
    /// took > 10 s under ASan (libFuzzer timeout) and nothing bounded it.
    @Test func listNestedBeyondTheDepthLimitIsRefused() {
        let depth = InputLimits().maxNestingDepth + 1
        let p: [UInt8] = [0x80, 2] + [UInt8](repeating: 0x5D, count: depth)   // EMPTY_LIST x depth
            + [UInt8](repeating: 0x61, count: depth - 1) + [0x2E]               // APPEND x (depth - 1), STOP
        expectRefused("deep.pkl", "list nested \(depth) deep") { try unpickle(p, file: "deep.pkl") }
    }

    @Test func dictNestedBeyondTheDepthLimitIsRefused() {
        // EMPTY_DICT, then depth x (SHORT_BINUNICODE "k", EMPTY_DICT), then SETITEM x depth: {"k": {"k": ...}}.
        let depth = InputLimits().maxNestingDepth + 1
        var p: [UInt8] = [0x80, 2, 0x7D]
        for _ in 0..<depth { p += [0x8C, 1, 0x6B, 0x7D] }
        p += [UInt8](repeating: 0x73, count: depth) + [0x2E]
        expectRefused("deepdict.pkl", "dict nested \(depth) deep") { try unpickle(p, file: "deepdict.pkl") }
    }

    static let findings = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bench/fuzz/regressions/FuzzTorchCheckpoint")

    /// Zip checkpoints whose state-dict pickle declares a tensor of shape (2^40, 2^40), a stride of 2^62 or a storage
    /// offset of 2^62: `shape.reduce(1, *)` (TorchCheckpoint.swift:250) and `(offset + span) * byteWidth` (:256)
    /// overflowed in TorchCheckpoint.materialize ("arithmetic overflow" traps). They must be refused naming the
    /// file and the tensor ("weight"), or for the legacy file the storage whose count is out of range.
    /// fuzz-legacy-storage-count-overflow-in-error.pth (libFuzzer, 60 s, minimised to 250 B): a legacy checkpoint
    /// whose storage element count is near Int.max; the guard refuses it, then building the error's
    /// `expectedBytes: position + 8 + max(count, 0) * width` overflows (TorchCheckpoint.swift:137): the error path traps.
    @Test(arguments: ["hand-zip-shape-2e40x2e40.pth", "hand-zip-stride-2e62.pth", "hand-zip-storage-offset-2e62.pth",
                      "fuzz-legacy-storage-count-overflow-in-error.pth"])
    func tensorGeometryThatOverflowsIsRefused(_ name: String) {
        let url = Self.findings.appendingPathComponent(name)
        do {
            _ = try TorchCheckpoint.read(url)
            Issue.record("\(name): accepted")
        } catch {
            let what = name.contains("legacy") ? "storage" : "weight"
            #expect("\(error)".contains(url.path) && "\(error)".contains(what), "\(name): \(error)")
        }
    }
}
