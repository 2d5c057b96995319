import Foundation
import TensorCore

/// General convolution lowered to im2col + OpenBLAS sgemm (ResNet 3x3 / 7x7 and strided 1x1 layers).
extension FoldedConv {
    // General: per image and group, im2col (C/g*k*k, oH*oW) then sgemm (O/g, C/g*k*k) x cols.
    func im2colGemm(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, weights: UnsafePointer<Float>,
                            oh: Int, ow: Int, out: UnsafeMutablePointer<Float>) {
        let c = inChannels, o = outChannels, g = groups, cg = c / g, og = o / g
        let k = kernel, kdim = cg * k * k, plane = oh * ow
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: kdim * plane)
        defer { cols.deallocate() }
        for b in 0..<n {
            for gi in 0..<g {
                let xin = x + (b * c + gi * cg) * h * w
                im2col(xin, channels: cg, h: h, w: w, oh: oh, ow: ow, cols: cols)
                sgemm(m: og, n: plane, k: kdim, a: weights + gi * og * kdim, lda: kdim, b: cols, ldb: plane,
                      c: out + (b * o + gi * og) * plane, ldc: plane)
            }
        }
    }

    // x (C,H,W) -> cols (C*k*k, oH*oW), zero outside the (possibly asymmetric) padding.
    func im2col(_ x: UnsafePointer<Float>, channels: Int, h: Int, w: Int, oh: Int, ow: Int,
                        cols: UnsafeMutablePointer<Float>) {
        let k = kernel, s = stride, pt = padding.top, pl = padding.left
        parallelFor(channels, work: k * k * oh * ow) { ch in
            let plane = x + ch * h * w
            for ki in 0..<k {
                for kj in 0..<k {
                    let dst = cols + ((ch * k + ki) * k + kj) * oh * ow
                    for oy in 0..<oh {
                        let iy = oy * s - pt + ki
                        let d = dst + oy * ow
                        if iy < 0 || iy >= h {
                            for ox in 0..<ow { d[ox] = 0 }
                            continue
                        }
                        let src = plane + iy * w
                        for ox in 0..<ow {
                            let ix = ox * s - pl + kj
                            d[ox] = (ix >= 0 && ix < w) ? src[ix] : 0
                        }
                    }
                }
            }
        }
    }
}
