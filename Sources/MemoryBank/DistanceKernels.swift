// Small vector kernels shared by the k-NN search and the coreset sampler.
//
// Both greedy coreset variants (plain and accelerated) must compute bit-identical distances so that they
// pick identical points; they therefore call the one `squaredDistance` below, whose operation order is fixed
// (16 running lanes, then a fixed lane reduction, then the scalar tail). Swift does not contract or reorder
// floating-point operations, so every call site rounds the same way.

/// sum_i (a_i - b_i)^2 over `d` floats, computed by direct differences (no cancellation).
@inline(__always)
func squaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ d: Int) -> Float {
    var acc = SIMD16<Float>(repeating: 0)
    var i = 0
    let rawA = UnsafeRawPointer(a), rawB = UnsafeRawPointer(b)
    while i + 16 <= d {
        let va = rawA.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        let vb = rawB.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        let diff = va - vb
        acc = acc + diff * diff
        i += 16
    }
    var s = laneSum(acc)
    while i < d {
        let diff = a[i] - b[i]
        s = s + diff * diff
        i += 1
    }
    return s
}

/// sum_i a_i^2 over `d` floats.
@inline(__always)
func squaredNorm(_ a: UnsafePointer<Float>, _ d: Int) -> Float {
    var acc = SIMD16<Float>(repeating: 0)
    var i = 0
    let rawA = UnsafeRawPointer(a)
    while i + 16 <= d {
        let va = rawA.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        acc = acc + va * va
        i += 16
    }
    var s = laneSum(acc)
    while i < d {
        s = s + a[i] * a[i]
        i += 1
    }
    return s
}

/// Pairwise tree reduction of 16 lanes in a fixed order.
@inline(__always)
func laneSum(_ v: SIMD16<Float>) -> Float {
    let h8 = v.lowHalf + v.highHalf
    let h4 = h8.lowHalf + h8.highHalf
    let h2 = h4.lowHalf + h4.highHalf
    return h2.x + h2.y
}
