/// IEEE binary16 and bfloat16 bit patterns -> Float, written out so loops over them vectorise: `Float(Float16)`
/// compiles to a libgcc call per value on x86-64 (`__extendhfsf2`); see bench/DESIGN_NOTES.md#half-precision-widening.

/// IEEE binary16 bits -> Float, branch-free: the exponent/mantissa field shifted into place and scaled by 2^112
/// gives normals and subnormals exactly; all-ones exponents become inf / NaN.
///
/// ```swift
/// halfToFloat(0x3C00)   // 1.0
/// ```
@inline(__always)
public func halfToFloat(_ h: UInt16) -> Float {
    let x = UInt32(h)
    let magnitude = x & 0x7FFF
    let sign = (x & 0x8000) << 16
    let scaled = Float(bitPattern: magnitude << 13) * 0x1p112
    let special = Float(bitPattern: (magnitude << 13) | 0x7F80_0000)
    let value = magnitude >= 0x7C00 ? special : scaled
    return Float(bitPattern: value.bitPattern | sign)
}

/// bfloat16 bits -> Float (the upper half of the fp32 pattern).
@inline(__always)
public func bfloat16ToFloat(_ h: UInt16) -> Float {
    Float(bitPattern: UInt32(h) << 16)
}
