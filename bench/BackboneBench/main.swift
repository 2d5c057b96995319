// Times backbone forward passes to the PatchCore taps at 224x224 (synthetic weights: same work as real ones).
// usage: BackboneBench NAME [--batch B] [--repeats R] [--threads T] [--taps A,B]  -> one JSON line on stdout
import Backbones
import Foundation
import TensorCore

let args = Array(CommandLine.arguments.dropFirst())
guard let name = args.first else {
    FileHandle.standardError.write(Data("usage: BackboneBench NAME [--batch B] [--repeats R] [--threads T] [--taps A,B]\n".utf8))
    exit(2)
}
func option(_ flag: String) -> String? {
    guard let i = args.firstIndex(of: flag), i + 1 < args.count else { return nil }
    return args[i + 1]
}
let batch = Int(option("--batch") ?? "1")!
let repeats = Int(option("--repeats") ?? "20")!
let threads = Int(option("--threads") ?? "2")!
let taps = option("--taps").map { $0.split(separator: ",").map(String.init) } ?? BackboneRegistry.defaultTaps(name)

KernelRuntime.prepare()
ComputeThreads.set(threads)
let backbone = try BackboneRegistry.make(name, weights: SyntheticWeights.stateDict(for: name, seed: 0))
var rng = SystemRandomNumberGenerator()
let x = Tensor(shape: [batch, 3, 224, 224], scalars: (0..<(batch * 3 * 224 * 224)).map { _ in Float.random(in: -2...2, using: &rng) })
for _ in 0..<3 { _ = try backbone.features(x, taps: taps) }  // warm-up
var times: [Double] = []
for _ in 0..<repeats {
    let t0 = DispatchTime.now().uptimeNanoseconds
    _ = try backbone.features(x, taps: taps)
    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 / Double(batch))
}
times.sort()
let median = times[times.count / 2]
print("{\"backbone\": \"\(name)\", \"batch\": \(batch), \"threads\": \(threads), \"taps\": \"\(taps.joined(separator: ","))\", \"median_ms_per_image\": \(String(format: "%.2f", median)), \"best_ms_per_image\": \(String(format: "%.2f", times[0])), \"openblas_core\": \"\(OpenBLASKernels.coreName)\"}")
