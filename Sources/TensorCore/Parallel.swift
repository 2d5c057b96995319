import Dispatch

/// Kernel-level parallelism for the loops that run outside sgemm (depthwise conv, im2col, epilogues, pools).
///
/// The worker count follows the BLAS thread count (`ComputeThreads.set`), so `--threads 2` means two workers
/// everywhere. Never call `Parallel.chunks` around a multithreaded sgemm: OpenBLAS threads itself.
///
/// ```swift
/// Parallel.chunks(count: channels) { range in for c in range { /* ... */ } }
/// ```
public enum Parallel {
    /// Number of workers used by `chunks` (the OpenBLAS thread count, at least 1).
    public static var workers: Int { max(1, ComputeThreads.current) }

    /// Splits `0..<count` into at most `workers` contiguous ranges of at least `minChunk` items
    /// and runs `body` on each with `DispatchQueue.concurrentPerform`; runs inline when one range suffices.
    public static func chunks(count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let w = Swift.min(workers, Swift.max(1, count / Swift.max(1, minChunk)))
        if w <= 1 { body(0..<count); return }
        // The workers only write disjoint ranges chosen by the caller; the closure does not outlive this call.
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendableBox(escapable)
            DispatchQueue.concurrentPerform(iterations: w) { i in
                let lo = count * i / w, hi = count * (i + 1) / w
                if lo < hi { box.value(lo..<hi) }
            }
        }
    }

    /// Runs `body(i)` for every i in `0..<iterations` on Dispatch's workers (inline for one) and waits; for loops
    /// that already split their work into per-worker parts (the coreset's passes).
    public static func forEach(iterations: Int, _ body: (Int) -> Void) {
        if iterations <= 1 { if iterations == 1 { body(0) }; return }
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendableBox(escapable)
            DispatchQueue.concurrentPerform(iterations: iterations) { i in box.value(i) }
        }
    }
}

/// Carries a non-Sendable value (a kernel closure over unsafe pointers) into concurrentPerform's workers.
struct UncheckedSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
