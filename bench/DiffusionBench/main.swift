// Times the diffusion networks of the real Stable Diffusion 1.5 inpainting and SDXL inpainting configs (written
// here, never downloaded) with seeded random weights generated in Swift: same shapes, same work as real weights.
// usage: DiffusionBench [--model sd15|sdxl] [--component unet|vae-decode|vae-encode|text|all] [--batch B]
//                       [--repeats R] [--threads T] [--profile] [--half] [--latent N] [--no-warmup]
// --latent overrides the latent size (64 for sd15, 128 for sdxl; images are 8x that).
// text: CLIP-L (sd15) or OpenCLIP bigG with projection (sdxl), batch 2 x 77 tokens, all hidden states kept.
// --half behaves as a half-precision (fp16) file: linear-layer weights stay 16-bit in memory, widened per call.
// One JSON line per component on stdout; --profile adds one line per UNet/VAE block with its time.
import DiffusionModels
import Foundation
import TensorCore

let args = Array(CommandLine.arguments.dropFirst())
func option(_ flag: String) -> String? {
    guard let i = args.firstIndex(of: flag), i + 1 < args.count else { return nil }
    return args[i + 1]
}
let model = option("--model") ?? "sd15"
let component = option("--component") ?? "unet"
let repeats = Int(option("--repeats") ?? "1")!
let threads = Int(option("--threads") ?? "2")!
let batch = Int(option("--batch") ?? "2")!
let profile = args.contains("--profile")
let precision: StoredPrecision = args.contains("--half") ? .float16 : .float32
guard ["sd15", "sdxl"].contains(model), ["unet", "vae-decode", "vae-encode", "text", "all"].contains(component) else {
    FileHandle.standardError.write(Data("usage: DiffusionBench [--model sd15|sdxl] [--component unet|vae-decode|vae-encode|text|all] [--batch B] [--repeats R] [--threads T] [--profile]\n".utf8))
    exit(2)
}

// unet/config.json of runwayml/stable-diffusion-inpainting and diffusers/stable-diffusion-xl-1.0-inpainting-0.1.
let sd15UNet = """
{"_class_name": "UNet2DConditionModel", "act_fn": "silu", "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280],
 "center_input_sample": false, "cross_attention_dim": 768,
 "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
 "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 9, "layers_per_block": 2,
 "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
 "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]}
"""
let sdxlUNet = """
{"_class_name": "UNet2DConditionModel", "act_fn": "silu", "addition_embed_type": "text_time", "addition_embed_type_num_heads": 64,
 "addition_time_embed_dim": 256, "attention_head_dim": [5, 10, 20], "block_out_channels": [320, 640, 1280],
 "center_input_sample": false, "class_embed_type": null, "class_embeddings_concat": false, "conv_in_kernel": 3,
 "conv_out_kernel": 3, "cross_attention_dim": 2048, "cross_attention_norm": null,
 "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"], "downsample_padding": 1,
 "dual_cross_attention": false, "encoder_hid_dim": null, "encoder_hid_dim_type": null, "flip_sin_to_cos": true,
 "freq_shift": 0, "in_channels": 9, "layers_per_block": 2, "mid_block_only_cross_attention": null,
 "mid_block_scale_factor": 1, "mid_block_type": "UNetMidBlock2DCrossAttn", "norm_eps": 1e-05, "norm_num_groups": 32,
 "num_attention_heads": null, "num_class_embeds": null, "only_cross_attention": false, "out_channels": 4,
 "projection_class_embeddings_input_dim": 2816, "resnet_out_scale_factor": 1.0, "resnet_skip_time_act": false,
 "resnet_time_scale_shift": "default", "sample_size": 128, "time_cond_proj_dim": null, "time_embedding_act_fn": null,
 "time_embedding_dim": null, "time_embedding_type": "positional", "timestep_post_act": null,
 "transformer_layers_per_block": [1, 2, 10], "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
 "upcast_attention": null, "use_linear_projection": true}
"""
let vaeConfig = """
{"_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
 "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
 "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32, "out_channels": 3,
 "sample_size": \(model == "sdxl" ? 1024 : 512), "scaling_factor": \(model == "sdxl" ? 0.13025 : 0.18215),
 "force_upcast": true,
 "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]}
"""

KernelRuntime.prepare()
ComputeThreads.set(threads)
// As `patchcore synthesize` does (OPENBLAS_THREAD_TIMEOUT in the environment overrides it).
let idleWait = OpenBLASKernels.setIdleWait(.sleep) ? "sleep" : "openblas default or environment"
let latentSize = Int(option("--latent") ?? (model == "sdxl" ? "128" : "64"))!
let imageSize = latentSize * 8

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
/// CPU seconds of the whole process (all threads): with other load on the machine, wall time / CPU time shows how
/// much of the machine the run had.
func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
func peakRSSGiB() -> Double {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") else { return 0 }
    return kb / 1024 / 1024
}
func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}
func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    var rng = SplitMix64(seed: seed)
    return Tensor.random(shape, in: -1...1, using: &rng)
}
func report(_ fields: [(String, String)]) {
    print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
}
func str(_ s: String) -> String { "\"\(s)\"" }
func num(_ x: Double) -> String { String(format: "%.3f", x) }

/// Runs `body` once untimed (as bench/diffusion_bench.py warms PyTorch up: first-touch page faults and allocator
/// growth are paid there, as in every step after the first of a real run), then `repeats` times;
/// returns (median, best, CPU seconds per timed run).
func time(_ label: String, _ body: (((String, Tensor) -> Void)?) throws -> Void) rethrows -> (Double, Double, Double) {
    if !args.contains("--no-warmup") { try body(nil) }
    var times: [Double] = []
    let c0 = cpuSeconds()
    for r in 0..<repeats {
        var last = now()
        var blocks: [(String, Double)] = []
        let t0 = last
        try body(profile && r == 0 ? { name, _ in let t = now(); blocks.append((name, t - last)); last = t } : nil)
        times.append(now() - t0)
        for (name, s) in blocks { report([("profile", str(label)), ("block", str(name)), ("seconds", num(s))]) }
    }
    times.sort()
    return (times[times.count / 2], times[0], (cpuSeconds() - c0) / Double(repeats))
}

if component == "unet" || component == "all" {
    let t0 = now()
    let config = try UNet2DConditionConfig(json: Data((model == "sdxl" ? sdxlUNet : sd15UNet).utf8))
    let unet = try UNet2DConditionModel(config: config, weights: RandomWeights(seed: 1, precision: precision))
    let loadSeconds = now() - t0
    let sample = randomTensor([batch, 9, latentSize, latentSize], seed: 2)
    let context = randomTensor([batch, 77, config.crossAttentionDim[0]], seed: 3)
    let textEmbeds = model == "sdxl" ? randomTensor([batch, 1280], seed: 4) : nil
    let timeIds = model == "sdxl"
        ? Tensor(shape: [batch, 6], scalars: (0..<batch).flatMap { _ in [1024, 1024, 0, 0, 1024, 1024] as [Float] }) : nil
    let (median, best, cpu) = try time("unet") { trace in
        _ = try unet.forward(sample: sample, timestep: 981, encoderHiddenStates: context, textEmbeds: textEmbeds,
                             timeIds: timeIds, trace: trace)
    }
    report([("component", str("unet")), ("model", str(model)), ("batch", "\(batch)"), ("latent", "\(latentSize)"),
            ("threads", "\(threads)"), ("repeats", "\(repeats)"), ("weights", str(precision.rawValue)), ("median_s", num(median)), ("best_s", num(best)), ("cpu_s_per_run", num(cpu)),
            ("load_s", num(loadSeconds)), ("peak_rss_gib", num(peakRSSGiB())), ("loadavg", str(loadAverage())),
            ("openblas_core", str(OpenBLASKernels.coreName)), ("vector_math", str(vectorMathLevel)),
            ("blas_idle_wait", str(idleWait))])
}

if component != "unet" && component != "text" {
    let t0 = now()
    let vae = try AutoencoderKL(config: AutoencoderKLConfig(json: Data(vaeConfig.utf8)), weights: RandomWeights(seed: 5, precision: precision))
    let loadSeconds = now() - t0
    if component == "vae-decode" || component == "all" {
        let z = randomTensor([1, 4, latentSize, latentSize], seed: 6)
        let (median, best, cpu) = try time("vae-decode") { trace in _ = try vae.decode(z, trace: trace) }
        report([("component", str("vae-decode")), ("model", str(model)), ("batch", "1"), ("image", "\(imageSize)"),
                ("threads", "\(threads)"), ("median_s", num(median)), ("best_s", num(best)), ("cpu_s_per_run", num(cpu)), ("load_s", num(loadSeconds)),
                ("peak_rss_gib", num(peakRSSGiB())), ("loadavg", str(loadAverage()))])
    }
    if component == "vae-encode" || component == "all" {
        let x = randomTensor([1, 3, imageSize, imageSize], seed: 7)
        let (median, best, cpu) = try time("vae-encode") { trace in _ = try vae.encode(x, trace: trace) }
        report([("component", str("vae-encode")), ("model", str(model)), ("batch", "1"), ("image", "\(imageSize)"),
                ("threads", "\(threads)"), ("median_s", num(median)), ("best_s", num(best)), ("cpu_s_per_run", num(cpu)), ("load_s", num(loadSeconds)),
                ("peak_rss_gib", num(peakRSSGiB())), ("loadavg", str(loadAverage()))])
    }
}

if component == "text" || component == "all" {
    // text_encoder/config.json of SD 1.5 (CLIP ViT-L/14) and text_encoder_2 of SDXL (OpenCLIP ViT-bigG/14).
    let config = model == "sdxl"
        ? CLIPTextConfig(vocabSize: 49408, hiddenSize: 1280, intermediateSize: 5120, numHiddenLayers: 32,
                         numAttentionHeads: 20, maxPositionEmbeddings: 77, hiddenAct: "gelu", projectionDim: 1280)
        : CLIPTextConfig(vocabSize: 49408, hiddenSize: 768, intermediateSize: 3072, numHiddenLayers: 12,
                         numAttentionHeads: 12, maxPositionEmbeddings: 77, hiddenAct: "quick_gelu", projectionDim: 768)
    let t0 = now()
    let source = RandomWeights(seed: 8)
    let parameters: (String, [Int]) throws -> Tensor = { try source.tensor($0, shape: $1) }
    let encode: ([[Int]]) throws -> Void
    if model == "sdxl" {
        let encoder = try CLIPTextModelWithProjection(config: config, keeping: precision, parameters: parameters)
        encode = { _ = try encoder($0) }
    } else {
        let encoder = try CLIPTextModel(config: config, keeping: precision, parameters: parameters)
        encode = { _ = try encoder($0) }
    }
    let loadSeconds = now() - t0
    var idRng = SplitMix64(seed: 9)
    let ids = (0..<batch).map { _ in (0..<77).map { _ in Int(idRng.next() % 49407) } }
    let (median, best, cpu) = try time("text") { _ in try encode(ids) }
    report([("component", str("text")), ("model", str(model)), ("batch", "\(batch)"), ("threads", "\(threads)"),
            ("repeats", "\(repeats)"), ("weights", str(precision.rawValue)), ("median_s", num(median)), ("best_s", num(best)),
            ("cpu_s_per_run", num(cpu)), ("load_s", num(loadSeconds)), ("peak_rss_gib", num(peakRSSGiB())),
            ("loadavg", str(loadAverage()))])
}
