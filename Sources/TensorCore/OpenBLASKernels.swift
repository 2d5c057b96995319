import COpenBLAS
import Foundation

/// Picks OpenBLAS's fastest kernel set for this CPU when its own detection falls short.
///
/// Debian 12's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise recent Xeons (e.g. family 6 model 207, as on this
/// project's machines) and falls back to its "Prescott" SSE3 kernels: sgemm then runs at ~28 GFLOP/s per core
/// instead of ~125 with the AVX-512 "SkylakeX" kernels. `selectBest()` reads the CPU flags from /proc/cpuinfo and,
/// if the active core is an older family than the CPU supports, re-runs OpenBLAS's dynamic dispatch with
/// OPENBLAS_CORETYPE set (what the environment variable would do at load time). An OPENBLAS_CORETYPE set by the
/// user is respected and nothing is changed. Call it once at start-up, before any BLAS work is in flight;
/// `conv2d` also calls it on first use.
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
        // (measured with 0.3.21 when ComputeThreads.set ran first); cycle it to restore the chosen count.
        openblas_set_num_threads(1)
        openblas_set_num_threads(threads)
    }()

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
