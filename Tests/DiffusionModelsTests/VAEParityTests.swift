import Checkpoints
import Foundation
import Testing
import TensorCore
import TestSupport
@testable import DiffusionModels

/// Parity with diffusers 0.42.1 `AutoencoderKL` on the tiny VAE of scripts/make_unet_vae_fixtures.py.
@Suite("AutoencoderKL")
struct VAEParityTests {
    static func load() throws -> AutoencoderKL {
        let weights = try ComponentWeights.open(folder: fixtures.url("vae/tiny"))
        return try AutoencoderKL(config: weights.config(AutoencoderKLConfig.self), weights: weights)
    }

    @Test func encodeMatchesDiffusers() throws {
        let vae = try Self.load()
        #expect(vae.config.scalingFactor == 0.18215 && vae.downsamplingFactor == 2)
        let ref = try fixtures.tensors("vae/tiny/reference.safetensors")
        var traced: [String: Tensor] = [:]
        let (mean, logVariance) = try vae.encode(ref["image"]!, trace: { traced[$0] = $1 })
        for name in traced.keys.sorted() {
            expectClose(traced[name]!, try #require(ref["trace." + name]), "vae \(name)", tolerance: 1e-4)
        }
        #expect(traced.count == 4)
        expectClose(mean, ref["mean"]!, "vae mean", tolerance: 1e-4)
        expectClose(logVariance, ref["logvar"]!, "vae logvar", tolerance: 1e-4)
        let sample = AutoencoderKL.sample(mean: mean, logVariance: logVariance, noise: ref["noise"]!)
        expectClose(sample, ref["sample"]!, "vae sample", tolerance: 1e-4)
    }

    @Test func decodeMatchesDiffusers() throws {
        let vae = try Self.load()
        let ref = try fixtures.tensors("vae/tiny/reference.safetensors")
        var traced: [String: Tensor] = [:]
        let image = try vae.decode(ref["latents"]!, trace: { traced[$0] = $1 })
        for name in traced.keys.sorted() {
            expectClose(traced[name]!, try #require(ref["trace." + name]), "vae \(name)", tolerance: 1e-4)
        }
        #expect(traced.count == 4)
        expectClose(image, ref["decoded"]!, "vae decode", tolerance: 1e-4)
    }

    @Test func badInputsAndConfigsAreErrors() throws {
        let vae = try Self.load()
        #expect(throws: DiffusionModelError.self) { try vae.encode(Tensor(zeros: [1, 3, 15, 16])) }
        #expect(throws: DiffusionModelError.self) { try vae.decode(Tensor(zeros: [1, 3, 8, 8])) }
        let url = fixtures.url("vae/tiny/config.json")
        var dict = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        dict["shift_factor"] = 0.1159
        do {
            _ = try AutoencoderKLConfig(json: JSONSerialization.data(withJSONObject: dict))
            Issue.record("shift_factor accepted")
        } catch let DiffusionModelError.unsupportedConfig(_, field, value) {
            #expect(field == "shift_factor" && value == "0.1159")
        }
    }
}
