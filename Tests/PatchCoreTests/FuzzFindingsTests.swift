// Findings of the libFuzzer targets in Fuzz/ (bench/FUZZ.md, "Findings"): each trapped, hung or ran out of memory
// on main at b555165; the inputs are in bench/fuzz/regressions/.
import Foundation
import Testing
@testable import PatchCore

@Suite struct ModelFileFuzzFindingsTests {
    static let regressions = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bench/fuzz/regressions/FuzzModelFile")

    @Test func transformSizeBeyondTheImageLimitsIsRefusedOnRead() {
        let url = Self.regressions.appendingPathComponent("hand-model-transform-resize-1e9.safetensors")
        do {
            let model = try ModelFile.read(url)
            Issue.record("accepted with transform \(model.config.transform)")
        } catch {
            #expect("\(error)".contains(url.path) && "\(error)".contains("resize"), "\(error)")
        }
    }
}
