/// Winograd minimal filtering F(2x2, 3x3) for 3x3 stride-1 dilation-1 convolutions with groups 1
/// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
///
/// Notation (the paper's): g is one 3x3 filter, d one 4x4 input tile, Y the 2x2 output tile it yields,
///   Y = A^T [ (G g G^T) ⊙ (B^T d B) ] A
/// with
///   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
///   A^T = [1 1 1 0; 0 1 -1 -1].
/// Tiles step by 2 over the zero-padded input, overlapping by 2; tile t = (image, ty, tx) covers output rows
/// 2ty..2ty+1 and columns 2tx..2tx+1. Summed over input channels c, the elementwise product becomes, for each
/// of the 16 positions ξ of the 4x4 transformed tile, one matrix product
///   M[ξ] (O, T) = U[ξ] (O, C) x V[ξ] (C, T),   U[ξ][o][c] = (G g[o,c] G^T)[ξ],   V[ξ][c][t] = (B^T d[c,t] B)[ξ]
/// so the conv is 16 sgemms with K = C (2.25x fewer multiplies than the 9 taps of the shifted-GEMM path) plus
/// the input and output transforms. U is computed once per layer by `PreparedConv2d`.
///
/// Threads: the transforms split channels over `Parallel.chunks`; the sgemms run one after another, each
/// threaded by OpenBLAS (never nested).
///
/// ```swift
/// // ResNet 3x3 conv, BN folded, 64 -> 64 channels at 56x56
/// let layer = PreparedConv2d(weight: w, bias: b, .init(padding: 1), activation: .relu)  // picks Winograd
/// let y = layer(x)   // x (1,64,56,56) -> (1,64,56,56)
/// ```

/// Number of positions ξ in a transformed 4x4 tile.
let winogradPositions = 16

/// Smallest input and output channel counts that run a 3x3 stride-1 conv through Winograd: below them the
/// 16 sgemms (K = C) are too thin and the transforms dominate; see bench/DESIGN_NOTES.md#winograd-min-channels.
let winogradMinChannels = 32

/// Whether a conv with this weight (O,C/g,kH,kW) and parameters runs through Winograd F(2x2, 3x3).
@inline(__always)
func winogradApplies(o: Int, cg: Int, groups: Int, kh: Int, kw: Int, _ p: Conv2dParameters) -> Bool {
    kh == 3 && kw == 3 && groups == 1 && p.stride == (1, 1) && p.dilation == (1, 1)
        && cg >= winogradMinChannels && o >= winogradMinChannels
}

/// Weight transform, once per layer: weight (O,C,3,3) -> U (16, O, C) with U[ξ][o][c] = (G g[o,c] G^T)[ξ].
func winogradWeightTransform(_ weight: UnsafePointer<Float>, o: Int, c: Int, into u: UnsafeMutablePointer<Float>) {
    let oc = o * c
    Parallel.chunks(count: o, minChunk: 16) { outs in
        for oi in outs {
            for ci in 0..<c {
                let g = weight + (oi * c + ci) * 9
                // Gg (4x3): rows of G applied to g's columns; then each row of Gg times G^T gives a row of U.
                let dst = u + oi * c + ci
                @inline(__always) func row(_ i: Int, _ r0: Float, _ r1: Float, _ r2: Float) {
                    dst[(i * 4 + 0) * oc] = r0
                    dst[(i * 4 + 1) * oc] = 0.5 * (r0 + r1 + r2)
                    dst[(i * 4 + 2) * oc] = 0.5 * (r0 - r1 + r2)
                    dst[(i * 4 + 3) * oc] = r2
                }
                row(0, g[0], g[1], g[2])
                row(1, 0.5 * (g[0] + g[3] + g[6]), 0.5 * (g[1] + g[4] + g[7]), 0.5 * (g[2] + g[5] + g[8]))
                row(2, 0.5 * (g[0] - g[3] + g[6]), 0.5 * (g[1] - g[4] + g[7]), 0.5 * (g[2] - g[5] + g[8]))
                row(3, g[6], g[7], g[8])
            }
        }
    }
}

/// Tile grid of one conv call: tH x tW tiles per image over the (oH, oW) output.
struct WinogradTiles {
    let th, tw: Int
    var perImage: Int { th * tw }
    init(_ s: ConvShape) {
        th = (s.oh + 1) / 2
        tw = (s.ow + 1) / 2
    }
}

/// Input transform of `nb` images: x (nb,C,H,W) -> V (16, C, T) with T = nb * bandRows * tW (row stride ldv,
/// position ξ at v + ξ*positionStride), tile (i, ty, tx) at column i*bandRows*tW + (ty - band.lowerBound)*tW + tx.
/// `band` (default: all tile rows) limits the transform to a range of tile rows, so a large image can go through
/// in bands instead of needing V for all of it at once.
///
/// Each channel is first copied into a zero-padded plane split into its even and odd columns,
/// E[r][k] = xpad[r][2k] and D[r][k] = xpad[r][2k+1] (k in 0...tW), so tile tx's four columns are
/// E[tx], D[tx], E[tx+1], D[tx+1] and every loop below runs over contiguous k.
func winogradInputTransform(_ x: UnsafePointer<Float>, images nb: Int, _ s: ConvShape, _ p: Conv2dParameters,
                            _ tiles: WinogradTiles, into v: UnsafeMutablePointer<Float>, ldv: Int,
                            positionStride: Int? = nil, band: Range<Int>? = nil) {
    let (th, tw) = (tiles.th, tiles.tw)
    let band = band ?? 0..<th
    let hp = 2 * th + 2, half = tw + 1
    let (h, w, ph, pw) = (s.h, s.w, p.padding.h, p.padding.w)
    let positionStride = positionStride ?? s.c * ldv
    // Padded rows that hold input rows; padded columns 2k (even) and 2k+1 (odd) that hold input columns.
    // Only the padded rows the band's tiles read (2 ty ..< 2 ty + 4).
    let rows = validRange(count: hp, offset: -ph, stride: 1, limit: h)
        .clamped(to: 2 * band.lowerBound..<(2 * band.upperBound + 2))
    let evens = validRange(count: half, offset: -pw, stride: 2, limit: w)
    let odds = validRange(count: half, offset: 1 - pw, stride: 2, limit: w)
    Parallel.chunks(count: nb * s.c, minChunk: Swift.max(1, 4096 / Swift.max(1, h * w))) { items in
        // E and D planes (hp, half) each, then the 8 row-combined rows (B^T d on E and on D).
        let planeCount = hp * half
        let buf = UnsafeMutablePointer<Float>.allocate(capacity: 2 * planeCount + 8 * half)
        defer { buf.deallocate() }
        buf.update(repeating: 0, count: 2 * planeCount)
        let ev = buf, od = buf + planeCount, comb = buf + 2 * planeCount
        for item in items {
            let (i, ch) = (item / s.c, item % s.c)
            let src = x + (i * s.c + ch) * h * w
            for r in rows {
                let row = src + (r - ph) * w
                if !evens.isEmpty {
                    copyStrided(ev + r * half + evens.lowerBound, row + 2 * evens.lowerBound - pw,
                                count: evens.count, stride: 2)
                }
                if !odds.isEmpty {
                    copyStrided(od + r * half + odds.lowerBound, row + 2 * odds.lowerBound + 1 - pw,
                                count: odds.count, stride: 2)
                }
            }
            let dst = v + ch * ldv + i * band.count * tw - band.lowerBound * tw
            for ty in band {
                // B^T d: rows 2ty..2ty+3 combined as (r0 - r2, r1 + r2, r2 - r1, r1 - r3), for E and D.
                for part in 0..<2 {
                    let plane = part == 0 ? ev : od, base = 4 * part
                    let r0 = plane + 2 * ty * half, r1 = r0 + half, r2 = r1 + half, r3 = r2 + half
                    let c0 = comb + base * half, c1 = c0 + half, c2 = c1 + half, c3 = c2 + half
                    var k = 0
                    while k + 8 <= half {
                        let (a0, a1, a2, a3) = (load8(r0 + k), load8(r1 + k), load8(r2 + k), load8(r3 + k))
                        store8(a0 - a2, c0 + k); store8(a1 + a2, c1 + k)
                        store8(a2 - a1, c2 + k); store8(a1 - a3, c3 + k)
                        k += 8
                    }
                    while k < half {
                        c0[k] = r0[k] - r2[k]
                        c1[k] = r1[k] + r2[k]
                        c2[k] = r2[k] - r1[k]
                        c3[k] = r1[k] - r3[k]
                        k += 1
                    }
                }
                // (B^T d) B on columns (E[tx], D[tx], E[tx+1], D[tx+1]); position ξ = row*4 + col.
                let out = dst + ty * tw
                for ri in 0..<4 {
                    let e = comb + ri * half, d = comb + (4 + ri) * half
                    let o0 = out + (ri * 4) * positionStride, o1 = o0 + positionStride
                    let o2 = o1 + positionStride, o3 = o2 + positionStride
                    var tx = 0
                    while tx + 8 <= tw {  // reads up to e[tx + 8], d[tx + 8]: within the tW + 1 columns
                        let (e0, e1, d0, d1) = (load8(e + tx), load8(e + tx + 1), load8(d + tx), load8(d + tx + 1))
                        store8(e0 - e1, o0 + tx); store8(d0 + e1, o1 + tx)
                        store8(e1 - d0, o2 + tx); store8(d0 - d1, o3 + tx)
                        tx += 8
                    }
                    while tx < tw {
                        o0[tx] = e[tx] - e[tx + 1]
                        o1[tx] = d[tx] + e[tx + 1]
                        o2[tx] = e[tx + 1] - d[tx]
                        o3[tx] = d[tx] - d[tx + 1]
                        tx += 1
                    }
                }
            }
        }
    }
}

/// Output transform of `nb` images with the fused epilogue: M (16, O, T) (row stride ldm, position ξ at
/// m + ξ*positionStride, tile columns as in `winogradInputTransform` for the same `band`) ->
/// out (nb,O,oH,oW) = activation(A^T M A + bias + residual), tiles cropped to oH x oW; only the band's output
/// rows are written.
func winogradOutputTransform(_ m: UnsafePointer<Float>, ldm: Int, positionStride: Int? = nil, images nb: Int, _ s: ConvShape,
                             _ tiles: WinogradTiles, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?,
                             _ activation: Activation, _ out: UnsafeMutablePointer<Float>, band: Range<Int>? = nil) {
    let (th, tw, oh, ow) = (tiles.th, tiles.tw, s.oh, s.ow)
    let band = band ?? 0..<th
    let positionStride = positionStride ?? s.o * ldm
    Parallel.chunks(count: nb * s.o, minChunk: Swift.max(1, 4096 / Swift.max(1, s.plane))) { items in
        // A^T M per column j: u0[j] (tW) and u1[j] (tW); then the two output rows of the tile row (2*tW each).
        let buf = UnsafeMutablePointer<Float>.allocate(capacity: 8 * tw + 4 * tw)
        defer { buf.deallocate() }
        let u = buf, y0 = buf + 8 * tw, y1 = y0 + 2 * tw
        for item in items {
            let (i, oc) = (item / s.o, item % s.o)
            let plane = (i * s.o + oc) * oh * ow
            let dst = out + plane
            let res = residual.map { $0 + plane }
            let bv: Float = bias?[oc] ?? 0
            let src = m + oc * ldm + i * band.count * tw - band.lowerBound * tw
            for ty in band {
                let mp = src + ty * tw
                // A^T M: u0 = m0 + m1 + m2, u1 = m1 - m2 - m3 over the rows of the 4x4 M, per column j.
                for j in 0..<4 {
                    let m0 = mp + j * positionStride, m1 = m0 + 4 * positionStride
                    let m2 = m1 + 4 * positionStride, m3 = m2 + 4 * positionStride
                    let u0 = u + j * tw, u1 = u + (4 + j) * tw
                    var tx = 0
                    while tx + 8 <= tw {
                        let (a0, a1, a2, a3) = (load8(m0 + tx), load8(m1 + tx), load8(m2 + tx), load8(m3 + tx))
                        store8(a0 + a1 + a2, u0 + tx)
                        store8(a1 - a2 - a3, u1 + tx)
                        tx += 8
                    }
                    while tx < tw {
                        u0[tx] = m0[tx] + m1[tx] + m2[tx]
                        u1[tx] = m1[tx] - m2[tx] - m3[tx]
                        tx += 1
                    }
                }
                // (A^T M) A, plus bias.
                for k in 0..<2 {
                    let a0 = u + 4 * k * tw, a1 = a0 + tw, a2 = a1 + tw, a3 = a2 + tw
                    let y = k == 0 ? y0 : y1
                    var tx = 0
                    let bias8 = SIMD8<Float>(repeating: bv)
                    while tx + 8 <= tw {
                        let (b0, b1, b2, b3) = (load8(a0 + tx), load8(a1 + tx), load8(a2 + tx), load8(a3 + tx))
                        var pair = SIMD16<Float>()
                        pair.evenHalf = b0 + b1 + b2 + bias8
                        pair.oddHalf = b1 - b2 - b3 + bias8
                        UnsafeMutableRawPointer(y + 2 * tx).storeBytes(of: pair, as: SIMD16<Float>.self)
                        tx += 8
                    }
                    while tx < tw {
                        y[2 * tx] = a0[tx] + a1[tx] + a2[tx] + bv
                        y[2 * tx + 1] = a1[tx] - a2[tx] - a3[tx] + bv
                        tx += 1
                    }
                }
                for k in 0..<2 {
                    let oy = 2 * ty + k
                    if oy >= oh { break }
                    let y = k == 0 ? y0 : y1
                    let d = dst + oy * ow
                    if let res {
                        let r = res + oy * ow
                        for ox in 0..<ow { d[ox] = y[ox] + r[ox] }
                    } else {
                        d.update(from: y, count: ow)
                    }
                }
            }
            let firstRow = 2 * band.lowerBound, endRow = Swift.min(oh, 2 * band.upperBound)
            applyActivation(activation, dst + firstRow * ow, count: (endRow - firstRow) * ow)
        }
    }
}

/// x (N,C,H,W), U (16,O,C) from `winogradWeightTransform` -> out (N,O,oH,oW) =
/// activation(conv3x3(x) + bias + residual), stride 1, dilation 1, groups 1, any zero padding.
/// Images go through in passes sized so V (16,C,T) and M (16,O,T) stay near `passFloats` floats together; an
/// image larger than that goes through alone, in bands of tile rows of about `passFloats` (at least one row).
/// Without bands a 1024 x 1024 conv with 256 -> 128 channels (SDXL's VAE decoder) would need 6.4 GB for V and M.
func winogradConv2d(_ x: UnsafePointer<Float>, _ u: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                    _ residual: UnsafePointer<Float>?, _ activation: Activation, _ s: ConvShape, _ p: Conv2dParameters,
                    _ out: UnsafeMutablePointer<Float>, passFloats: Int = 8 << 20) {
    let tiles = WinogradTiles(s)
    let perTileRow = winogradPositions * (s.c + s.o) * tiles.tw
    let perImage = perTileRow * tiles.th
    let perPass = Swift.max(1, Swift.min(s.n, passFloats / Swift.max(1, perImage)))
    let bandRows = perPass > 1 || perImage <= passFloats
        ? tiles.th : Swift.max(1, Swift.min(tiles.th, passFloats / Swift.max(1, perTileRow)))
    let ldt = perPass * bandRows * tiles.tw
    // The 16 position blocks are skewed by 16 floats each: packed, their distance (C*T floats) is often a
    // multiple of 4 KiB, and the transforms' 16 concurrent streams would then fall into the same cache sets.
    let skew = 16
    let v = UnsafeMutablePointer<Float>.allocate(capacity: winogradPositions * (s.c * ldt + skew))
    defer { v.deallocate() }
    let m = UnsafeMutablePointer<Float>.allocate(capacity: winogradPositions * (s.o * ldt + skew))
    defer { m.deallocate() }
    var b0 = 0
    while b0 < s.n {
        let nb = Swift.min(perPass, s.n - b0)
        var ty0 = 0
        while ty0 < tiles.th {
            let band = ty0..<Swift.min(tiles.th, ty0 + bandRows)
            let t = nb * band.count * tiles.tw
            let (vStride, mStride) = (s.c * t + skew, s.o * t + skew)
            // V columns of this pass are packed with row stride t so each sgemm reads a dense (C, t) matrix.
            winogradInputTransform(x + b0 * s.c * s.h * s.w, images: nb, s, p, tiles, into: v, ldv: t,
                                   positionStride: vStride, band: band)
            sgemmBatch((0..<winogradPositions).map { xi in
                GemmCall(m: s.o, n: t, k: s.c, a: u + xi * s.o * s.c, lda: s.c, b: v + xi * vStride, ldb: t,
                         c: m + xi * mStride, ldc: t)
            })
            let plane = b0 * s.o * s.oh * s.ow
            winogradOutputTransform(m, ldm: t, positionStride: mStride, images: nb, s, tiles, bias: bias,
                                    residual: residual.map { $0 + plane }, activation, out + plane, band: band)
            ty0 = band.upperBound
        }
        b0 += nb
    }
}
