import Foundation
import Testing
import PatchFeatures
import TensorCore

@Suite struct PatchFeaturesTests {
    @Test func matchesAnomalibEmbeddingAndInspectionReduction() throws {
        let fixture = try ScoringFixture.load()
        let cases = try #require(fixture.cases["aggregate"])
        #expect(cases.count == 4)
        for c in cases {
            let name = c["name"] as! String
            let taps = try (0..<(c["taps"] as! Int)).map { try fixture.tensor("\(name)_tap\($0)") }
            let expected = try fixture.tensor(name + "_out")
            let reduction = (c["reduction"] as? [Int]).map { ChannelReduction(pretrainDimension: $0[0], targetDimension: $0[1]) }
            let aggregator = PatchFeatureAggregator(reduction: reduction)
            let set = try aggregator.aggregate(taps, inputHeight: 8 * taps[0].shape[2], inputWidth: 8 * taps[0].shape[3])
            #expect(set.features.shape == expected.shape)
            #expect(set.grid == PatchGrid(batch: taps[0].shape[0], height: taps[0].shape[2], width: taps[0].shape[3],
                                          inputHeight: 8 * taps[0].shape[2], inputWidth: 8 * taps[0].shape[3]))
            #expect(set.grid.strideY == 8 && set.grid.strideX == 8)
            #expect(aggregator.outputDimension(channels: taps.map { $0.shape[1] }) == expected.shape[1])
            let (a, r) = scoringMaxDifferences(set.features.scalars, expected.scalars)
            print("PatchFeatureAggregator \(name) reduction \(String(describing: c["reduction"] ?? "none")): max abs \(a), max rel \(r)")
            #expect(r < 1e-4)
            let naive = try aggregator.aggregateNaive(taps, inputHeight: 64, inputWidth: 64)
            #expect(scoringMaxDifferences(naive.features.scalars, expected.scalars).rel < 1e-4)
        }
    }

    @Test func fastMatchesNaiveOnRandomTaps() throws {
        var rng = ScoringRNG(seed: 21)
        for trial in 0..<10 {
            let n = Int.random(in: 1...2, using: &rng)
            let h = Int.random(in: 2...9, using: &rng), w = Int.random(in: 2...9, using: &rng)
            let shapes = [[n, Int.random(in: 1...6, using: &rng), h, w],
                          [n, Int.random(in: 1...6, using: &rng), max(1, h / 2), max(1, w / 2)],
                          [n, Int.random(in: 1...6, using: &rng), max(1, h / 3), max(1, w / 3)]]
            let taps = shapes.prefix(Int.random(in: 1...3, using: &rng)).map { rng.tensor($0) }
            let reduction: ChannelReduction? = trial % 2 == 0 ? nil
                : ChannelReduction(pretrainDimension: Int.random(in: 1...8, using: &rng), targetDimension: Int.random(in: 1...10, using: &rng))
            let aggregator = PatchFeatureAggregator(reduction: reduction)
            let fast = try aggregator.aggregate(taps, inputHeight: 32, inputWidth: 32)
            let naive = try aggregator.aggregateNaive(taps, inputHeight: 32, inputWidth: 32)
            #expect(fast.features.shape == naive.features.shape)
            #expect(scoringMaxDifferences(fast.features.scalars, naive.features.scalars).abs < 1e-5, "taps \(taps.map(\.shape)) \(String(describing: reduction))")
        }
    }

    @Test func channelBlocksAndBatchesMatchNaive() throws {
        // More channels than one block of the fused path (32), two images, odd grid sizes.
        var rng = ScoringRNG(seed: 8)
        let taps = [rng.tensor([2, 70, 5, 6]), rng.tensor([2, 33, 3, 4])]
        let aggregator = PatchFeatureAggregator()
        let fast = try aggregator.aggregate(taps, inputHeight: 40, inputWidth: 48)
        let naive = try aggregator.aggregateNaive(taps, inputHeight: 40, inputWidth: 48)
        #expect(fast.features.shape == [60, 103])
        let d = scoringMaxDifferences(fast.features.scalars, naive.features.scalars)
        print("PatchFeatureAggregator fused vs naive, 70+33 channels, batch 2: max abs \(d.abs)")
        #expect(d.abs < 1e-5)
    }

    /// Wider neighbourhoods (PatchCore's `patchsize` 5, 7): the fused path equals the naive one, and the pooling is
    /// torch's AvgPool2d(k, 1, k / 2) with count_include_pad: on a plane of ones a cell r cells from two borders
    /// averages (min(r, k/2) + 1 + k/2)^2 / k^2.
    @Test func widerNeighbourhoodsPoolLikeTorch() throws {
        var rng = ScoringRNG(seed: 5)
        for k in [5, 7] {
            let taps = [rng.tensor([2, 40, 9, 11]), rng.tensor([2, 6, 5, 6])]
            let aggregator = PatchFeatureAggregator(patchSize: k)
            let fast = try aggregator.aggregate(taps, inputHeight: 72, inputWidth: 88)
            let naive = try aggregator.aggregateNaive(taps, inputHeight: 72, inputWidth: 88)
            #expect(scoringMaxDifferences(fast.features.scalars, naive.features.scalars).abs < 1e-5, "k \(k)")
            let three = try PatchFeatureAggregator().aggregate(taps, inputHeight: 72, inputWidth: 88)
            #expect(scoringMaxDifferences(fast.features.scalars, three.features.scalars).abs > 1e-2, "k \(k) pools like k 3")

            let ones = Tensor(shape: [1, 1, 9, 9], scalars: [Float](repeating: 1, count: 81))
            let pooled = try PatchFeatureAggregator(patchSize: k).aggregate([ones], inputHeight: 72, inputWidth: 72)
            let half = k / 2
            for (y, x) in [(0, 0), (0, 4), (1, 1), (4, 4), (8, 7)] {
                let seen = { (i: Int) in Float(min(i, half) + 1 + min(8 - i, half)) }
                let expected = seen(y) * seen(x) / Float(k * k)
                #expect(abs(pooled.features[y * 9 + x, 0] - expected) < 1e-6, "k \(k) cell (\(y), \(x))")
            }
        }
    }

    @Test func rowsAreOrderedImageRowColumn() throws {
        // One tap, no pooling: row (n*H + y)*W + x holds channel values x[n, :, y, x].
        var rng = ScoringRNG(seed: 2)
        let tap = rng.tensor([2, 3, 4, 5])
        let set = try PatchFeatureAggregator(patchSize: 1).aggregate([tap], inputHeight: 16, inputWidth: 20)
        #expect(set.features.shape == [40, 3])
        #expect(set.grid.strideY == 4 && set.grid.strideX == 4)
        for n in 0..<2 { for y in 0..<4 { for x in 0..<5 { for c in 0..<3 {
            #expect(set.features[(n * 4 + y) * 5 + x, c] == tap[n, c, y, x])
        } } } }
    }

    @Test func adaptivePoolingBinsFollowTorch() {
        #expect(adaptiveAveragePoolingBins(length: 5, outputSize: 2) == [0..<3, 2..<5])
        #expect(adaptiveAveragePoolingBins(length: 2, outputSize: 4) == [0..<1, 0..<1, 1..<2, 1..<2])
        #expect(adaptiveAveragePool1d([1, 2, 3, 4], outputSize: 2) == [1.5, 3.5])
    }

    @Test func rejectsBadTaps() {
        let aggregator = PatchFeatureAggregator()
        #expect(throws: PatchFeatureError.noTaps) { try aggregator.aggregate([], inputHeight: 8, inputWidth: 8) }
        #expect(throws: PatchFeatureError.badTapShape(tap: 0, shape: [3, 4])) {
            try aggregator.aggregate([Tensor(zeros: [3, 4])], inputHeight: 8, inputWidth: 8)
        }
        #expect(throws: PatchFeatureError.batchMismatch(tap: 1, expected: 1, actual: 2)) {
            try aggregator.aggregate([Tensor(zeros: [1, 2, 4, 4]), Tensor(zeros: [2, 2, 2, 2])], inputHeight: 8, inputWidth: 8)
        }
        #expect(throws: PatchFeatureError.badPatchSize(2)) {
            try PatchFeatureAggregator(patchSize: 2).aggregate([Tensor(zeros: [1, 2, 4, 4])], inputHeight: 8, inputWidth: 8)
        }
    }

    @Test func configurationRoundTripsThroughJSON() throws {
        let aggregator = PatchFeatureAggregator(reduction: ChannelReduction(pretrainDimension: 1024, targetDimension: 512))
        let data = try JSONEncoder().encode(aggregator)
        #expect(String(decoding: data, as: UTF8.self).contains("pretrain_dimension"))
        #expect(try JSONDecoder().decode(PatchFeatureAggregator.self, from: data) == aggregator)
    }
}
