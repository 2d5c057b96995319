// PENDING: traps on main at b555165; move into Tests/DiffusionModelsTests/ once the diffusion-config hardening lands.
// Finding of Fuzz/FuzzDiffusersConfig: bench/fuzz/regressions/FuzzDiffusersConfig/hand-vae-norm-num-groups-0.json.
import Foundation
import Testing
import DiffusionModels

@Suite struct DiffusionConfigFuzzRegressionPendingTests {
    /// `c % normNumGroups` with norm_num_groups 0 trapped (division by zero) in AutoencoderKLConfig.init(reader:)
    /// (AutoencoderKLConfig.swift:84).
    @Test func vaeWithZeroNormGroupsIsRefused() {
        let file = "fuzz/vae/config.json"
        do {
            _ = try AutoencoderKLConfig(json: Data(#"{"norm_num_groups": 0, "block_out_channels": [0]}"#.utf8), file: file)
            Issue.record("norm_num_groups 0 accepted")
        } catch {
            #expect("\(error)".contains(file) && "\(error)".contains("norm_num_groups"), "\(error)")
        }
    }
}
