// Times TensorCore.conv2d on the layer list written by bench/conv_bench.py (MobileNetV2 to features.13,
// ResNet-50 through layer3), with the same fused epilogue (bias, residual, activation), 2 threads,
// and prints each layer beside torch's time from the same file.
//
// Usage: swift run -c release ConvBench [bench/conv_shapes.json] [--repeats 15] [--threads 2] [--quiet]
//        [--breakdown]  (also times the bare sgemm of each ungrouped conv)
//        [--results FILE]  (writes {net: [ms per layer]} for bench/conv_bench.py --swift)
import Foundation
import TensorCore

struct Layer: Decodable {
    let name: String
    let x: [Int], w: [Int], stride: [Int], padding: [Int], dilation: [Int]
    let groups: Int
    let activation: String
    let residual: Bool
    let torch_ms: Double
    let gflop: Double
}
struct Net: Decodable { let layers: [Layer]; let torch_layers_ms: Double; let torch_forward_ms: Double }
struct File: Decodable { let batch: Int; let nets: [String: Net] }

var path = "bench/conv_shapes.json", repeats = 15, threads = 2, quiet = false
var resultsPath: String? = nil
var breakdown = false
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--repeats": repeats = Int(args.next() ?? "") ?? repeats
    case "--threads": threads = Int(args.next() ?? "") ?? threads
    case "--quiet": quiet = true
    case "--breakdown": breakdown = true
    case "--results": resultsPath = args.next()
    default: path = a
    }
}
KernelRuntime.prepare()
ComputeThreads.set(threads)

nonisolated func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1e3 + Double(ts.tv_nsec) / 1e6
}

/// Fastest of `repeats` runs: the least disturbed by other load on a shared machine.
func bestMs(repeats: Int, _ body: () -> Void) -> Double {
    for _ in 0..<3 { body() }
    var ts = [Double]()
    for _ in 0..<repeats { let t0 = now(); body(); ts.append(now() - t0) }
    return ts.min()!
}

func random(_ shape: [Int], scale: Float) -> Tensor {
    var g = SystemRandomNumberGenerator()
    return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -scale...scale, using: &g) })
}

let data: Data
do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
    print("ConvBench: cannot read \(path) (run python3 bench/conv_bench.py first): \(error)")
    exit(1)
}
let file = try JSONDecoder().decode(File.self, from: data)
print("ConvBench: batch \(file.batch), \(threads) threads (OpenBLAS \(OpenBLASKernels.coreName), \(ComputeThreads.current) threads), best of \(repeats)")
var results: [String: [Double]] = [:]
for netName in file.nets.keys.sorted() {
    let net = file.nets[netName]!
    var total = 0.0, gflop = 0.0
    if !quiet { print(String(format: "%-28@ %-18@ %-16@ %6@ %9@ %9@ %7@", "layer", "x", "w", "groups", "torch ms", "swift ms", "GF/s")) }
    for L in net.layers {
        let x = random(L.x, scale: 1), w = random(L.w, scale: 0.05), b = random([L.w[0]], scale: 1)
        let p = Conv2dParameters(stride: (L.stride[0], L.stride[1]), padding: (L.padding[0], L.padding[1]),
                                 dilation: (L.dilation[0], L.dilation[1]), groups: L.groups)
        let act: Activation = L.activation == "relu" ? .relu : L.activation == "relu6" ? .relu6 : .none
        let (oh, ow) = p.outputSize(h: L.x[2], w: L.x[3], kh: L.w[2], kw: L.w[3])
        let r: Tensor? = L.residual ? random([L.x[0], L.w[0], oh, ow], scale: 1) : nil
        var sink: Float = 0
        let ms = bestMs(repeats: repeats) { sink += conv2d(x, weight: w, bias: b, p, residual: r, activation: act).scalars[0] }
        if sink.isNaN { print("NaN") }
        if breakdown && L.groups == 1 {
            // The sgemm alone on the same (O, C*kH*kW) x (C*kH*kW, oH*oW) product, per image.
            let k = L.w[1] * L.w[2] * L.w[3], plane = oh * ow
            let a = random([L.w[0], k], scale: 0.05), bm = random([k, plane], scale: 1)
            var c = Tensor(zeros: [L.w[0], plane])
            let gemm = bestMs(repeats: repeats) {
                a.withUnsafeBufferPointer { pa in bm.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                    for _ in 0..<L.x[0] {
                        sgemm(m: L.w[0], n: plane, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: plane,
                              c: pc.baseAddress!, ldc: plane)
                    }
                } } }
            }
            print(String(format: "  %@: sgemm alone %.3f ms (%.0f GFLOP/s), rest %.3f ms", L.name, gemm, L.gflop / gemm * 1000, ms - gemm))
        }
        total += ms; gflop += L.gflop
        results[netName, default: []].append(ms)
        if !quiet {
            print(String(format: "%-28@ %-18@ %-16@ %6d %9.3f %9.3f %7.1f", L.name, "\(L.x)", "\(L.w)", L.groups,
                         L.torch_ms, ms, L.gflop / ms * 1000))
        }
    }
    print(String(format: "%@: %d convs, %.2f GFLOP: TensorCore %.1f ms (%.0f GFLOP/s) vs torch fused conv layers %.1f ms; torch eval forward %.1f ms",
                 netName, net.layers.count, gflop, total, gflop / total * 1000, net.torch_layers_ms, net.torch_forward_ms))
}
if let resultsPath {
    try JSONEncoder().encode(results).write(to: URL(fileURLWithPath: resultsPath))
}
