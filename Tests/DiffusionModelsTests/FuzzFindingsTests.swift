// Findings of the libFuzzer targets in Fuzz/ (bench/FUZZ.md, "Findings"): each trapped, hung or ran out of memory
// on main at b555165; the inputs are in bench/fuzz/regressions/.
import Foundation
import Testing
import DiffusionModels

@Suite struct DiffusionConfigFuzzFindingsTests {
    /// `c % normNumGroups` with norm_num_groups 0 trapped (division by zero) in AutoencoderKLConfig.init(reader:)
    /// (AutoencoderKLConfig.swift:84).
    @Test func vaeWithZeroNormGroupsIsRefused() {
        let file = "fuzz/vae/config.json"
        do {
            _ = try AutoencoderKLConfig(json: Data(#"{"norm_num_groups": 0, "block_out_channels": [64]}"#.utf8), file: file)
            Issue.record("norm_num_groups 0 accepted")
        } catch {
            #expect("\(error)".contains(file) && "\(error)".contains("norm_num_groups"), "\(error)")
        }
    }
}
