import Testing
import TestSupport
@testable import TensorCore

/// The fast conv paths (depthwise direct, 1x1 sgemm, im2col + sgemm, fused epilogue) against conv2dReference
/// on seeded random shapes, and the small ops against their definitions.
@Suite struct FastPathTests {
    /// One random conv configuration; `kind` steers it towards a given fast path.
    static func randomCase(_ kind: Int, _ rng: inout SeededGenerator,
                           asymmetric: Bool = false) -> (x: Tensor, w: Tensor, b: Tensor?, p: Conv2dParameters) {
        let n = Int.random(in: 1...3, using: &rng)
        let h = Int.random(in: 1...19, using: &rng), w = Int.random(in: 1...23, using: &rng)
        let kh = [1, 3, 5, 7].randomElement(using: &rng)!, kw = Bool.random(using: &rng) ? kh : [1, 2, 3].randomElement(using: &rng)!
        let stride = (Int.random(in: 1...3, using: &rng), Int.random(in: 1...3, using: &rng))
        let dilation = (Int.random(in: 1...2, using: &rng), Int.random(in: 1...2, using: &rng))
        var padding = (Int.random(in: 0...3, using: &rng), Int.random(in: 0...3, using: &rng))
        // Keep the output non-empty.
        padding.0 = max(padding.0, (dilation.0 * (kh - 1) + 1 - h + 1) / 2)
        padding.1 = max(padding.1, (dilation.1 * (kw - 1) + 1 - w + 1) / 2)
        // Asymmetric padding (TF "SAME") half the time: one side gets up to 2 more.
        var paddingEnd = padding
        if asymmetric && Bool.random(using: &rng) {
            paddingEnd = (padding.0 + Int.random(in: 0...2, using: &rng), padding.1 + Int.random(in: 0...2, using: &rng))
            if Bool.random(using: &rng) { swap(&padding, &paddingEnd) }
        }
        var c: Int, o: Int, g: Int
        var p: Conv2dParameters
        switch kind {
        case 0: // depthwise, possibly with a channel multiplier
            c = Int.random(in: 1...9, using: &rng); g = c; o = c * Int.random(in: 1...2, using: &rng)
            p = Conv2dParameters(stride: stride, padding: padding, paddingEnd: paddingEnd, dilation: dilation, groups: g)
        case 1: // pointwise 1x1 stride 1, grouped or not
            g = Int.random(in: 1...3, using: &rng); c = g * Int.random(in: 1...6, using: &rng); o = g * Int.random(in: 1...6, using: &rng)
            let x = randomTensor([n, c, h, w], using: &rng)
            let wt = randomTensor([o, c / g, 1, 1], using: &rng)
            let b = Bool.random(using: &rng) ? randomTensor([o], using: &rng) : nil
            return (x, wt, b, Conv2dParameters(groups: g))
        case 2: // im2col path (few channels per group)
            g = Int.random(in: 1...3, using: &rng); c = g * Int.random(in: 1...4, using: &rng); o = g * Int.random(in: 1...4, using: &rng)
            p = Conv2dParameters(stride: stride, padding: padding, paddingEnd: paddingEnd, dilation: dilation, groups: g)
        default: // shifted-GEMM path (at least 16 channels per group; 1x1 strided kernels still use im2col)
            g = Int.random(in: 1...2, using: &rng); c = g * Int.random(in: 16...20, using: &rng); o = g * Int.random(in: 1...5, using: &rng)
            p = Conv2dParameters(stride: stride, padding: padding, paddingEnd: paddingEnd, dilation: dilation, groups: g)
        }
        let x = randomTensor([n, c, h, w], using: &rng)
        let wt = randomTensor([o, c / g, kh, kw], using: &rng)
        let b = Bool.random(using: &rng) ? randomTensor([o], using: &rng) : nil
        return (x, wt, b, p)
    }

    @Test(arguments: [0, 1, 2, 3])
    func fastPathMatchesReference(kind: Int) {
        Self.expectFastPathMatchesReference(kind: kind, seed: UInt64(100 + kind), cases: kind == 3 ? 60 : 150,
                                            asymmetric: false, label: "fast path kind \(kind)")
    }

    /// Random cases of one kind through `conv2d` and `conv2dReference`: same shape, relative error <= 1e-5.
    static func expectFastPathMatchesReference(kind: Int, seed: UInt64, cases: Int, asymmetric: Bool, label: String) {
        var rng = SeededGenerator(seed: seed)
        var worst: Float = 0
        for _ in 0..<cases {
            let (x, w, b, p) = randomCase(kind, &rng, asymmetric: asymmetric)
            let y = conv2d(x, weight: w, bias: b, p)
            let want = conv2dReference(x, weight: w, bias: b, p)
            #expect(y.shape == want.shape, "shape for x \(x.shape) w \(w.shape) \(p)")
            guard y.shape == want.shape else { continue }
            let d = pointwiseError(y, want)
            worst = max(worst, d.rel)
            #expect(d.rel <= 1e-5, "x \(x.shape) w \(w.shape) \(p): rel diff \(d.rel)")
        }
        print("\(label) vs conv2dReference: max rel diff \(worst)")
    }

    @Test(arguments: [Activation.none, .relu, .relu6, .silu, .sigmoid])
    func fusedEpilogueMatchesSeparatePasses(activation: Activation) {
        var rng = SeededGenerator(seed: 7)
        for kind in 0..<4 {
            for _ in 0..<20 {
                let (x, w, b, p) = Self.randomCase(kind, &rng)
                var want = conv2dReference(x, weight: w, bias: b, p)
                let residual = randomTensor(want.shape, using: &rng)
                want.add(residual)
                want.apply(activation)
                let y = conv2d(x, weight: w, bias: b, p, residual: residual, activation: activation)
                #expect(pointwiseError(y, want).rel <= 1e-5, "x \(x.shape) w \(w.shape) \(p) \(activation)")
            }
        }
    }

    @Test(arguments: [0, 2, 3])
    func asymmetricPaddingFastPathMatchesReference(kind: Int) {
        Self.expectFastPathMatchesReference(kind: kind, seed: UInt64(200 + kind), cases: kind == 3 ? 40 : 100,
                                            asymmetric: true, label: "asymmetric padding, fast path kind \(kind)")
    }

    @Test func outputSizeIsZeroWhenKernelExceedsPaddedInput() {
        // torch: floor((1 + 0 + 1 - 3) / 2) + 1 = 0; truncating division would give 1.
        let p = Conv2dParameters(stride: (2, 2), padding: (0, 0), paddingEnd: (1, 1))
        #expect(p.outputSize(h: 1, w: 1, kh: 3, kw: 3) == (0, 0))
        #expect(p.outputSize(h: 2, w: 1, kh: 3, kw: 3) == (1, 0))
        #expect(Conv2dParameters(stride: 3).outputSize(h: 2, w: 4, kh: 4, kw: 4) == (0, 1))
    }

    @Test(arguments: [0, 1, 2, 3])
    func preparedConvMatchesConv2d(kind: Int) {
        var rng = SeededGenerator(seed: UInt64(300 + kind))
        let activations: [Activation] = [.none, .relu, .relu6, .silu]
        var worst: Float = 0
        for i in 0..<40 {
            let (x, w, b, p) = Self.randomCase(kind, &rng, asymmetric: true)
            let act = activations[i % activations.count]
            let layer = PreparedConv2d(weight: w, bias: b, p, activation: act)
            let path = convPath(convShape(x, weight: w.shape, p, residual: nil), p)
            #expect(layer.path == path)
            #expect(layer.preparedWeights.isEmpty == (path != .shiftedGemm && path != .winograd))
            let residual = i % 2 == 0 ? randomTensor(conv2dReference(x, weight: w, bias: b, p).shape, using: &rng) : nil
            let want = conv2d(x, weight: w, bias: b, p, residual: residual, activation: act)
            let got = layer(x, residual: residual)
            #expect(got.shape == want.shape)
            guard got.shape == want.shape else { continue }
            let d = pointwiseError(got, want)
            worst = max(worst, d.rel)
            #expect(d.rel <= 1e-6, "x \(x.shape) w \(w.shape) \(p) \(act): rel diff \(d.rel)")
            #expect(layer.outputSize(h: x.shape[2], w: x.shape[3]) == (got.shape[2], got.shape[3]))
        }
        print("PreparedConv2d kind \(kind) vs conv2d: max rel diff \(worst)")
    }

    @Test func asymmetricPaddingEqualsExplicitZeroPadding() {
        // conv with padding (top, left) / paddingEnd (bottom, right) == unpadded conv of x zero-padded by hand,
        // the way torch runs EfficientNet-Lite's Conv2dStaticSamePadding (F.pad then conv).
        var rng = SeededGenerator(seed: 17)
        let cases: [([Int], [Int], (Int, Int), (Int, Int), (Int, Int), Int)] = [
            ([1, 6, 10, 10], [6, 1, 3, 3], (2, 2), (0, 0), (1, 1), 6),     // depthwise 3x3/2, SAME on even input
            ([2, 5, 9, 12], [5, 1, 5, 5], (2, 2), (1, 2), (2, 1), 5),      // depthwise 5x5/2
            ([1, 3, 11, 10], [8, 3, 3, 3], (2, 2), (0, 1), (1, 0), 1),     // stem (im2col)
            ([2, 18, 7, 9], [4, 18, 3, 3], (1, 2), (1, 0), (2, 1), 1),     // shifted GEMM
            ([1, 32, 8, 8], [6, 16, 3, 3], (2, 1), (0, 1), (1, 2), 2),     // grouped shifted GEMM
        ]
        for (xs, ws, stride, begin, end, groups) in cases {
            let x = randomTensor(xs, using: &rng), w = randomTensor(ws, using: &rng), b = randomTensor([ws[0]], using: &rng)
            let p = Conv2dParameters(stride: stride, padding: begin, paddingEnd: end, groups: groups)
            var padded = Tensor(zeros: [xs[0], xs[1], xs[2] + begin.0 + end.0, xs[3] + begin.1 + end.1])
            for n in 0..<xs[0] { for c in 0..<xs[1] { for i in 0..<xs[2] { for j in 0..<xs[3] {
                padded[n, c, i + begin.0, j + begin.1] = x[n, c, i, j]
            } } } }
            let want = conv2dReference(padded, weight: w, bias: b, Conv2dParameters(stride: stride, padding: (0, 0), groups: groups))
            let ref = conv2dReference(x, weight: w, bias: b, p)
            let fast = conv2d(x, weight: w, bias: b, p)
            #expect(ref.shape == want.shape && fast.shape == want.shape, "\(p)")
            guard ref.shape == want.shape && fast.shape == want.shape else { continue }
            let (dr, df) = (pointwiseError(ref, want), pointwiseError(fast, want))
            print("asymmetric padding \(xs) w \(ws): reference rel \(dr.rel), fast rel \(df.rel)")
            #expect(dr.rel <= 1e-6 && df.rel <= 1e-5, "\(p)")
        }
    }

    @Test func realNetworkShapesMatchReference() {
        // A MobileNetV2 depthwise 3x3/2 on an odd size, a ResNet stem 7x7/2 and a strided 1x1 downsample.
        var rng = SeededGenerator(seed: 11)
        let shapes: [([Int], [Int], Conv2dParameters)] = [
            ([1, 32, 57, 57], [32, 1, 3, 3], .init(stride: 2, padding: 1, groups: 32)),
            ([1, 3, 64, 64], [16, 3, 7, 7], .init(stride: 2, padding: 3)),
            ([2, 24, 14, 14], [48, 24, 1, 1], .init(stride: 2)),
            ([2, 16, 28, 28], [96, 16, 1, 1], .init()),
        ]
        for (xs, ws, p) in shapes {
            let x = randomTensor(xs, using: &rng), w = randomTensor(ws, using: &rng)
            let d = pointwiseError(conv2d(x, weight: w, bias: nil, p), conv2dReference(x, weight: w, bias: nil, p))
            print("conv x \(xs) w \(ws): max abs diff \(d.abs), rel \(d.rel)")
            #expect(d.rel <= 1e-5)
        }
    }

    @Test func shiftedGemmSplitsLargeBatchesIntoPasses() {
        // passFloats 1 forces one image per pass; 300 floats two images per pass with a remainder.
        var rng = SeededGenerator(seed: 13)
        let x = randomTensor([5, 16, 6, 7], using: &rng), w = randomTensor([4, 16, 3, 3], using: &rng)
        let b = randomTensor([4], using: &rng)
        let p = Conv2dParameters(stride: (1, 2), padding: (1, 1))
        let want = conv2dReference(x, weight: w, bias: b, p)
        let s = ConvShape(n: 5, c: 16, h: 6, w: 7, o: 4, cg: 16, kh: 3, kw: 3, g: 1, og: 4, oh: want.shape[2], ow: want.shape[3])
        for budget in [1, 300, 1 << 20] {
            var y = Tensor(zeros: want.shape)
            x.withUnsafeBufferPointer { px in w.withUnsafeBufferPointer { pw in b.withUnsafeBufferPointer { pb in
                y.withUnsafeMutableBufferPointer { py in
                    shiftedGemmConv2d(px.baseAddress!, pw.baseAddress!, pb.baseAddress!, nil, .none, s, p, py.baseAddress!,
                                      passFloats: budget)
                }
            } } }
            let d = pointwiseError(y, want)
            print("shifted GEMM, pass budget \(budget): max rel diff \(d.rel)")
            #expect(d.rel <= 1e-5, "budget \(budget)")
        }
    }

    @Test func foldBatchNormEqualsConvThenBatchNorm() {
        var rng = SeededGenerator(seed: 3)
        let x = randomTensor([2, 4, 6, 7], using: &rng), w = randomTensor([8, 2, 3, 3], using: &rng)
        let b = randomTensor([8], using: &rng)
        let gamma = randomTensor([8], using: &rng), beta = randomTensor([8], using: &rng)
        let mean = randomTensor([8], using: &rng)
        let variance = Tensor(shape: [8], scalars: (0..<8).map { _ in Float.random(in: 0.05...3, using: &rng) })
        let p = Conv2dParameters(stride: 2, padding: 1, groups: 2)
        let folded = foldBatchNorm(convWeight: w, convBias: b, gamma: gamma, beta: beta, runningMean: mean, runningVar: variance, eps: 1e-5)
        #expect(folded.weight.shape == w.shape && folded.bias.shape == [8])
        let want = batchNorm2d(conv2dReference(x, weight: w, bias: b, p), gamma: gamma, beta: beta,
                               runningMean: mean, runningVar: variance, eps: 1e-5)
        let d = pointwiseError(conv2d(x, weight: folded.weight, bias: folded.bias, p), want)
        print("foldBatchNorm vs conv+bn: max abs diff \(d.abs)")
        #expect(d.rel <= 1e-5)
    }

    @Test func concatenateJoinsAlongAxis() {
        var rng = SeededGenerator(seed: 5)
        let a = randomTensor([2, 3, 2, 2], using: &rng), b = randomTensor([2, 1, 2, 2], using: &rng)
        let y = concatenate([a, b], axis: 1)
        #expect(y.shape == [2, 4, 2, 2])
        for n in 0..<2 { for c in 0..<4 { for i in 0..<2 { for j in 0..<2 {
            #expect(y[n, c, i, j] == (c < 3 ? a[n, c, i, j] : b[n, c - 3, i, j]))
        } } } }
        let z = concatenate([a, a], axis: -1)
        #expect(z.shape == [2, 3, 2, 4])
        #expect(z[1, 2, 1, 3] == a[1, 2, 1, 1] && z[0, 1, 0, 0] == a[0, 1, 0, 0])
        #expect(concatenate([a, b, a], axis: 1).shape == [2, 7, 2, 2])
        #expect(concatenate([a, a], axis: 0).scalars == a.scalars + a.scalars)
    }

    @Test func maxPoolPropagatesNaNAndIgnoresPadding() {
        var x = Tensor(repeating: -5, shape: [1, 1, 4, 4])
        x[0, 0, 3, 3] = .nan
        let y = maxPool2d(x, kernel: 3, stride: 2, padding: 1)
        #expect(y.shape == [1, 1, 2, 2])
        #expect(y[0, 0, 0, 0] == -5)         // padding never wins over a negative value
        #expect(y[0, 0, 1, 1].isNaN)          // as torch: NaN in the window gives NaN
    }

    @Test func parallelChunksCoverEveryIndexOnce() {
        for count in [1, 2, 3, 17, 1000] {
            let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
            hits.initialize(repeating: 0)
            defer { hits.deallocate() }
            Parallel.chunks(count: count) { r in for i in r { hits[i] += 1 } }
            #expect(hits.allSatisfy { $0 == 1 }, "count \(count)")
        }
    }
}

@Test(arguments: [1, 2, 3])
func copyStridedGathersEveryStrideElement(stride: Int) {
    let src = (0..<200).map(Float.init)
    for count in [0, 1, 7, 8, 9, 16, 17, 33, 60] {
        var dst = [Float](repeating: -1, count: count)
        src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                if count > 0 { copyStrided(d.baseAddress!, s.baseAddress!, count: count, stride: stride) }
            }
        }
        #expect(dst == (0..<count).map { Float($0 * stride) }, "count \(count) stride \(stride)")
    }
}
