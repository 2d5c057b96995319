import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Thread count used by BLAS and by `Parallel`; set once per process (e.g. from `--threads`).
public enum ComputeThreads {
    private struct State {
        var configured: Int?            // from `set`, else OpenBLAS's own count when first read
        var singleThreadedRegions = 0   // `withSingleThreadedBLAS` calls in flight
    }
    private static let state = Mutex(State())

    public static func set(_ n: Int) {
        KernelRuntime.prepare()  // fastest OpenBLAS kernels for this CPU, allocator settings; before any BLAS work
        state.withLock { s in
            s.configured = max(1, n)
            if s.singleThreadedRegions == 0 { openblas_set_num_threads(Int32(max(1, n))) }
        }
    }

    /// The configured count (unchanged inside `withSingleThreadedBLAS`).
    public static var current: Int {
        state.withLock { s in s.configured ?? Int(openblas_get_num_threads()) }
    }

    /// Runs `body` with every sgemm single-threaded, for loops that hand each of `Parallel.workers` its own
    /// GEMMs (attention heads): one thread per GEMM keeps its operands in that core's cache and avoids OpenBLAS's
    /// fork/join per call, which costs most on the small GEMMs of a head. Nested and concurrent calls are safe;
    /// the configured count comes back when the last one ends.
    public static func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        KernelRuntime.prepare()
        state.withLock { s in
            if s.configured == nil { s.configured = Int(openblas_get_num_threads()) }
            if s.singleThreadedRegions == 0 { openblas_set_num_threads(1) }
            s.singleThreadedRegions += 1
        }
        defer {
            state.withLock { s in
                s.singleThreadedRegions -= 1
                if s.singleThreadedRegions == 0 { openblas_set_num_threads(Int32(s.configured ?? 1)) }
            }
        }
        return try body()
    }
}

/// C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C, row-major, through OpenBLAS sgemm.
/// `lda`, `ldb`, `ldc` are row strides of the stored (untransposed) matrices.
@inline(__always)
public func sgemm(
    transposeA: Bool = false, transposeB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    // The kernel switch must happen before any thread is inside OpenBLAS (swapping its dispatch table under a
    // running sgemm hangs or corrupts results), so every BLAS call passes through the one-time setup first.
    KernelRuntime.prepare()
    BLASPoolLock.shared {
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
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
