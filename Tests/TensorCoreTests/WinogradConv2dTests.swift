import Testing
import TestSupport
@testable import TensorCore

/// Winograd F(2x2, 3x3) against conv2dReference: random shapes (odd sizes, asymmetric padding, batches),
/// the fused bias/residual/activation epilogue, batch passes, and the path choice.
/// Serialized: the system OpenBLAS (pthreads build) is not safe to call from several threads at once (seen here:
/// a hang in exec_blas_async_wait and a wrong product when parameterized cases ran in parallel).
@Suite(.serialized) struct WinogradConv2dTests {
    /// A random 3x3 stride-1 conv that takes the Winograd path.
    static func randomCase(_ rng: inout SeededGenerator) -> (x: Tensor, w: Tensor, b: Tensor?, p: Conv2dParameters) {
        let n = Int.random(in: 1...3, using: &rng)
        let h = Int.random(in: 1...17, using: &rng), w = Int.random(in: 1...19, using: &rng)
        let c = Int.random(in: winogradMinChannels...winogradMinChannels + 40, using: &rng)
        let o = Int.random(in: winogradMinChannels...winogradMinChannels + 40, using: &rng)
        var begin = (Int.random(in: 0...2, using: &rng), Int.random(in: 0...2, using: &rng))
        var end = Bool.random(using: &rng) ? begin : (Int.random(in: 0...2, using: &rng), Int.random(in: 0...2, using: &rng))
        // Keep the output non-empty: h + begin + end >= 3.
        if h + begin.0 + end.0 < 3 { begin.0 = 1; end.0 = 1 }
        if w + begin.1 + end.1 < 3 { begin.1 = 1; end.1 = 1 }
        let p = Conv2dParameters(stride: (1, 1), padding: begin, paddingEnd: end)
        let b = Bool.random(using: &rng) ? randomTensor([o], using: &rng) : nil
        return (randomTensor([n, c, h, w], using: &rng), randomTensor([o, c, 3, 3], using: &rng), b, p)
    }

    /// Weights here are uniform in [-1, 1] (outputs ~10 and 600+ terms per sum), so the transforms' extra
    /// roundings show more than with trained weights: 5e-5 here, 1e-5 on the He-scaled ResNet shapes below.
    @Test func randomShapesMatchReference() {
        var rng = SeededGenerator(seed: 401)
        var worst: Float = 0
        for _ in 0..<40 {
            let (x, w, b, p) = Self.randomCase(&rng)
            #expect(convPath(convShape(x, weight: w.shape, p, residual: nil), p) == .winograd)
            let y = conv2d(x, weight: w, bias: b, p)
            let want = conv2dReference(x, weight: w, bias: b, p)
            #expect(y.shape == want.shape, "x \(x.shape) w \(w.shape) \(p)")
            guard y.shape == want.shape else { continue }
            let d = pointwiseError(y, want)
            worst = max(worst, d.rel)
            #expect(d.rel <= 5e-5, "x \(x.shape) w \(w.shape) \(p): rel diff \(d.rel)")
        }
        print("Winograd F(2x2,3x3) vs conv2dReference, random shapes: max rel diff \(worst)")
    }

    @Test(arguments: [Activation.none, .relu, .relu6, .silu])
    func preparedLayerFusesBiasResidualActivation(activation: Activation) {
        var rng = SeededGenerator(seed: 411)
        var worst: Float = 0
        for _ in 0..<8 {
            let (x, w, b, p) = Self.randomCase(&rng)
            let layer = PreparedConv2d(weight: w, bias: b, p, activation: activation)
            #expect(layer.path == .winograd && layer.preparedWeights.count == 16 * w.shape[0] * w.shape[1])
            var want = conv2dReference(x, weight: w, bias: b, p)
            let residual = randomTensor(want.shape, using: &rng)
            want.add(residual)
            want.apply(activation)
            let got = layer(x, residual: residual)
            #expect(got.shape == want.shape)
            guard got.shape == want.shape else { continue }
            let d = pointwiseError(got, want)
            worst = max(worst, d.rel)
            #expect(d.rel <= 1e-5, "x \(x.shape) w \(w.shape) \(p) \(activation): rel diff \(d.rel)")
        }
        print("Winograd PreparedConv2d + residual + \(activation): max rel diff \(worst)")
    }

    @Test func resNetShapesMatchReference() {
        // ResNet-50 / WRN-50 bottleneck 3x3s (padding 1) at reduced sizes, batch 2, residual + ReLU, with the
        // weights scaled like a trained layer's (He init) so outputs are O(1).
        var rng = SeededGenerator(seed: 421)
        // The last two are wide: 19 and 8 tiles per row, so the 8-wide SIMD loops run with and without a tail.
        let shapes: [([Int], Int)] = [([2, 64, 15, 15], 64), ([2, 128, 7, 9], 128), ([1, 256, 14, 14], 256),
                                      ([2, 48, 1, 2], 40), ([1, 32, 6, 37], 36), ([2, 40, 5, 16], 33)]
        for (xs, o) in shapes {
            let x = randomTensor(xs, using: &rng)
            let w = randomTensor([o, xs[1], 3, 3], using: &rng, scale: (6 / Float(xs[1] * 9)).squareRoot())
            let b = randomTensor([o], using: &rng)
            let p = Conv2dParameters(padding: 1)
            var want = conv2dReference(x, weight: w, bias: b, p)
            let residual = randomTensor(want.shape, using: &rng)
            want.add(residual)
            want.apply(.relu)
            let got = PreparedConv2d(weight: w, bias: b, p, activation: .relu)(x, residual: residual)
            let d = pointwiseError(got, want)
            print("Winograd x \(xs) -> \(o) channels: max abs diff \(d.abs), rel \(d.rel)")
            #expect(d.rel <= 1e-5)
        }
    }

    /// `winogradConv2d` on tensors (weights transformed here) with an explicit pass budget.
    func winograd(_ x: Tensor, _ w: Tensor, _ b: Tensor, residual: Tensor, _ activation: Activation,
                  _ p: Conv2dParameters, passFloats: Int) -> Tensor {
        let s = convShape(x, weight: w.shape, p, residual: residual)
        let u = UnsafeMutablePointer<Float>.allocate(capacity: 16 * s.o * s.c)
        defer { u.deallocate() }
        w.withUnsafeBufferPointer { winogradWeightTransform($0.baseAddress!, o: s.o, c: s.c, into: u) }
        var y = Tensor(zeros: residual.shape)
        x.withUnsafeBufferPointer { px in b.withUnsafeBufferPointer { pb in residual.withUnsafeBufferPointer { pr in
            y.withUnsafeMutableBufferPointer { py in
                winogradConv2d(px.baseAddress!, u, pb.baseAddress!, pr.baseAddress!, activation, s, p, py.baseAddress!,
                               passFloats: passFloats)
            }
        } } }
        return y
    }

    @Test func largeBatchesSplitIntoPasses() {
        // passFloats 1 forces one image per pass; a middle budget two images per pass with a remainder.
        var rng = SeededGenerator(seed: 431)
        let x = randomTensor([5, 32, 6, 7], using: &rng), w = randomTensor([33, 32, 3, 3], using: &rng)
        let b = randomTensor([33], using: &rng)
        let p = Conv2dParameters(padding: 1)
        let want = conv2dReference(x, weight: w, bias: b, p)
        let residual = randomTensor(want.shape, using: &rng)
        let tiles = WinogradTiles(convShape(x, weight: w.shape, p, residual: residual))
        for budget in [1, 2 * 16 * (32 + 33) * tiles.perImage, 1 << 22] {
            let y = winograd(x, w, b, residual: residual, .none, p, passFloats: budget)
            var expected = want
            expected.add(residual)
            let d = pointwiseError(y, expected)
            print("Winograd, pass budget \(budget): max rel diff \(d.rel)")
            #expect(d.rel <= 1e-5, "budget \(budget)")
        }
    }

    @Test func largeImagesGoThroughInBandsOfTileRows() {
        // One image whose V + M exceed the budget runs in bands of tile rows: 1 row, 3 rows (7 tile rows leave a
        // short last band), and all rows. SiLU is not idempotent, so a band that re-applied the activation to
        // rows already written (or to rows not yet written) would show.
        var rng = SeededGenerator(seed: 97)
        let x = randomTensor([2, 32, 13, 11], using: &rng), w = randomTensor([40, 32, 3, 3], using: &rng)
        let b = randomTensor([40], using: &rng)
        let p = Conv2dParameters(padding: 1)
        let plain = conv2dReference(x, weight: w, bias: b, p)
        let residual = randomTensor(plain.shape, using: &rng)
        var want = plain
        want.add(residual)
        want.apply(.silu)
        let tiles = WinogradTiles(convShape(x, weight: w.shape, p, residual: residual))
        #expect(tiles.th == 7)
        let tileRow = 16 * (32 + 40) * tiles.tw
        for budget in [1, 3 * tileRow, 7 * tileRow] {
            let y = winograd(x, w, b, residual: residual, .silu, p, passFloats: budget)
            let d = pointwiseError(y, want)
            print("Winograd in bands, budget \(budget): max abs diff \(d.abs), rel \(d.rel)")
            #expect(d.rel <= 1e-5, "budget \(budget)")
        }
    }

    @Test func pathChoiceFollowsShapeAndParameters() {
        let p1 = Conv2dParameters(padding: 1)
        #expect(convPath(o: 64, cg: 64, kh: 3, kw: 3, p1) == .winograd)
        #expect(convPath(o: 64, cg: 64, kh: 3, kw: 3, .init(stride: 2, padding: 1)) == .shiftedGemm)
        #expect(convPath(o: 64, cg: 64, kh: 3, kw: 3, .init(padding: 2, dilation: 2)) == .shiftedGemm)
        #expect(convPath(o: 64, cg: 32, kh: 3, kw: 3, .init(padding: 1, groups: 2)) == .shiftedGemm)
        #expect(convPath(o: 64, cg: 16, kh: 3, kw: 3, p1) == .shiftedGemm)
        #expect(convPath(o: 8, cg: 64, kh: 3, kw: 3, p1) == .shiftedGemm)
        #expect(convPath(o: 64, cg: 64, kh: 5, kw: 5, .init(padding: 2)) == .shiftedGemm)
        #expect(convPath(o: 64, cg: 1, kh: 3, kw: 3, .init(padding: 1, groups: 64)) == .depthwise)
    }
}
