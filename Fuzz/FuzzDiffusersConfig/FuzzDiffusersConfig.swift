// libFuzzer target: the diffusers config readers on one JSON input: unet/config.json (UNet2DConditionConfig),
// vae/config.json (AutoencoderKLConfig), text_encoder/config.json (CLIPTextConfig + validate) and
// scheduler_config.json (SchedulerConfig -> each supported scheduler -> setTimesteps), with the sizes derived from
// them. A thrown error is fine; a trap, an ASan report, a timeout or running out of memory is a finding.
// Built only with PATCHCORE_FUZZ=1 (see bench/FUZZ.md).
import Foundation
import DiffusionModels
import DiffusionSchedulers

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDiffusersConfig(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    if let unet = try? UNet2DConditionConfig(json: data, file: "unet/config.json") {
        _ = unet.timeEmbedDim
        _ = unet.usesTextTimeEmbedding
    }
    _ = try? AutoencoderKLConfig(json: data, file: "vae/config.json")
    if let clip = try? JSONDecoder().decode(CLIPTextConfig.self, from: data) {
        _ = try? clip.validate(file: "text_encoder/config.json")
    }
    if let scheduler = try? SchedulerConfig.decode(data, source: "scheduler/scheduler_config.json") {
        for name in SchedulerFactory.supportedClassNames {
            guard var s = try? SchedulerFactory.make(config: scheduler, override: name) else { continue }
            for steps in [1, 50] {
                guard (try? s.setTimesteps(steps)) != nil else { break }
                _ = try? s.timesteps(strength: 0.75)
            }
        }
    }
    return 0
}
