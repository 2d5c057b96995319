/// Bins of `torch.nn.functional.adaptive_avg_pool1d(length -> outputSize)`: bin i averages input
/// indices floor(i * L / O) ..< ceil((i + 1) * L / O). Bins overlap when O does not divide L and
/// repeat inputs when O > L.
///
/// ```swift
/// adaptiveAveragePoolingBins(length: 5, outputSize: 2)   // [0..<3, 2..<5]
/// ```
public func adaptiveAveragePoolingBins(length: Int, outputSize: Int) -> [Range<Int>] {
    (0..<outputSize).map { i in
        let start = (i * length) / outputSize
        let end = ((i + 1) * length + outputSize - 1) / outputSize
        return start..<end
    }
}

/// `adaptive_avg_pool1d` of one vector (naive reference, used in tests and small code).
public func adaptiveAveragePool1d(_ v: [Float], outputSize: Int) -> [Float] {
    adaptiveAveragePoolingBins(length: v.count, outputSize: outputSize).map { bin in
        var acc: Float = 0
        for i in bin { acc += v[i] }
        return acc / Float(bin.count)
    }
}
