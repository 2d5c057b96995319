import TensorCore

/// Image <-> Tensor: torchvision `ToTensor` + `Normalize`, batching, masks.
extension Image {
    /// ImageNet channel means (torchvision's `Normalize` constants).
    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    /// ImageNet channel standard deviations.
    public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

    /// (3,H,W) Float of `(x / 255 - mean[c]) / std[c]`, computed in Float32 exactly as torchvision
    /// `ToTensor()` then `Normalize(mean, std)`. Gray is replicated, RGBA drops alpha.
    /// `mean`/`std` hold 3 values (or 1, used for every channel).
    ///
    /// ```swift
    /// let x = image.resized(shorterSide: 256).centerCropped(width: 224, height: 224).tensor()  // (3,224,224)
    /// ```
    public func tensor(mean: [Float] = Image.imageNetMean, std: [Float] = Image.imageNetStd) -> Tensor {
        precondition((mean.count == 3 || mean.count == 1) && (std.count == 3 || std.count == 1),
                     "tensor(mean:std:) needs 3 (or 1) means and stds, got \(mean.count) and \(std.count)")
        var out = [Float](repeating: 0, count: 3 * width * height)
        writeNormalized(into: &out, offset: 0, mean: mean, std: std)
        return Tensor(shape: [3, height, width], scalars: out)
    }

    // out[offset ..< offset + 3*H*W] = normalised planes (C,H,W)
    private func writeNormalized(into out: inout [Float], offset: Int, mean: [Float], std: [Float]) {
        let plane = width * height, c = channels
        out.withUnsafeMutableBufferPointer { dst in
            pixels.withUnsafeBufferPointer { src in
                for ch in 0..<3 {
                    let m = mean.count == 3 ? mean[ch] : mean[0]
                    let s = std.count == 3 ? std[ch] : std[0]
                    let srcCh = c == 1 ? 0 : ch
                    let base = offset + ch * plane
                    for i in 0..<plane {
                        let x = Float(src[i * c + srcCh]) / 255
                        dst[base + i] = (x - m) / s
                    }
                }
            }
        }
    }

    /// (N,3,H,W) stack of `tensor(mean:std:)`; every image must have the same size.
    ///
    /// ```swift
    /// let batch = try Image.batchTensor(crops)   // (8,3,224,224)
    /// ```
    public static func batchTensor(_ images: [Image], mean: [Float] = Image.imageNetMean,
                                   std: [Float] = Image.imageNetStd) throws -> Tensor {
        guard let first = images.first else { return Tensor(zeros: [0, 3, 0, 0]) }
        let w = first.width, h = first.height
        for (i, im) in images.enumerated() where im.width != w || im.height != h {
            throw ImageError.shapeMismatch(what: "image #\(i) of the batch",
                                           expected: "\(w)x\(h) like image #0", actual: "\(im.width)x\(im.height)")
        }
        try checkNormalization(mean: mean, std: std)
        var out = [Float](repeating: 0, count: images.count * 3 * w * h)
        for (i, im) in images.enumerated() {
            im.writeNormalized(into: &out, offset: i * 3 * w * h, mean: mean, std: std)
        }
        return Tensor(shape: [images.count, 3, h, w], scalars: out)
    }

    /// Throws `.shapeMismatch` unless `mean` and `std` hold 3 (or 1) finite values and every std is non-zero
    /// (they may come from a config file; a zero std would put infinities into every feature).
    public static func checkNormalization(mean: [Float], std: [Float]) throws {
        guard mean.count == 3 || mean.count == 1, std.count == 3 || std.count == 1 else {
            throw ImageError.shapeMismatch(what: "normalisation mean / std", expected: "3 (or 1) values each",
                                           actual: "\(mean.count) means and \(std.count) stds")
        }
        guard mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 != 0 }) else {
            throw ImageError.shapeMismatch(what: "normalisation mean / std", expected: "finite values and non-zero stds",
                                           actual: "mean \(mean), std \(std)")
        }
    }

    /// (H,W) binary mask: 1 where the gray level (PIL `convert("L")`) is above `threshold`, else 0.
    ///
    /// ```swift
    /// let gt = try ImageFile.read(maskURL).maskTensor()   // ground truth 0/1, threshold > 127
    /// ```
    public func maskTensor(threshold: UInt8 = 127) -> Tensor {
        let gray = toGray()
        return Tensor(shape: [height, width], scalars: gray.pixels.map { $0 > threshold ? 1 : 0 })
    }

    /// 8-bit gray image of an (H,W) tensor (leading 1s allowed): `round(clamp((v - min) / (max - min), 0, 1) * 255)`.
    /// NaN maps to 0; `max <= min` gives all 0.
    ///
    /// ```swift
    /// let png = try Image.gray(from: anomalyMap, min: 0, max: 4)
    /// ```
    public static func gray(from tensor: Tensor, min lo: Float = 0, max hi: Float = 1) throws -> Image {
        let (h, w) = try planeSize(tensor, what: "tensor for Image.gray")
        let pixels = tensor.scalars.map { UInt8((normalized($0, lo, hi) * 255).rounded()) }
        return Image(width: w, height: h, channels: 1, pixels: pixels)
    }

    /// (H, W) of a tensor shaped (H,W), (1,H,W), (1,1,H,W), ...
    static func planeSize(_ t: Tensor, what: String) throws -> (Int, Int) {
        guard t.rank >= 2, t.shape.dropLast(2).allSatisfy({ $0 == 1 }) else {
            throw ImageError.shapeMismatch(what: what, expected: "(H,W) or (1,...,1,H,W)", actual: "\(t.shape)")
        }
        return (t.shape[t.rank - 2], t.shape[t.rank - 1])
    }

    /// (v - lo) / (hi - lo) clamped to [0, 1]; NaN and an empty range give 0.
    @inline(__always)
    static func normalized(_ v: Float, _ lo: Float, _ hi: Float) -> Float {
        guard hi > lo, !v.isNaN else { return 0 }
        return Swift.min(Swift.max((v - lo) / (hi - lo), 0), 1)
    }
}
