import CVectorMath

/// int8 codes of up to 32 rotated coordinates per point, for certified lower bounds on squared distances read at
/// 32 bytes a point (`pc_int8_bound_survivors` in CVectorMath: AVX-512 VNNI where the CPU has it). Used by the
/// coreset's dense pass (`RotatedLowerBounds`) and the bank's quantized exact search (`QuantizedBankIndex`).
///
/// Coordinates come in groups of 4 with one grid step per group, s_g = max |y| / 127 over the group's
/// coordinates and points; q = round(y / s_g). Every point's code is within s_g / 2 of its value (measured when
/// the codes are made, allowing 3e-5 s_g of rounding; a group that fails the check gets weight 0 and bounds
/// nothing). For two coded values, e = max(0, |q_a - q_b| - 1) (the byte difference saturated, which only
/// lowers it) gives
///     (s_g (1 - 2e-4))^2 e^2 <= (y_a - y_b)^2,
/// so sum_g weight_g sum_j e_j^2 is a lower bound on the squared distance over the coded coordinates; its float
/// rounding (relative, a few u) is left to the callers' thresholds. A query coded by `quantize` may lie outside
/// the grid: its clamped code then errs towards the bank points (|y_q| >= 127 s_g >= |y_b| on the same side),
/// and the same bound holds.
///
/// Layout: codes[((i / 16) * groups + g) * 64 + (i % 16) * 4 + j] is coordinate 4 g + j of point i; points are
/// padded to whole blocks of 16 with zero codes (callers give the padding a threshold below 0).
final class Int8BoundCodes: @unchecked Sendable {
    let count: Int
    let paddedCount: Int
    /// Groups of 4 coded coordinates (1...8).
    let groups: Int
    let codes: UnsafeMutablePointer<Int8>
    let scale: [Float]                          // (groups) s_g
    let weight: [Float]                         // (groups) (s_g (1 - 2e-4))^2, or 0

    /// Codes for `count` points of `width` coordinates (the first min(width, 32) are coded, width a multiple of 4);
    /// `value(i, l)` is coordinate l of point i.
    init(count: Int, width: Int, value: (Int, Int) -> Float) {
        precondition(width >= 4 && width % 4 == 0)
        self.count = count
        paddedCount = (count + 15) / 16 * 16
        groups = min(width, 32) / 4
        codes = .allocate(capacity: paddedCount * groups * 4)
        codes.initialize(repeating: 0, count: paddedCount * groups * 4)
        var scale = [Float](repeating: 1, count: groups), weight = [Float](repeating: 0, count: groups)
        for g in 0..<groups {
            var maxAbs: Float = 0
            for l in (4 * g)..<(4 * g + 4) { for i in 0..<count { maxAbs = max(maxAbs, abs(value(i, l))) } }
            let s: Float = maxAbs > 0 ? maxAbs / 127 : 1
            var worst: Float = 0
            for l in (4 * g)..<(4 * g + 4) {
                for i in 0..<count {
                    let v = value(i, l)
                    let q = max(-127, min(127, (v / s).rounded()))
                    codes[((i / 16) * groups + g) * 64 + (i % 16) * 4 + l % 4] = Int8(q)
                    worst = max(worst, abs(v - q * s))
                }
            }
            let lowered = s * (1 - 2e-4)
            scale[g] = s
            weight[g] = worst <= s / 2 * (1 + 4e-5) ? lowered * lowered : 0
        }
        self.scale = scale; self.weight = weight
    }

    deinit { codes.deallocate() }

    /// Copies point p's codes (groups * 4 bytes) to `out`.
    func code(of p: Int, into out: UnsafeMutablePointer<Int8>) {
        for g in 0..<groups { (out + g * 4).update(from: codes + ((p / 16) * groups + g) * 64 + (p % 16) * 4, count: 4) }
    }

    /// Codes of a point that is not in the set (its coordinates y, at least groups * 4 of them), clamped to the grid.
    func quantize(_ y: UnsafePointer<Float>, into out: UnsafeMutablePointer<Int8>) {
        for g in 0..<groups {
            for j in 0..<4 { out[g * 4 + j] = Int8(max(-127, min(127, (y[g * 4 + j] / scale[g]).rounded()))) }
        }
    }

    /// The points of blocks [firstBlock, endBlock) whose bound to `centre` (codes) is at most their threshold,
    /// in index order, into `out`; returns how many. `threshold` holds one value per point (`perPoint`, padded
    /// like the codes) or one for all.
    func survivors(centre: UnsafePointer<Int8>, threshold: UnsafePointer<Float>, perPoint: Bool,
                   blocks firstBlock: Int, _ endBlock: Int, into out: UnsafeMutablePointer<Int32>) -> Int {
        weight.withUnsafeBufferPointer { w in
            pc_int8_bound_survivors(codes, groups, centre, w.baseAddress!, threshold, perPoint ? 1 : 0,
                                    firstBlock, endBlock, out)
        }
    }

    /// The bound to `centre` (codes) of every point of blocks [firstBlock, endBlock) into `out` (from its start,
    /// padding included); returns the point below `count` with the smallest bound among them (smallest index on
    /// ties), or -1 when there is none.
    func boundValues(centre: UnsafePointer<Int8>, blocks firstBlock: Int, _ endBlock: Int, count: Int,
                     into out: UnsafeMutablePointer<Float>) -> Int {
        weight.withUnsafeBufferPointer { w in
            pc_int8_bound_values(codes, groups, centre, w.baseAddress!, firstBlock, endBlock, count, out)
        }
    }
}
