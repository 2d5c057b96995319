/// dst[j] = src[j * stride] for j in 0..<count: the gather behind strided im2col rows and stride-phase splits.
/// Stride 2 (the common case) de-interleaves 16 floats at a time with SIMD `evenHalf`; reads stay within
/// src[0 ... (count - 1) * stride].
@inline(__always)
func copyStrided(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int, stride: Int) {
    if stride == 1 {
        dst.update(from: src, count: count)
        return
    }
    var j = 0
    if stride == 2 {
        // The SIMD16 load at 2j touches src[2j ... 2j+15]; the last needed element is src[2*(count-1)].
        while j + 8 < count {
            let v = UnsafeRawPointer(src + 2 &* j).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(dst + j).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
            j &+= 8
        }
    }
    var s = src + j &* stride
    while j < count {
        dst[j] = s.pointee
        s += stride
        j &+= 1
    }
}

/// One zero-padded row: d[j] = row[j * stride] for j in `valid`, 0 for the rest of 0..<count; all zeros when `row`
/// is nil (a padding row). The row fill of im2col and of the stride-phase split.
@inline(__always)
func copyPaddedRow(into d: UnsafeMutablePointer<Float>, count: Int, valid: Range<Int>, from row: UnsafePointer<Float>?,
                   stride: Int) {
    guard let row, !valid.isEmpty else {
        d.update(repeating: 0, count: count)
        return
    }
    if valid.lowerBound > 0 { d.update(repeating: 0, count: valid.lowerBound) }
    if valid.upperBound < count { (d + valid.upperBound).update(repeating: 0, count: count - valid.upperBound) }
    copyStrided(d + valid.lowerBound, row + valid.lowerBound * stride, count: valid.count, stride: stride)
}
