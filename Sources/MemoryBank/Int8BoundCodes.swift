import CVectorMath
import Foundation

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
///
/// With `scaleClasses` (the 1-NN search), each step is rounded up to the largest one over a power of 2, s_g = S / 2^k_g
/// (k_g <= 3, never falling again along the groups), so the squared distance between two coded points is one integer
/// sum, unit^2 sum_g 4^(K - k_g) sum_j (q_a - q_b)^2 with unit = S / 2^K: `pc_int8_dot_table` computes it as a dot
/// product with VPDPBUSD, 1 instruction per group where the bound above takes 7, and `QuantizedBankIndex` turns it into
/// a lower bound through each point's own rounding residual (measured on Magnetic Tile: bench/RESULTS.md). With codes
/// in [-127, 127], query bytes in [1, 255] and weights at most 64, every integer involved stays below 2^28 in size.
final class Int8BoundCodes: @unchecked Sendable {
    let count: Int
    let paddedCount: Int
    /// Groups of 4 coded coordinates (1...8).
    let groups: Int
    let codes: UnsafeMutablePointer<Int8>
    let scale: [Float]                          // (groups) s_g
    let weight: [Float]                         // (groups) (s_g (1 - 2e-4))^2, or 0
    /// With scale classes: the dot form's data (nil otherwise).
    let dot: DotForm?

    /// The scale classes' integer form of the squared distance between coded points (see `pc_int8_dot_table`).
    struct DotForm {
        /// Left shift of the running sum before group g: 2 (k_g - k_(g-1)).
        let shift: [Int8]
        /// 4^(K - k_g): the group's integer weight.
        let groupWeight: [Int32]
        /// unit^2, unit = S / 2^K.
        let unit2: Float
        /// (paddedCount) sum_g w_g sum_j (b^2 + 256 b) of each point (0 for padding).
        let rowTerm: [Int32]
        /// (paddedCount) each point's rounding residual ||y - s q|| over the coded coordinates, rounded up and
        /// widened by 1e-5 (0 for padding).
        let residual: [Float]
    }

    /// Codes for `count` points of `width` coordinates (the first min(width, 32) are coded, width a multiple of 4);
    /// `value(i, l)` is coordinate l of point i.
    init(count: Int, width: Int, scaleClasses: Bool = false, value: (Int, Int) -> Float) {
        precondition(width >= 4 && width % 4 == 0)
        self.count = count
        paddedCount = (count + 15) / 16 * 16
        groups = min(width, 32) / 4
        codes = .allocate(capacity: paddedCount * groups * 4)
        codes.initialize(repeating: 0, count: paddedCount * groups * 4)
        var scale = [Float](repeating: 1, count: groups), weight = [Float](repeating: 0, count: groups)
        var natural = [Float](repeating: 1, count: groups), maxAbs = [Float](repeating: 0, count: groups)
        for g in 0..<groups {
            for l in (4 * g)..<(4 * g + 4) { for i in 0..<count { maxAbs[g] = max(maxAbs[g], abs(value(i, l))) } }
            natural[g] = maxAbs[g] > 0 ? maxAbs[g] / 127 : 1
        }
        var classOf = [Int](repeating: 3, count: groups)
        if scaleClasses, let top = maxAbs.max(), top > 0 {
            // s_g = S / 2^k with k the largest (at most 3) that keeps s_g >= the group's own step (a group of zeros:
            // 3), then the minimum over the groups that follow, so that k never falls along the groups (one shift
            // per class change). A step that comes out slightly too fine only clamps a code: the residual below is
            // measured, not assumed.
            for g in 0..<groups where maxAbs[g] > 0 {
                classOf[g] = max(0, min(3, Int(Foundation.log2(Double(top / maxAbs[g])).rounded(.down))))
            }
            for g in stride(from: groups - 2, through: 0, by: -1) { classOf[g] = min(classOf[g], classOf[g + 1]) }
            for g in 0..<groups { natural[g] = top / 127 / Float(1 << classOf[g]) }
        }
        for g in 0..<groups {
            let s = natural[g]
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
        dot = scaleClasses ? Int8BoundCodes.dotForm(codes: codes, count: count, paddedCount: paddedCount,
                                                    groups: groups, classOf: classOf, scale: scale, value: value) : nil
    }

    /// Codes of `count` other points on the grid of `grid` (its steps and scale classes, which need
    /// `scaleClasses`): each coordinate coded as `dotQuery` codes it (clamped to the grid), so that the dot form's
    /// squared distances between these points and any query are those of points of `grid`. `QuantizedBankIndex`
    /// codes its groups' centres this way.
    init(count: Int, onGridOf grid: Int8BoundCodes, value: (Int, Int) -> Float) {
        let form = grid.dot!
        self.count = count
        paddedCount = (count + 15) / 16 * 16
        groups = grid.groups
        codes = .allocate(capacity: paddedCount * groups * 4)
        codes.initialize(repeating: 0, count: paddedCount * groups * 4)
        for i in 0..<count {
            for g in 0..<groups {
                for j in 0..<4 {
                    codes[((i / 16) * groups + g) * 64 + (i % 16) * 4 + j] =
                        Int8(max(-127, min(127, (value(i, 4 * g + j) / grid.scale[g]).rounded())))
                }
            }
        }
        scale = grid.scale; weight = grid.weight
        let (rowTerm, residual) = Self.rowTerms(codes: codes, count: count, paddedCount: paddedCount, groups: groups,
                                                groupWeight: form.groupWeight, scale: scale, value: value)
        dot = DotForm(shift: form.shift, groupWeight: form.groupWeight, unit2: form.unit2, rowTerm: rowTerm,
                      residual: residual)
    }

    private static func dotForm(codes: UnsafeMutablePointer<Int8>, count: Int, paddedCount: Int, groups: Int,
                                classOf: [Int], scale: [Float], value: (Int, Int) -> Float) -> DotForm {
        let top = classOf.max() ?? 0
        var shift = [Int8](repeating: 0, count: groups), groupWeight = [Int32](repeating: 1, count: groups)
        for g in 0..<groups {
            shift[g] = g == 0 ? 0 : Int8(2 * (classOf[g] - classOf[g - 1]))
            groupWeight[g] = Int32(1 << (2 * (top - classOf[g])))
        }
        let unit = Double(scale[0]) / Double(1 << (top - classOf[0]))
        let (rowTerm, residual) = rowTerms(codes: codes, count: count, paddedCount: paddedCount, groups: groups,
                                           groupWeight: groupWeight, scale: scale, value: value)
        return DotForm(shift: shift, groupWeight: groupWeight, unit2: Float(unit * unit), rowTerm: rowTerm,
                       residual: residual)
    }

    /// Each point's row term sum_g w_g sum_j (b^2 + 256 b) and rounding residual (`DotForm`).
    private static func rowTerms(codes: UnsafeMutablePointer<Int8>, count: Int, paddedCount: Int, groups: Int,
                                 groupWeight: [Int32], scale: [Float], value: (Int, Int) -> Float)
        -> (rowTerm: [Int32], residual: [Float]) {
        var rowTerm = [Int32](repeating: 0, count: paddedCount), residual = [Float](repeating: 0, count: paddedCount)
        for i in 0..<count {
            var term: Int32 = 0
            var r2: Double = 0
            for g in 0..<groups {
                for j in 0..<4 {
                    let b = Int32(codes[((i / 16) * groups + g) * 64 + (i % 16) * 4 + j])
                    term += groupWeight[g] * (b * b + 256 * b)
                    // s q is exact in Double (a float times a byte), so is each difference to the float value.
                    let e = Double(value(i, 4 * g + j)) - Double(scale[g]) * Double(b)
                    r2 += e * e
                }
            }
            rowTerm[i] = term
            residual[i] = Float(r2.squareRoot() * (1 + 1e-5)).nextUp
        }
        return (rowTerm, residual)
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

    /// The dot form's codes of a point that is not in the set (its coordinates y, at least groups * 4 of them):
    /// q + 128 as unsigned bytes (q clamped to the grid) into `out`, with sum_g w_g sum_j q^2 and the residual
    /// ||y - s q|| (rounded up and widened by 1e-5, as the rows'). Requires `scaleClasses`.
    func dotQuery(_ y: UnsafePointer<Float>, into out: UnsafeMutablePointer<UInt8>) -> (term: Int32, residual: Float) {
        let weights = dot!.groupWeight
        var term: Int32 = 0
        var r2: Double = 0
        for g in 0..<groups {
            for j in 0..<4 {
                let q = Int32(max(-127, min(127, (y[g * 4 + j] / scale[g]).rounded())))
                out[g * 4 + j] = UInt8(q + 128)
                term += weights[g] * q * q
                let e = Double(y[g * 4 + j]) - Double(scale[g]) * Double(q)
                r2 += e * e
            }
        }
        return (term, Float(r2.squareRoot() * (1 + 1e-5)).nextUp)
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
