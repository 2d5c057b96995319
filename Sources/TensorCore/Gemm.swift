import COpenBLAS
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Thread count used by sgemm and by `Parallel`; set once per process (e.g. from `--threads`).
///
/// OpenBLAS itself always runs single-threaded: `sgemm` splits each product into tiles chosen from its shape alone
/// and hands them to these threads. OpenBLAS's own threading splits at positions that depend on the thread count,
/// and its edge kernels round differently from its main ones, so about 1 element in 30 of a product changed in the
/// last bit between `--threads 1` and `--threads 2`; fixed tiles make every result independent of the count.
public enum ComputeThreads {
    private struct State {
        var configured: Int?            // from `set`, else OpenBLAS's own default count (OPENBLAS_NUM_THREADS, cores)
        var singleThreadedRegions = 0   // `withSingleThreadedBLAS` calls in flight
    }
    private static let state = Mutex(State())

    public static func set(_ n: Int) {
        KernelRuntime.prepare()  // fastest OpenBLAS kernels for this CPU, allocator settings; before any BLAS work
        state.withLock { s in s.configured = max(1, n) }
    }

    /// The configured count (unchanged inside `withSingleThreadedBLAS`).
    public static var current: Int {
        KernelRuntime.prepare()
        return state.withLock { s in s.configured ?? KernelRuntime.defaultThreads }
    }

    /// Whether `sgemm` may run its tiles on several threads now.
    static var gemmWorkers: Int {
        state.withLock { s in s.singleThreadedRegions > 0 ? 1 : (s.configured ?? KernelRuntime.defaultThreads) }
    }

    /// Runs `body` with every sgemm on the calling thread, for loops that hand each of `Parallel.workers` its own
    /// GEMMs (attention heads): one thread per GEMM keeps its operands in that core's cache and avoids a fork/join
    /// per call, which costs most on the small GEMMs of a head. Results are the same either way. Nested and
    /// concurrent calls are safe; sgemm threads again when the last one ends.
    public static func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        KernelRuntime.prepare()
        state.withLock { s in s.singleThreadedRegions += 1 }
        defer { state.withLock { s in s.singleThreadedRegions -= 1 } }
        return try body()
    }
}

/// How `sgemm` splits C (M,N) into tiles: along its longer side, into at most `maxTiles` slabs of at least
/// `minTileExtent` rows or columns and `minTileWork` multiply-adds, with edges on multiples of 16 (whole OpenBLAS
/// register blocks). Each tile packs the other operand again, so narrow tiles cost more than they share out.
/// The plan depends on the shape only, never on the thread count, so results are bit-identical for any count.
struct GemmTiles: Equatable {
    static let minTileWork = 1 << 20
    static let minTileExtent = 256
    static let maxTiles = 16
    static let edgeMultiple = 16

    let alongRows: Bool  // split M (rows of C) rather than N
    let extent: Int      // M or N
    let step: Int        // rows or columns per tile (the last one may be shorter)

    init(m: Int, n: Int, k: Int) {
        alongRows = m > n
        extent = alongRows ? m : n
        let work = m.multipliedReportingOverflow(by: n).partialValue.multipliedReportingOverflow(by: max(k, 1))
        let byWork = work.overflow ? Self.maxTiles : work.partialValue / Self.minTileWork
        let wanted = max(1, min(Self.maxTiles, byWork, extent / Self.minTileExtent))
        let raw = (extent + wanted - 1) / wanted
        step = max(Self.edgeMultiple, (raw + Self.edgeMultiple - 1) / Self.edgeMultiple * Self.edgeMultiple)
    }

    var count: Int { max(1, (extent + step - 1) / step) }

    func range(_ i: Int) -> Range<Int> { (i * step)..<min(extent, (i + 1) * step) }
}

/// C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C, row-major, through OpenBLAS sgemm.
/// `lda`, `ldb`, `ldc` are row strides of the stored (untransposed) matrices.
/// Large products run as fixed tiles (`GemmTiles`) on up to `ComputeThreads.current` threads.
public func sgemm(
    transposeA: Bool = false, transposeB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    sgemmBatch([GemmCall(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                         a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)])
}

/// One product of `sgemmBatch`, with `sgemm`'s arguments.
public struct GemmCall {
    public var transposeA = false, transposeB = false
    public var m: Int, n: Int, k: Int
    public var alpha: Float = 1
    public var a: UnsafePointer<Float>, lda: Int
    public var b: UnsafePointer<Float>, ldb: Int
    public var beta: Float = 0
    public var c: UnsafeMutablePointer<Float>, ldc: Int

    public init(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                c: UnsafeMutablePointer<Float>, ldc: Int) {
        self.transposeA = transposeA; self.transposeB = transposeB
        self.m = m; self.n = n; self.k = k; self.alpha = alpha
        self.a = a; self.lda = lda; self.b = b; self.ldb = ldb; self.beta = beta; self.c = c; self.ldc = ldc
    }

    /// Tile `r` of this product's plan `tiles`, through single-threaded OpenBLAS.
    func run(_ tiles: GemmTiles, _ r: Range<Int>) {
        // Offsets of the tile's rows of op(A) or columns of op(B) in the stored matrices.
        let (aTile, bTile, cTile) = tiles.alongRows
            ? (a + r.lowerBound * (transposeA ? 1 : lda), b, c + r.lowerBound * ldc)
            : (a, b + r.lowerBound * (transposeB ? ldb : 1), c + r.lowerBound)
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(tiles.alongRows ? r.count : m), Int32(tiles.alongRows ? n : r.count), Int32(k), alpha,
                    aTile, Int32(lda), bTile, Int32(ldb), beta, cTile, Int32(ldc))
    }
}

/// Several products in one hand-out of tiles to the threads: one wake-up of the workers instead of one per product,
/// which matters for the many small products of a conv (Winograd's 16 per pass, a 1x1 conv's one per image).
/// Independent products (the default) must write disjoint C. `chained`: every call has the same m, n, k and C and
/// they run in order on each tile (the 9 accumulating taps of a shifted-GEMM conv). Each tile is computed exactly as
/// `sgemm` computes it alone, so results do not depend on the grouping or on the thread count.
public func sgemmBatch(_ calls: [GemmCall], chained: Bool = false) {
    guard !calls.isEmpty else { return }
    // The kernel switch must happen before any thread is inside OpenBLAS (swapping its dispatch table under a
    // running sgemm hangs or corrupts results), so every BLAS call passes through the one-time setup first.
    KernelRuntime.prepare()
    let plans = calls.map { GemmTiles(m: $0.m, n: $0.n, k: $0.k) }
    let item: (Int) -> Void
    let items: Int
    if chained {
        precondition(calls.allSatisfy { $0.m == calls[0].m && $0.n == calls[0].n && $0.k == calls[0].k && $0.c == calls[0].c },
                     "chained GEMMs share one shape and one C")
        items = plans[0].count
        item = { i in for call in calls { call.run(plans[0], plans[0].range(i)) } }
    } else {
        var first = [Int](), total = 0   // first item of each call
        for plan in plans { first.append(total); total += plan.count }
        items = total
        item = { i in
            var lo = 0, hi = first.count - 1   // the last call whose first item is <= i
            while lo < hi { let mid = (lo + hi + 1) / 2; if first[mid] <= i { lo = mid } else { hi = mid - 1 } }
            calls[lo].run(plans[lo], plans[lo].range(i - first[lo]))
        }
    }
    BLASPoolLock.shared {
        let workers = min(items, ComputeThreads.gemmWorkers)
        if workers <= 1 {
            for i in 0..<items { item(i) }
            return
        }
        // Tiles are handed out one at a time, so a worker slowed by another process does not hold up the rest.
        let next = Atomic<Int>(0)
        let box = UncheckedSendableBox(item)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= items { break }
                box.value(i)
            }
        }
    }
}

/// A readers-writer lock between sgemm calls (shared: any number at once) and restarts of OpenBLAS's thread pool
/// (`OpenBLASKernels.setIdleWait`, exclusive), so a restart waits for the products in flight instead of pulling
/// the pool from under them. An uncontended shared acquire is two atomic operations, next to microseconds per sgemm.
enum BLASPoolLock {
    nonisolated(unsafe) private static let lock: UnsafeMutablePointer<pthread_rwlock_t> = {
        let p = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
        pthread_rwlock_init(p, nil)
        return p
    }()

    @inline(__always)
    static func shared<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    static func exclusive<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}

/// Matrix product of rank-2 tensors: (M,K) x (K,N) -> (M,N), with optional transposes of the operands.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "matmul needs rank-2 tensors, got \(a.shape) and \(b.shape)")
    let m = transposeA ? a.shape[1] : a.shape[0]
    let k = transposeA ? a.shape[0] : a.shape[1]
    let kb = transposeB ? b.shape[1] : b.shape[0]
    let n = transposeB ? b.shape[0] : b.shape[1]
    precondition(k == kb, "matmul inner dimensions differ: \(a.shape) x \(b.shape)")
    var out = Tensor(zeros: [m, n])
    if m == 0 || n == 0 { return out }
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            out.withUnsafeMutableBufferPointer { pc in
                sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                      a: pa.baseAddress!, lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1],
                      c: pc.baseAddress!, ldc: n)
            }
        }
    }
    return out
}
