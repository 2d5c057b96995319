import Foundation

/// The 1-D kernel of `scipy.ndimage.gaussian_filter`: radius r = Int(truncate * sigma + 0.5),
/// weights exp(-x^2 / (2 sigma^2)) for x in -r...r, normalised to sum 1. Returned as the r + 1
/// weights w[0...r] (the kernel is symmetric).
public func gaussianKernel1d(sigma: Double, truncate: Double = 4.0) -> [Float] {
    precondition(sigma > 0 && truncate > 0, "gaussianKernel1d sigma \(sigma) and truncate \(truncate) must be positive")
    let radius = Int(truncate * sigma + 0.5)
    let raw = (0...radius).map { exp(-0.5 * Double($0 * $0) / (sigma * sigma)) }
    let total = raw[0] + 2 * raw.dropFirst().reduce(0, +)
    return raw.map { Float($0 / total) }
}

/// Index of the sample that scipy's `mode='reflect'` (half-sample symmetric, `d c b a | a b c d | d c b a`)
/// reads for position `i` of an axis of length `n`, for any `i`, including reflections of reflections.
@inline(__always)
func reflectIndex(_ i: Int, _ n: Int) -> Int {
    if n == 1 { return 0 }
    let period = 2 * n
    var m = i % period
    if m < 0 { m += period }
    return m < n ? m : period - 1 - m
}

/// Gaussian blur of the last two axes with the semantics of `scipy.ndimage.gaussian_filter(x, sigma,
/// truncate=4.0, mode='reflect')` applied to each (H,W) plane: a 1-D correlation along H, then along W.
///
/// x (..., H, W) -> same shape. PatchCore smooths its upsampled anomaly map with sigma = 4
/// (kernel radius 16, 33 taps).
///
/// ```swift
/// let smooth = gaussianBlur(map /*(1,224,224)*/, sigma: 4)
/// ```
///
/// Fast path: both passes are written as row-wise axpy's over contiguous memory using the kernel's
/// symmetry; `gaussianBlurNaive` evaluates the 2-D sum per pixel and is kept for tests.
public func gaussianBlur(_ x: Tensor, sigma: Double, truncate: Double = 4.0) -> Tensor {
    let (planes, h, w) = checkBlur(x)
    let kernel = gaussianKernel1d(sigma: sigma, truncate: truncate)
    let r = kernel.count - 1
    var out = Tensor(zeros: x.shape)
    // tmp: result of the vertical pass for one plane (H, W); padded: one row with r reflected samples per side.
    var tmp = [Float](repeating: 0, count: h * w)
    var padded = [Float](repeating: 0, count: w + 2 * r)
    let rowIndex = (0..<(h + 2 * r)).map { reflectIndex($0 - r, h) }
    let colIndex = (0..<(w + 2 * r)).map { reflectIndex($0 - r, w) }
    x.withUnsafeBufferPointer { px in
        out.withUnsafeMutableBufferPointer { po in
            tmp.withUnsafeMutableBufferPointer { pt in
                padded.withUnsafeMutableBufferPointer { pp in
                    kernel.withUnsafeBufferPointer { pk in
                        let t = pt.baseAddress!, pad = pp.baseAddress!
                        for plane in 0..<planes {
                            let src = px.baseAddress! + plane * h * w
                            let dst = po.baseAddress! + plane * h * w
                            // 1. Along H: tmp[y, :] = sum_j k[j] * src[reflect(y + j), :], j in -r...r.
                            for y in 0..<h {
                                let o = t + y * w
                                let centre = src + rowIndex[y + r] * w
                                let k0 = pk[0]
                                for xx in 0..<w { o[xx] = k0 * centre[xx] }
                                for j in stride(from: 1, through: r, by: 1) {
                                    let above = src + rowIndex[y + r - j] * w
                                    let below = src + rowIndex[y + r + j] * w
                                    let kj = pk[j]
                                    for xx in 0..<w { o[xx] += kj * (above[xx] + below[xx]) }
                                }
                            }
                            // 2. Along W, one reflected-padded row at a time.
                            for y in 0..<h {
                                let row = t + y * w
                                for i in 0..<(w + 2 * r) { pad[i] = row[colIndex[i]] }
                                let o = dst + y * w
                                let c = pad + r
                                let k0 = pk[0]
                                for xx in 0..<w { o[xx] = k0 * c[xx] }
                                for j in stride(from: 1, through: r, by: 1) {
                                    let kj = pk[j]
                                    let left = c - j, right = c + j
                                    for xx in 0..<w { o[xx] += kj * (left[xx] + right[xx]) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return out
}

/// Direct 2-D sum `out[y,x] = sum_{i,j} k[i] k[j] x[reflect(y+i), reflect(x+j)]` in Double; reference for tests.
public func gaussianBlurNaive(_ x: Tensor, sigma: Double, truncate: Double = 4.0) -> Tensor {
    let (planes, h, w) = checkBlur(x)
    let half = gaussianKernel1d(sigma: sigma, truncate: truncate)
    let r = half.count - 1
    var out = Tensor(zeros: x.shape)
    for plane in 0..<planes {
        let base = plane * h * w
        for y in 0..<h { for xx in 0..<w {
            var acc = 0.0
            for i in -r...r { for j in -r...r {
                let v = x.scalars[base + reflectIndex(y + i, h) * w + reflectIndex(xx + j, w)]
                acc += Double(half[abs(i)]) * Double(half[abs(j)]) * Double(v)
            } }
            out.scalars[base + y * w + xx] = Float(acc)
        } }
    }
    return out
}

private func checkBlur(_ x: Tensor) -> (planes: Int, h: Int, w: Int) {
    precondition(x.rank >= 2, "gaussianBlur expects x (..., H, W), got \(x.shape)")
    let h = x.shape[x.rank - 2], w = x.shape[x.rank - 1]
    precondition(h > 0 && w > 0, "gaussianBlur input \(x.shape) has an empty plane")
    return (x.count / (h * w), h, w)
}
