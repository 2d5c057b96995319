// Swift side of the memory-bank benchmark; bench/coreset_bench.py is the PyTorch side.
//
//   swift run -c release CoresetBench coreset /tmp/bank_bottle.f32 [ratio 0.1] [maxPicks] [threads 2] [start 0]
//   swift run -c release CoresetBench plain   /tmp/bank_bottle.f32 [picks 200]
//   swift run -c release CoresetBench verify  /tmp/mt_bank.f32 [picks 300] [threads 2]  (accelerated == plain?)
//   swift run -c release CoresetBench knn     /tmp/bank_bottle.f32
//   swift run -c release CoresetBench gemm    /tmp/bank_bottle.f32   (plain sgemm of the k-NN shape)
//   swift run -c release CoresetBench ivf     /tmp/bank_bottle.f32 [queries 784] [lists sqrt(N)]
//                                             (approximate inverted-file search: time and recall@1 against exact)
//   CoresetBench exact BANK.f32 QUERIES.f32 [runs 20]   only the exact search, for profiling its route, then each
//                                             way of the quantized search (QuantizedScan) in the same run, or only
//                                             the one named after the runs (dotTable, boundTable, groups)
//   CoresetBench pair BANK.f32 QUERIES.f32 [probes,...]   one JSON line per search: exact, then the inverted file
//                                             with sqrt(N) lists at each probe count (bench/knn_sweep.py drives it)
// Target line for Package.swift (not in `swift test`):
//   .executableTarget(name: "CoresetBench", dependencies: ["MemoryBank", "TensorCore"], path: "bench/CoresetBench"),
// Debian's OpenBLAS 0.3.21 does not recognise this virtual CPU and picks its "Prescott" (SSE3) kernels
// (see OPENBLAS_VERBOSE=2); OPENBLAS_CORETYPE=SkylakeX in the environment roughly doubles the sgemm parts.
// Banks are raw little-endian float32 (N,128) files written by `coreset_bench.py make-bank`.
// Not part of `swift test`; needs the CoresetBench executable target (see the report / ARCHITECTURE.md).
import Foundation
import MemoryBank
import TensorCore

func load(_ path: String) -> Tensor {
    guard let data = FileManager.default.contents(atPath: path), data.count % (128 * 4) == 0 else {
        print("cannot read \(path) as raw float32 (N,128)"); exit(1)
    }
    let n = data.count / (128 * 4)
    var values = [Float](repeating: 0, count: n * 128)
    _ = values.withUnsafeMutableBytes { data.copyBytes(to: $0) }
    return Tensor(shape: [n, 128], scalars: values)
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

let args = CommandLine.arguments
guard args.count >= 3 else { print("usage: CoresetBench coreset|plain|knn|ivf|pair BANK [options]"); exit(2) }
/// Median of `runs` timings of `body` (seconds).
func timed(runs: Int, _ body: () -> Void) -> Double {
    var times: [Double] = []
    for _ in 0..<runs { let t0 = now(); body(); times.append(now() - t0) }
    return times.sorted()[runs / 2]
}
let x = load(args[2])
let n = x.shape[0]
KernelRuntime.prepare()   // OpenBLAS kernel family (AVX-512 on this CPU) before any BLAS work
ComputeThreads.set(2)

switch args[1] {
case "coreset":
    let ratio = args.count > 3 ? Double(args[3])! : 0.1
    let total = max(1, Int(Double(n) * ratio))
    let count = args.count > 4 ? min(total, Int(args[4])!) : total
    let threads = args.count > 5 ? Int(args[5])! : 2
    let start = args.count > 6 ? Int(args[6])! : 0
    let t0 = now()
    var marks: [(Int, Double)] = []
    let picks = try GreedyCoresetSampler.selectReduced(x, start: start, count: count, threads: threads) { done, _ in
        if done % 1000 == 0 || done == count { marks.append((done, now() - t0)) }
    }
    let dt = now() - t0
    for (done, t) in marks where done % 2000 == 0 || done == count {
        print(String(format: "  %6d picks: %.2f s", done, t))
    }
    print(String(format: "swift accelerated greedy (threads %d): N=%d, %d of %d picks in %.2f s, %.3f ms/pick",
                 threads, n, count, total, dt, dt * 1e3 / Double(count)))
    if count < total { print("  (partial run: later picks are cheaper, so scaling up over-estimates)") }
    print("swift first picks:", Array(picks.prefix(20)))
    // Order-sensitive FNV-1a of all picks, to compare whole runs of different builds.
    var h: UInt64 = 0xcbf29ce484222325
    for p in picks { h = (h ^ UInt64(p)) &* 0x100000001b3 }
    print(String(format: "picks checksum %016llx", h))
case "plain":
    let count = args.count > 3 ? Int(args[3])! : 200
    let t0 = now()
    let picks = PlainGreedyCoreset.select(x, start: 0, count: count)
    let dt = now() - t0
    print(String(format: "swift plain greedy: N=%d first %d picks %.2f s, %.2f ms/pick, extrapolated 10%%: %.1f s",
                 n, count, dt, dt * 1e3 / Double(count), dt / Double(count) * Double(n / 10)))
    print("swift plain first picks:", Array(picks.prefix(20)))
case "verify":
    // The first `count` picks of the accelerated and the plain algorithm from start 0 must be identical.
    let count = args.count > 3 ? Int(args[3])! : 300
    let threads = args.count > 4 ? Int(args[4])! : 2
    var t0 = now()
    let fast = try GreedyCoresetSampler.selectReduced(x, start: 0, count: count, threads: threads)
    let tFast = now() - t0
    t0 = now()
    let plain = PlainGreedyCoreset.select(x, start: 0, count: count)
    let tPlain = now() - t0
    let firstDiff = zip(fast, plain).enumerated().first { $0.element.0 != $0.element.1 }?.offset
    print(String(format: "verify N=%d, %d picks: accelerated %.2f s, plain %.2f s; ", n, count, tFast, tPlain)
          + (firstDiff.map { "FIRST MISMATCH at pick \($0)" } ?? "identical"))
    if firstDiff != nil { exit(1) }
case "knn":
    // Queries: the 784 patches of the last image (real, in raster order); banks exclude that image:
    // every 10th row of the other images (a 10%-size bank) and all other rows.
    let queries = Tensor(shape: [784, 128], scalars: Array(x.scalars[((n - 784) * 128)...]))
    let others = n - 784
    var tenth = [Float]()
    for r in stride(from: 0, to: others, by: 10) { tenth += x.scalars[(r * 128)..<((r + 1) * 128)] }
    let banks = [Tensor(shape: [tenth.count / 128, 128], scalars: tenth),
                 Tensor(shape: [others, 128], scalars: Array(x.scalars[0..<(others * 128)]))]
    for features in banks {
        let rows = features.shape[0]
        let tb = now()
        let bank = try MemoryBank(features: features)
        print(String(format: "bank of %d rows built (grouping) in %.2f s", rows, now() - tb))
        let (_, route, share) = bank.nearestRouted(to: queries, k: 1)
        print(String(format: "default route: %@ (first block of 64 queries visited %.1f%% of the rows)",
                     route.rawValue, (share ?? 1) * 100))
        for mode in ["default", "grouped", "linear 2 MiB tiles", "linear 8 MiB tiles"] {
            var times: [Double] = []
            var mean: Float = 0
            for _ in 0..<5 {
                let t0 = now()
                let (d, _) = mode == "default" ? bank.nearest(to: queries, k: 1)
                    : mode == "grouped" ? bank.nearestGrouped(to: queries, k: 1)
                    : bank.nearestLinear(to: queries, k: 1, tileBytes: mode.contains("8") ? 8 << 20 : 2 << 20)
                times.append(now() - t0)
                mean = d.scalars.reduce(0, +) / Float(784)
            }
            times.sort()
            print(String(format: "swift nearest k=1 784 x %d (%@): median %.1f ms (min %.1f); mean 1-NN %.4f",
                         rows, mode, times[2] * 1e3, times[0] * 1e3, mean))
        }
        var times: [Double] = []
        for _ in 0..<3 {
            let t0 = now(); _ = bank.nearest(to: queries, k: 9); times.append(now() - t0)
        }
        print(String(format: "swift nearest k=9 784 x %d: median %.1f ms", rows, times.sorted()[1] * 1e3))
    }
case "ivf":
    // Queries: the last `queries` rows (real patches in raster order); the banks are every 10th of the other rows
    // and all of them. Recall@1: the share of queries whose approximate nearest distance equals the exact one
    // (equal distances count, so duplicate bank rows do not lower it).
    let qn = args.count > 3 ? Int(args[3])! : 784
    let listsArg = args.count > 4 ? Int(args[4]) : nil
    let queries = x.rows((n - qn)..<n)
    let others = n - qn
    let banks = [x.gatherRows(Array(stride(from: 0, to: others, by: 10))), x.rows(0..<others)]
    func median(_ body: () -> Void) -> Double {
        var times: [Double] = []
        for _ in 0..<5 { let t0 = now(); body(); times.append(now() - t0) }
        return times.sorted()[2]
    }
    for features in banks {
        let rows = features.shape[0]
        let bank = try MemoryBank(features: features)
        var exact = bank.nearest(to: queries, k: 1)
        let tExact = median { exact = bank.nearest(to: queries, k: 1) }
        let route = bank.nearestRouted(to: queries, k: 1).route
        print(String(format: "exact %d x %d (%@): median %.1f ms", qn, rows, route.rawValue, tExact * 1e3))
        let tb = now()
        let trained = try bank.withInvertedFileIndex(lists: listsArg, probes: 1)
        let lists = trained.invertedFile!.lists
        print(String(format: "inverted file: %d lists built in %.2f s", lists, now() - tb))
        for probes in [1, 2, 4, 8, 16, 32] where probes <= lists {
            let indexed = trained.probing(probes)
            var approx = indexed.nearest(to: queries, k: 1)
            let t = median { approx = indexed.nearest(to: queries, k: 1) }
            var hits = 0
            var relative: Double = 0
            for i in 0..<qn {
                let a = approx.distances.scalars[i], e = exact.distances.scalars[i]
                if a <= e { hits += 1 }
                if e > 0 { relative += Double(a / e - 1) }
            }
            print(String(format: "ivf %d x %d, %d of %d lists: median %.1f ms (%.1fx exact), recall@1 %.4f, mean distance +%.3f%%",
                         qn, rows, probes, lists, t * 1e3, tExact / t, Double(hits) / Double(qn),
                         relative / Double(qn) * 100))
        }
    }
case "pair":
    let queries = load(args[3])
    let probeCounts = args.count > 4 ? args[4].split(separator: ",").map { Int($0)! } : [1, 8, 32]
    let bank = try MemoryBank(features: x)
    let (m, rows) = (queries.shape[0], x.shape[0])
    var exact = bank.nearest(to: queries, k: 1)
    // One run when a search takes seconds, else the median of 3 (after the warm-up above).
    let warm = timed(runs: 1) { exact = bank.nearest(to: queries, k: 1) }
    let runs = warm > 2 ? 1 : (warm < 0.1 ? 15 : 3)                // as knn_sweep.py: searches under 0.1 s are noisy
    let tExact = runs == 1 ? warm : timed(runs: runs) { exact = bank.nearest(to: queries, k: 1) }
    let route = bank.nearestRouted(to: queries, k: 1).route
    print("{\"side\": \"swift\", \"search\": \"exact\", \"route\": \"\(route.rawValue)\", \"rows\": \(rows), \"queries\": \(m), \"ms\": \(tExact * 1e3), \"runs\": \(runs)}")
    let tb = now()
    let trained = try bank.withInvertedFileIndex(probes: 1)
    let build = now() - tb
    for probes in probeCounts {
        let indexed = trained.probing(probes)
        var approx = indexed.nearest(to: queries, k: 1)
        let t = timed(runs: runs) { approx = indexed.nearest(to: queries, k: 1) }
        let hits = (0..<m).filter { approx.distances.scalars[$0] <= exact.distances.scalars[$0] }.count
        print("{\"side\": \"swift\", \"search\": \"ivf\", \"lists\": \(trained.invertedFile!.lists), \"probes\": \(probes), \"rows\": \(rows), \"queries\": \(m), \"ms\": \(t * 1e3), \"recall\": \(Double(hits) / Double(m)), \"build_s\": \(build), \"runs\": \(runs)}")
    }
case "exact":
    // Only the exact 1-NN search, `runs` times (for profiling its route): median ms and the route.
    let queries = load(args[3])
    let runs = args.count > 4 ? Int(args[4])! : 20
    let bank = try MemoryBank(features: x)
    var result = bank.nearest(to: queries, k: 1)
    let t = timed(runs: runs) { result = bank.nearest(to: queries, k: 1) }
    let mean = result.distances.scalars.reduce(0, +) / Float(max(1, result.indices.count))
    print(String(format: "exact %d x %d: %.2f ms (median of %d), route %@, mean 1-NN %.4f", x.shape[0], queries.shape[0],
                 t * 1e3, runs, bank.nearestRouted(to: queries, k: 1).route.rawValue, mean))
    // Each way of the quantized search, in the same run (the default is .dotTable): time and agreement.
    for scan in QuantizedScan.allCases where args.count <= 5 || args[5] == "\(scan)" {
        var quantized = bank.nearestQuantized(to: queries, scan: scan)
        let tq = timed(runs: runs) { quantized = bank.nearestQuantized(to: queries, scan: scan) }
        let same = quantized.map { $0.indices == result.indices && $0.distances.scalars == result.distances.scalars }
        print(String(format: "  quantized, scan %@: %.2f ms (median of %d), same rows and distances as above: %@",
                     "\(scan)", tq * 1e3, runs, same.map { "\($0)" } ?? "no codes"))
    }
case "gemm":
    // Plain sgemm of the k-NN shape, to see how much of `nearest` is the BLAS product itself.
    let q = Tensor(shape: [784, 128], scalars: Array(x.scalars[0..<(784 * 128)]))
    for rows in [16_384, 2048] {
        let b = Tensor(shape: [rows, 128], scalars: Array(x.scalars[0..<(rows * 128)]))
        var times: [Double] = []
        for _ in 0..<5 { let t0 = now(); _ = matmul(q, b, transposeB: true); times.append(now() - t0) }
        let t = times.sorted()[2]
        print(String(format: "sgemm 784 x 128 x %d: %.2f ms, %.1f GFLOP/s (BLAS threads %d)",
                     rows, t * 1e3, 2.0 * 784 * 128 * Double(rows) / t * 1e-9, ComputeThreads.current))
    }
default:
    print("unknown command \(args[1])"); exit(2)
}
