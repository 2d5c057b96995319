import Foundation

// Exact ordering of Float scores through integer keys.
//
// Notation: key(s) is a UInt32 whose unsigned order equals the numeric order of s
// (-inf < ... < -0 == +0 < ... < +inf). NaN is rejected before keys are made.

/// Order-preserving map Float -> UInt32 (IEEE-754 sign flip). -0 is folded onto +0 so ties stay ties.
@inline(__always)
func sortableKey(_ s: Float) -> UInt32 {
    let bits = (s == 0 ? Float(0) : s).bitPattern
    return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
}

/// Inverse of `sortableKey`.
@inline(__always)
func scoreFromKey(_ k: UInt32) -> Float {
    let bits = k & 0x8000_0000 != 0 ? k & 0x7FFF_FFFF : ~k
    return Float(bitPattern: bits)
}

/// LSD radix sort (4 passes of 8 bits) of `a` ascending by the 32-bit field `(x >> shift) & 0xFFFF_FFFF`.
/// Stable, O(n) time, one scratch buffer of n elements. Passes whose byte is constant are skipped.
///
/// ```swift
/// var k: [UInt32] = [3, 1, 2]; radixSort(&k)   // [1, 2, 3]
/// ```
@_specialize(where T == UInt32)
@_specialize(where T == UInt64)
func radixSort<T: FixedWidthInteger & UnsignedInteger>(_ a: inout [T], keyShift shift: Int = 0) {
    let n = a.count
    if n < 2 { return }
    if n < 256 {   // small inputs: a comparison sort is cheaper than 4 histogram passes
        a.sort { UInt32(truncatingIfNeeded: $0 >> shift) < UInt32(truncatingIfNeeded: $1 >> shift) }
        return
    }
    var scratch = [T](repeating: 0, count: n)
    var counts = [Int](repeating: 0, count: 256 * 4)
    a.withUnsafeBufferPointer { src in
        counts.withUnsafeMutableBufferPointer { c in
            for x in src {
                let k = UInt32(truncatingIfNeeded: x >> shift)
                c[Int(k & 0xFF)] += 1
                c[256 + Int((k >> 8) & 0xFF)] += 1
                c[512 + Int((k >> 16) & 0xFF)] += 1
                c[768 + Int(k >> 24)] += 1
            }
        }
    }
    var inA = true   // where the current data lives
    for pass in 0..<4 {
        let base = pass * 256
        if counts[base..<(base + 256)].contains(n) { continue }   // all share this byte
        var offsets = [Int](repeating: 0, count: 256)
        var acc = 0
        for b in 0..<256 { offsets[b] = acc; acc += counts[base + b] }
        let byteShift = UInt32(pass * 8)
        a.withUnsafeMutableBufferPointer { pa in
            scratch.withUnsafeMutableBufferPointer { ps in
                let (src, dst) = inA ? (pa, ps) : (ps, pa)
                offsets.withUnsafeMutableBufferPointer { off in
                    for x in src {
                        let b = Int((UInt32(truncatingIfNeeded: x >> shift) >> byteShift) & 0xFF)
                        dst[off[b]] = x
                        off[b] += 1
                    }
                }
            }
        }
        inA.toggle()
    }
    if !inA { a = scratch }
}
