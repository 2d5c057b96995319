import TensorCore

/// The one relative-error definition the test targets compare against references with.
///
/// `abs` = max_i |a_i - b_i|; `rel` = abs / max_i |b_i|, the error relative to the reference's scale (abs itself
/// when the reference is all zero). Different shapes give infinity and a NaN difference gives NaN, so neither passes
/// a `<= tolerance` check.
///
/// ```swift
/// let (abs, rel) = relativeError(got, reference)
/// #expect(rel <= 1e-4, "max abs diff \(abs), rel \(rel)")
/// ```
public func relativeError(_ a: Tensor, _ b: Tensor) -> (abs: Float, rel: Float) {
    a.shape == b.shape ? relativeError(a.scalars, b.scalars) : (.infinity, .infinity)
}

/// `relativeError` of two flat arrays of equal length (different lengths give infinity).
public func relativeError(_ a: [Float], _ b: [Float]) -> (abs: Float, rel: Float) {
    guard a.count == b.count else { return (.infinity, .infinity) }
    guard let s = differenceScan(a, b) else { return (.nan, .nan) }
    return (s.maxAbs, s.scale > 0 ? s.maxAbs / s.scale : s.maxAbs)
}

/// Element-wise error for references with values near zero: `abs` = max_i |a_i - b_i| and
/// `rel` = max_i |a_i - b_i| / (1 + |b_i|), so `rel <= tol` is `np.allclose(a, b, rtol=tol, atol=tol)` (absolute for
/// small values, relative for large ones). Shapes, infinity and NaN as `relativeError`.
public func pointwiseError(_ a: Tensor, _ b: Tensor) -> (abs: Float, rel: Float) {
    a.shape == b.shape ? pointwiseError(a.scalars, b.scalars) : (.infinity, .infinity)
}

/// `pointwiseError` of two flat arrays of equal length (different lengths give infinity).
public func pointwiseError(_ a: [Float], _ b: [Float]) -> (abs: Float, rel: Float) {
    guard a.count == b.count else { return (.infinity, .infinity) }
    guard let s = differenceScan(a, b) else { return (.nan, .nan) }
    return (s.maxAbs, s.pointwise)
}

/// One pass: max |a_i - b_i|, max |b_i| and max |a_i - b_i| / (1 + |b_i|); nil at the first NaN difference.
private func differenceScan(_ a: [Float], _ b: [Float]) -> (maxAbs: Float, scale: Float, pointwise: Float)? {
    var maxAbs: Float = 0, scale: Float = 0, pointwise: Float = 0
    for (x, y) in zip(a, b) {
        let d = abs(x - y)
        if d.isNaN { return nil }
        maxAbs = max(maxAbs, d)
        scale = max(scale, abs(y))
        pointwise = max(pointwise, d / (1 + abs(y)))
    }
    return (maxAbs, scale, pointwise)
}
