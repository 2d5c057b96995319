// PENDING: ModelFile.read accepts this file on main at b555165 (and the first predict then allocates 8 GB); move
// into Tests/PatchCoreTests/ once the model-file config ranges are checked on read. Finding of Fuzz/FuzzModelFile:
// bench/fuzz/regressions/FuzzModelFile/hand-model-transform-resize-1e9.safetensors (the format-1 fixture cut to a
// 2-row bank, config `transform` = resizeCrop(resize: 1,000,000,000, crop: 224)).
import Foundation
import Testing
@testable import PatchCore

@Suite struct ModelFileFuzzRegressionPendingTests {
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
