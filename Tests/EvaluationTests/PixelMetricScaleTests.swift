import Foundation
import Testing
@testable import Evaluation

/// Timing of the pixel metrics at MVTec-like scale. Off by default (slow in debug builds); run with
/// `PATCHCORE_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter PixelMetricScale`.
@Suite("Pixel metric scale", .enabled(if: ProcessInfo.processInfo.environment["PATCHCORE_BENCH"] == "1"))
struct PixelMetricScaleTests {
    /// 800 maps of 224x224 = 40.1M pixels, 10% of images defective with a square region each.
    @Test func fortyMillionPixels() throws {
        var state: UInt64 = 12345
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
        let n = 224
        var items: [ScoredMask] = []
        for k in 0..<800 {
            var mask: [UInt8]? = nil
            var scores = (0..<(n * n)).map { _ in next() }
            if k % 10 == 0 {
                var m = [UInt8](repeating: 0, count: n * n)
                for y in 50..<90 { for x in 60..<110 { m[y * n + x] = 255; scores[y * n + x] += 0.5 } }
                mask = m
            }
            items.append(try ScoredMask(width: n, height: n, scores: scores, mask: mask))
        }
        var keys = items.prefix(100).flatMap { $0.scores }.map(sortableKey)
        let tr = Date()
        radixSort(&keys)
        print(String(format: "radix sort of %d keys: %.3f s", keys.count, Date().timeIntervalSince(tr)))
        keys = []
        let t0 = Date()
        let auc = try Metrics.pixelAUROC(items)
        let t1 = Date()
        let pro = try Metrics.aupro(items)
        let t2 = Date()
        print(String(format: "40.1M pixels: pixel AUROC %.6f in %.2f s, AUPRO %.6f in %.2f s",
                     auc, t1.timeIntervalSince(t0), pro, t2.timeIntervalSince(t1)))
        #expect(auc > 0.8 && auc < 1)
        #expect(pro > 0.5 && pro <= 1)
    }
}
