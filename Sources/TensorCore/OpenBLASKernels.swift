import COpenBLAS
import Foundation
import Synchronization

/// Picks OpenBLAS's fastest kernel set for this CPU when its own detection falls short.
///
/// Debian 12's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise recent Xeons (e.g. family 6 model 207, as on this
/// project's machines) and falls back to its "Prescott" SSE3 kernels, several times slower at sgemm than the
/// AVX-512 "SkylakeX" kernels (bench/DESIGN_NOTES.md#openblas-kernels). `selectBest()` reads the CPU flags from
/// /proc/cpuinfo and, if the active core is an older family than the CPU supports, re-runs OpenBLAS's dynamic
/// dispatch with OPENBLAS_CORETYPE set (what the environment variable would do at load time). An OPENBLAS_CORETYPE
/// set by the user is respected and nothing is changed. Call it once at start-up, before any BLAS work is in
/// flight; `conv2d` also calls it on first use.
///
/// ```swift
/// OpenBLASKernels.selectBest()
/// print(OpenBLASKernels.coreName)   // "SkylakeX"
/// ```
public enum OpenBLASKernels {
    /// The kernel family OpenBLAS is using now (e.g. "Prescott", "Haswell", "SkylakeX").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// Switches to the best kernel family the CPU supports (idempotent, thread-safe); returns the active core name.
    @discardableResult
    public static func selectBest() -> String {
        _ = selected
        return coreName
    }

    private static let selected: Void = {
        if getenv("OPENBLAS_CORETYPE") != nil { return }
        let flags = cpuFlags()
        let target: String
        let upgradable: Set<String>
        if ["avx512f", "avx512vl", "avx512bw", "avx512dq", "avx512cd"].allSatisfy(flags.contains) {
            target = "SkylakeX"
            upgradable = sseFamilies.union(["sandybridge", "haswell", "zen"])
        } else if ["avx2", "fma"].allSatisfy(flags.contains) {
            target = "Haswell"
            upgradable = sseFamilies.union(["sandybridge"])
        } else {
            return
        }
        guard upgradable.contains(coreName.lowercased()) else { return }
        guard let handle = dlopen(nil, RTLD_NOW),
              let initSym = dlsym(handle, "gotoblas_dynamic_init"),
              let quitSym = dlsym(handle, "gotoblas_dynamic_quit") else { return }  // not a DYNAMIC_ARCH build
        typealias Hook = @convention(c) () -> Void
        let threads = openblas_get_num_threads()
        setenv("OPENBLAS_CORETYPE", target, 1)
        unsafeBitCast(quitSym, to: Hook.self)()
        unsafeBitCast(initSym, to: Hook.self)()
        unsetenv("OPENBLAS_CORETYPE")
        // After re-running the dispatch, sgemm stays single-threaded until the thread count is set again
        // (OpenBLAS 0.3.21, when ComputeThreads.set ran first); cycle it to restore the chosen count.
        openblas_set_num_threads(1)
        openblas_set_num_threads(threads)
    }()

    /// How OpenBLAS's worker threads wait for the next call.
    public enum IdleWait: Sendable {
        /// OpenBLAS's default: spin on sched_yield for about 2^28 cycles (~0.1 s) before sleeping, so the next call
        /// starts at once. Best when sgemm calls follow each other closely (the PatchCore backbones).
        case spin
        /// Sleep almost at once (OPENBLAS_THREAD_TIMEOUT=4). Best when Dispatch loops run between sgemm calls, as in
        /// the diffusion models' attention and norms: a spinning worker takes a core's time slices from them
        /// (bench/DESIGN_NOTES.md#openblas-idle-wait).
        case sleep
    }

    /// Sets how OpenBLAS's workers wait between calls by restarting its thread pool with the matching timeout
    /// (OpenBLAS reads OPENBLAS_THREAD_TIMEOUT when it creates the pool). The restart waits for sgemm calls in
    /// flight (`BLASPoolLock`); call it at start-up, as the pool restart costs a few hundred microseconds.
    /// An OPENBLAS_THREAD_TIMEOUT set by the user wins and nothing is changed; returns whether the pool was
    /// restarted.
    @discardableResult
    public static func setIdleWait(_ wait: IdleWait) -> Bool {
        KernelRuntime.prepare()
        return idleWaitLock.withLock { current in
            guard current != wait, getenv("OPENBLAS_THREAD_TIMEOUT") == nil || current != nil else { return false }
            guard let handle = dlopen(nil, RTLD_NOW),
                  let readEnv = dlsym(handle, "openblas_read_env"),
                  let shutdown = dlsym(handle, "blas_thread_shutdown_") else { return false }
            typealias Hook = @convention(c) () -> Void
            typealias Shutdown = @convention(c) () -> Int32
            // 28 is OpenBLAS's built-in default; 4 its minimum (2^4 cycles, i.e. sleep at once).
            setenv("OPENBLAS_THREAD_TIMEOUT", wait == .sleep ? "4" : "28", 1)
            unsafeBitCast(readEnv, to: Hook.self)()
            unsetenv("OPENBLAS_THREAD_TIMEOUT")
            let threads = openblas_get_num_threads()
            BLASPoolLock.exclusive {   // no sgemm in flight while the pool goes
                _ = unsafeBitCast(shutdown, to: Shutdown.self)()   // the next threaded call starts a new pool
                openblas_set_num_threads(1)
                openblas_set_num_threads(threads)
            }
            current = wait
            return true
        }
    }

    /// The wait set by `setIdleWait` (nil: OpenBLAS's own, from its environment at load time).
    private static let idleWaitLock = Mutex<IdleWait?>(nil)

    /// Pre-AVX kernel families OpenBLAS may fall back to.
    private static let sseFamilies: Set<String> = [
        "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "nano", "katmai", "coppermine",
        "northwood", "banias", "opteron", "opteron_sse3", "barcelona", "bobcat", "athlon", "unknown",
    ]

    /// The "flags" of the first processor in /proc/cpuinfo (empty where the file does not exist).
    static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }
}
