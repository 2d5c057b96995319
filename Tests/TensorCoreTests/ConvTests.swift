import Testing
@testable import TensorCore

@Test func conv2dMatchesDirectSum() {
    // x (1,2,5,5), w (4,1,3,3) groups 2, stride 2, padding 1: compare with the definition.
    var rng = SystemRandomNumberGenerator()
    let x = Tensor(shape: [1, 2, 5, 5], scalars: (0..<50).map { _ in Float.random(in: -1...1, using: &rng) })
    let w = Tensor(shape: [4, 1, 3, 3], scalars: (0..<36).map { _ in Float.random(in: -1...1, using: &rng) })
    let b = Tensor(shape: [4], scalars: [0.1, -0.2, 0.3, 0])
    let p = Conv2dParameters(stride: 2, padding: 1, groups: 2)
    let y = conv2d(x, weight: w, bias: b, p)
    #expect(y.shape == [1, 4, 3, 3])
    for o in 0..<4 {
        let ci = o / 2
        for oy in 0..<3 { for ox in 0..<3 {
            var s = b[o]
            for ki in 0..<3 { for kj in 0..<3 {
                let iy = oy * 2 - 1 + ki, ix = ox * 2 - 1 + kj
                if iy >= 0 && iy < 5 && ix >= 0 && ix < 5 { s += x[0, ci, iy, ix] * w[o, 0, ki, kj] }
            } }
            #expect(abs(y[0, o, oy, ox] - s) < 1e-5)
        } }
    }
}
