import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Process-wide settings the kernels depend on for speed, applied once (thread-safe) on the first conv2d call,
/// or explicitly at start-up (recommended, before any BLAS work is in flight):
/// - OpenBLAS kernel family (`OpenBLASKernels.selectBest()`).
/// - OpenBLAS single-threaded: `sgemm` runs fixed tiles on its own threads (`ComputeThreads`, `GemmTiles`).
/// - glibc malloc: by default, buffers above a (dynamic) threshold are mmap'ed and the heap top is trimmed
///   after every free, so each layer's multi-megabyte output and scratch buffers are page-faulted in afresh on
///   every call (bench/DESIGN_NOTES.md#malloc-thresholds). Raising the mmap threshold to its 32 MiB maximum
///   and the trim threshold to 256 MiB keeps those pages in the heap for reuse, and turning mmap off for
///   requests (M_MMAP_MAX 0) keeps the larger buffers of large images there too.
///
/// ```swift
/// KernelRuntime.prepare()
/// ComputeThreads.set(2)
/// ```
public enum KernelRuntime {
    /// Applies the settings above once per process.
    public static func prepare() { _ = prepared }

    /// The thread count when `ComputeThreads.set` was not called: OpenBLAS's default (OPENBLAS_NUM_THREADS, else
    /// the cores it found), read before it is made single-threaded.
    public static var defaultThreads: Int { prepare(); return openBLASDefaultThreads }

    private static let openBLASDefaultThreads = max(1, Int(openblas_get_num_threads()))

    private static let prepared: Void = {
        OpenBLASKernels.selectBest()
        _ = openBLASDefaultThreads
        openblas_set_num_threads(1)
        #if canImport(Glibc)
        // mallopt is not exported by the Glibc module; look it up (values from glibc's malloc.h).
        let mTrimThreshold: Int32 = -1, mMmapThreshold: Int32 = -3, mMmapMax: Int32 = -4
        if let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "mallopt") {
            let mallopt = unsafeBitCast(sym, to: (@convention(c) (Int32, Int32) -> Int32).self)
            _ = mallopt(mMmapThreshold, 32 << 20)
            _ = mallopt(mTrimThreshold, 256 << 20)
            // Blocks above the threshold's 32 MiB ceiling (a 1,000 x 1,000 image's first layers: 32-96 MiB) are
            // not mmap'ed either, so they too are reused instead of faulted in afresh on every image. An allocation
            // the heap cannot serve still falls back to mmap inside glibc.
            _ = mallopt(mMmapMax, 0)
        }
        #endif
    }()
}
