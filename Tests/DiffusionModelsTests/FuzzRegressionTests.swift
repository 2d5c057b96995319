import Foundation
import Testing
import DiffusionModels

/// Hostile diffusers model configs of the kinds Fuzz/FuzzDiffusersConfig generates: each must be refused with an
/// error naming the file, never a trap. Fuzzer-found files live in bench/fuzz/regressions/FuzzDiffusersConfig/.
@Suite struct DiffusionConfigFuzzRegressionTests {
    func expectRefused(_ what: String, _ file: String, sourceLocation: SourceLocation = #_sourceLocation,
                       _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("\(what): accepted", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)".contains(file), "\(what): error does not name the file: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func unetWithNoBlocksIsRefused() {
        let json = #"{"block_out_channels": [], "down_block_types": [], "up_block_types": []}"#
        expectRefused("UNet with no blocks", "fuzz/unet/config.json") {
            _ = try UNet2DConditionConfig(json: Data(json.utf8), file: "fuzz/unet/config.json")
        }
    }

    @Test func unetWithChannelsNearIntMaxIsRefused() {
        // timeEmbedDim = block_out_channels[0] * 4 would overflow.
        let json = #"{"block_out_channels": [4611686018427387904, 4611686018427387904, 4611686018427387904, 4611686018427387904]}"#
        expectRefused("UNet channels 2^62", "fuzz/unet/config.json") {
            _ = try UNet2DConditionConfig(json: Data(json.utf8), file: "fuzz/unet/config.json")
        }
    }

    @Test func clipWithZeroHeadsIsRefused() throws {
        let json = #"{"hidden_size": 512, "num_attention_heads": 0, "vocab_size": 10, "intermediate_size": 4, "num_hidden_layers": 1, "max_position_embeddings": 77, "hidden_act": "gelu", "layer_norm_eps": 1e-5, "eos_token_id": 2}"#
        let config = try JSONDecoder().decode(CLIPTextConfig.self, from: Data(json.utf8))
        expectRefused("CLIP with 0 heads", "fuzz/text_encoder/config.json") {
            try config.validate(file: "fuzz/text_encoder/config.json")
        }
    }
}
