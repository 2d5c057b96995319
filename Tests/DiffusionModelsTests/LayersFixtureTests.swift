import Checkpoints
import Foundation
import Testing
import TensorCore
import TestSupport
@testable import DiffusionModels

// Shared fixture helpers for the UNet / VAE / layer tests, and the layer-level tests.

let fixtures = FixtureFolder(bundle: .module)

/// Compares and prints; returns the relative error.
@discardableResult
func expectClose(_ a: Tensor, _ b: Tensor, _ what: String, tolerance: Float) -> Float {
    #expect(a.shape == b.shape, "\(what): shape \(a.shape) vs \(b.shape)")
    guard a.shape == b.shape else { return .infinity }
    let (absErr, rel) = relativeError(a, b)
    print("\(what): max abs \(absErr), rel \(rel)")
    #expect(rel <= tolerance, "\(what): relative error \(rel) > \(tolerance)")
    return rel
}

@Suite("Diffusion layers")
struct LayersTests {
    @Test func gegluMatchesScalarDefinition() {
        var rng = SplitMix64(seed: 3)
        let h = Tensor.random([3, 2 * 37], in: -4...4, using: &rng)
        let y = geglu(h)
        var maxErr: Float = 0
        for r in 0..<3 {
            for j in 0..<37 {
                let a = h[r, j], g = h[r, 37 + j]
                let want = a * 0.5 * g * (1 + Foundation.erf(g / 2.0.squareRoot().float))
                maxErr = max(maxErr, abs(y[r, j] - want))
            }
        }
        print("geglu max abs \(maxErr)")
        #expect(y.shape == [3, 37] && maxErr < 1e-5)
    }

    @Test func timestepEmbeddingFollowsDiffusersFormula() {
        let e = timestepEmbedding([981, 0.5], dim: 10, flipSinToCos: true, shift: 1)
        for (n, t) in [981.0, 0.5].enumerated() {
            for i in 0..<5 {
                let f = Foundation.exp(-Foundation.log(10000.0) * Double(i) / (5 - 1))
                #expect(abs(Double(e[n, i]) - Foundation.cos(t * f)) < 2e-3)
                #expect(abs(Double(e[n, 5 + i]) - Foundation.sin(t * f)) < 2e-3)
            }
        }
        let plain = timestepEmbedding([3], dim: 4, flipSinToCos: false, shift: 0)
        #expect(abs(plain[0, 0] - Foundation.sin(3)) < 1e-6 && abs(plain[0, 2] - Foundation.cos(3)) < 1e-6)
    }

    @Test func nearestUpsampleToAnySize() {
        var rng = SplitMix64(seed: 9)
        let x = Tensor.random([1, 2, 3, 4], using: &rng)
        for (oh, ow) in [(6, 8), (5, 7)] {
            let y = upsampleNearest(x, height: oh, width: ow)
            for c in 0..<2 {
                for i in 0..<oh {
                    for j in 0..<ow {
                        #expect(y[0, c, i, j] == x[0, c, i * 3 / oh, j * 4 / ow])
                    }
                }
            }
        }
    }
}

private extension Double {
    var float: Float { Float(self) }
}

@Suite("Diffusion layers: chunked feed-forward")
struct LayersFeedForwardTests {
    @Test func chunkedFeedForwardEqualsWholeProjection() throws {
        let weights = try ComponentWeights.open(folder: fixtures.url("unet/sd_inpaint"))
        let loader = WeightLoader(weights)
        let block = try BasicTransformerBlock(loader.scope("down_blocks.0.attentions.0.transformer_blocks.0."),
                                              dim: 16, contextDim: 24, heads: 4, headDim: 4)
        var rng = SplitMix64(seed: 4)
        let h = Tensor.random([2, 13, 16], using: &rng)
        let x0 = Tensor.random([2, 13, 16], using: &rng)
        var whole = x0
        block.ffOut.accumulate(geglu(block.ffProj(h)), into: &whole)
        for chunk in [1, 5, 26, 100] {
            var chunked = x0
            block.feedForward(h, into: &chunked, chunkRows: chunk)
            expectClose(chunked, whole, "feed-forward in chunks of \(chunk) rows", tolerance: 1e-6)
        }
    }
}

@Suite("Diffusion layers: half-precision weights")
struct LayersHalfWeightTests {
    @Test func halfToFloatIsExactForEveryPattern() {
        var mismatches = 0
        for bits in 0...UInt16.max {
            let want = Float(Float16(bitPattern: bits))
            let got = halfToFloat(bits)
            if want.isNaN ? !got.isNaN : got.bitPattern != want.bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test func storedMatrixKeepsHalfValuesExactly() {
        var rng = SplitMix64(seed: 8)
        let base = Tensor.random([5, 7], in: -3...3, using: &rng)
        let asHalf = Tensor(shape: base.shape, scalars: base.scalars.map { Float(Float16($0)) })
        let asBF16 = Tensor(shape: base.shape, scalars: base.scalars.map { Float(bitPattern: $0.bitPattern & 0xFFFF_0000) })
        #expect(StoredMatrix(asHalf, keeping: .float16).float32 == asHalf)
        #expect(StoredMatrix(asBF16, keeping: .bfloat16).float32 == asBF16)
        #expect(StoredMatrix(base, keeping: .float32).float32 == base)
    }

    /// Every path of `multiplyTransposed` (few rows: per-worker row ranges, for fp32 too; many rows: one shared
    /// sgemm) against one sgemm on the widened matrix, with beta 0 and 1 and a row stride wider than the output.
    @Test(arguments: [StoredPrecision.float16, .bfloat16, .float32])
    func productsMatchOneSgemmOnTheWidenedMatrix(_ precision: StoredPrecision) {
        var rng = SplitMix64(seed: 21)
        let w = Tensor.random([300, 40], in: -1...1, using: &rng)
        let stored = StoredMatrix(w, keeping: precision)
        let wide = stored.float32
        for m in [3, 300] {
            let x = Tensor.random([m, 40], in: -1...1, using: &rng)
            let ldc = 310
            let start = Tensor.random([m, ldc], in: -1...1, using: &rng)
            for beta: Float in [0, 1] {
                var got = start, want = start
                x.withUnsafeBufferPointer { px in
                    got.withUnsafeMutableBufferPointer { pc in
                        stored.multiplyTransposed(m: m, px.baseAddress!, beta: beta, into: pc.baseAddress!, ldc: ldc)
                    }
                    wide.withUnsafeBufferPointer { pw in
                        want.withUnsafeMutableBufferPointer { pc in
                            sgemm(transposeB: true, m: m, n: 300, k: 40, a: px.baseAddress!, lda: 40, b: pw.baseAddress!,
                                  ldb: 40, beta: beta, c: pc.baseAddress!, ldc: ldc)
                        }
                    }
                }
                let worst = zip(got.scalars, want.scalars).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= 1e-5, "m \(m) beta \(beta): max abs diff \(worst)")
            }
        }
    }
}
