import Foundation
import ImageIO
import TensorCore

/// How an image is brought to the working size (diffusers `VaeImageProcessor.resize(resize_mode=...)`).
public enum VAEResizeMode: String, Sendable {
    /// Stretch to the working size (`"default"`).
    case stretch
    /// Keep the aspect ratio, centre, and fill the borders from the image's edge rows/columns (`"fill"`, used with
    /// `padding_mask_crop`).
    case fill
    /// Keep the aspect ratio, centre, and cut what overhangs (`"crop"`, used to paste a crop back).
    case crop
}

/// Port of the parts of diffusers' `VaeImageProcessor` (image_processor.py) the inpainting pipelines use: image and
/// mask preprocessing (crop, Pillow LANCZOS resize in the three resize modes, [-1, 1] normalisation, mask
/// binarisation at 0.5), postprocessing to 8 bits, `apply_overlay` (paste the generated crop back and keep the
/// original outside the mask, with Pillow's integer alpha arithmetic) and the mask blur.
///
/// ```swift
/// let x = InpaintImageProcessor.imageTensor(image, width: 1024, height: 1024, crop: box, mode: .fill)  // (1,3,H,W)
/// let m = InpaintImageProcessor.maskTensor(mask, width: 1024, height: 1024, crop: box, mode: .fill)    // (1,1,H,W)
/// ```
public enum InpaintImageProcessor {
    /// `image` cropped to `crop`, resized to `width` x `height` (Pillow LANCZOS, `mode`); RGB.
    public static func resized(_ image: Image, width: Int, height: Int, crop: CropBox? = nil,
                               mode: VAEResizeMode = .stretch) -> Image {
        var im = image
        if let c = crop { im = im.croppedClamped(c) }
        switch mode {
        case .stretch: return im.resizedLanczos(width: width, height: height)
        case .fill: return resizeAndFill(im, width: width, height: height)
        case .crop: return resizeAndCrop(im, width: width, height: height)
        }
    }

    /// (1,3,H,W) in [-1, 1]: `2 * pixel / 255 - 1` of the resized RGB image.
    public static func imageTensor(_ image: Image, width: Int, height: Int, crop: CropBox? = nil,
                                   mode: VAEResizeMode = .stretch) -> Tensor {
        let rgb = resized(image.channels == 3 ? image : image.toRGB(), width: width, height: height, crop: crop, mode: mode)
        var out = [Float](repeating: 0, count: 3 * width * height)
        let plane = width * height
        for i in 0..<plane {
            for c in 0..<3 { out[c * plane + i] = 2 * (Float(rgb.pixels[i * 3 + c]) / 255) - 1 }
        }
        return Tensor(shape: [1, 3, height, width], scalars: out)
    }

    /// (1,1,H,W) of 0/1: the resized gray mask binarised at 0.5 (`pixel / 255 >= 0.5`).
    public static func maskTensor(_ mask: Image, width: Int, height: Int, crop: CropBox? = nil,
                                  mode: VAEResizeMode = .stretch) -> Tensor {
        let gray = resized(mask.channels == 1 ? mask : mask.toGray(), width: width, height: height, crop: crop, mode: mode)
        let g = gray.channels == 1 ? gray : gray.toGray()
        return Tensor(shape: [1, 1, height, width], scalars: g.pixels.map { Float($0) / 255 >= 0.5 ? 1 : 0 })
    }

    /// 8-bit RGB image of a decoded (1,3,H,W) tensor in [-1, 1]: `round(clamp(x / 2 + 0.5, 0, 1) * 255)`, ties to
    /// even as numpy rounds.
    public static func postprocess(_ decoded: Tensor) throws -> Image {
        guard decoded.rank == 4, decoded.shape[0] == 1, decoded.shape[1] == 3 else {
            throw InpaintingError.shapeMismatch(what: "decoded image", expected: [1, 3, -1, -1], actual: decoded.shape)
        }
        let h = decoded.shape[2], w = decoded.shape[3], plane = h * w
        var px = [UInt8](repeating: 0, count: plane * 3)
        decoded.withUnsafeBufferPointer { x in
            for i in 0..<plane {
                for c in 0..<3 {
                    let v = min(max(x[c * plane + i] * 0.5 + 0.5, 0), 1)
                    px[i * 3 + c] = UInt8((v * 255).rounded(.toNearestOrEven))
                }
            }
        }
        return Image(width: w, height: h, channels: 3, pixels: px)
    }

    /// Port of `apply_overlay(mask, init_image, image, crop_coords)`: the generated image (resized back into `crop`
    /// with `.crop` mode when given, else used as is and required to have the original's size) shows where the mask
    /// is set and the original where it is 0, blended by the mask value in between with Pillow's 8-bit arithmetic
    /// (premultiply, unpremultiply, `alpha_composite`).
    public static func applyOverlay(mask: Image, original: Image, generated: Image, crop: CropBox?) throws -> Image {
        let w = original.width, h = original.height
        let orig = original.channels == 3 ? original : original.toRGB()
        let m = mask.channels == 1 ? mask : mask.toGray()
        guard m.width == w, m.height == h else {
            throw InpaintingError.shapeMismatch(what: "overlay mask", expected: [h, w], actual: [m.height, m.width])
        }
        var gen: Image
        if let c = crop {
            // The crop pasted into a black canvas of the original's size.
            let fitted = resizeAndCrop(generated.channels == 3 ? generated : generated.toRGB(), width: c.width, height: c.height)
            gen = Image(width: w, height: h, channels: 3, pixels: [UInt8](repeating: 0, count: w * h * 3))
            gen.paste(fitted, x: c.x0, y: c.y0)
        } else {
            gen = generated.channels == 3 ? generated : generated.toRGB()
            guard gen.width == w, gen.height == h else {
                throw InpaintingError.shapeMismatch(what: "generated image", expected: [h, w], actual: [gen.height, gen.width])
            }
        }
        @inline(__always) func div255(_ v: Int) -> Int { let t = v + 128; return ((t >> 8) + t) >> 8 }
        var out = gen.pixels
        for i in 0..<(w * h) {
            let a = 255 - Int(m.pixels[i])           // inverted mask = the original's alpha
            let sa = div255(255 * a)                 // RGBa paste with mask: alpha channel
            if sa == 0 { continue }                   // alpha_composite keeps the destination
            for c in 0..<3 {
                let pre = div255(Int(orig.pixels[i * 3 + c]) * a)
                let un = (sa == 255) ? pre : min((255 * pre) / sa, 255)  // RGBa -> RGBA
                let coef1 = sa * 128, coef2 = 255 * 128 - coef1         // PRECISION_BITS 7, destination alpha 255
                let t = un * coef1 + Int(gen.pixels[i * 3 + c]) * coef2 + (0x80 << 7)
                out[i * 3 + c] = UInt8(((((t >> 8) + t) >> 8) >> 7) & 0xFF)
            }
        }
        return Image(width: w, height: h, channels: 3, pixels: out)
    }

    /// Soft mask for `mask_blur`: port of `VaeImageProcessor.blur(mask, blur_factor)`, Pillow's
    /// `GaussianBlur(radius)` (three extended box passes per axis), pixel-exact on gray masks.
    public static func blurred(_ mask: Image, radius: Double) -> Image {
        guard radius > 0 else { return mask.channels == 1 ? mask : mask.toGray() }
        return PillowGaussianBlur.blur(mask, radius: radius)
    }

    /// torch `interpolate(mask, size=(h, w))` (mode "nearest"): `src = min(floor(dst * in / out), in - 1)`.
    /// x (N,C,H,W) -> (N,C,h,w)
    public static func nearestDownsample(_ x: Tensor, height h: Int, width w: Int) -> Tensor {
        let n = x.shape[0], c = x.shape[1], H = x.shape[2], W = x.shape[3]
        let sy = Float(H) / Float(h), sx = Float(W) / Float(w)
        var out = [Float](repeating: 0, count: n * c * h * w)
        for p in 0..<(n * c) {
            for y in 0..<h {
                let iy = min(Int((Float(y) * sy).rounded(.down)), H - 1)
                for xx in 0..<w {
                    let ix = min(Int((Float(xx) * sx).rounded(.down)), W - 1)
                    out[(p * h + y) * w + xx] = x.scalars[(p * H + iy) * W + ix]
                }
            }
        }
        return Tensor(shape: [n, c, h, w], scalars: out)
    }

    // MARK: - resize modes (VaeImageProcessor._resize_and_fill / _resize_and_crop)

    static func resizeAndFill(_ image: Image, width: Int, height: Int) -> Image {
        let ratio = Double(width) / Double(height)
        let srcRatio = Double(image.width) / Double(image.height)
        let srcW = ratio < srcRatio ? width : image.width * height / image.height
        let srcH = ratio >= srcRatio ? height : image.height * width / image.width
        let resized = image.resizedLanczos(width: srcW, height: srcH)
        var res = Image(width: width, height: height, channels: image.channels,
                        pixels: [UInt8](repeating: 0, count: width * height * image.channels))
        res.paste(resized, x: floorDiv(width, 2) - floorDiv(srcW, 2), y: floorDiv(height, 2) - floorDiv(srcH, 2))
        if ratio < srcRatio {
            let fill = floorDiv(height, 2) - floorDiv(srcH, 2)
            if fill > 0 {
                res.paste(resized.resizedLanczos(width: width, height: fill, box: (0, 0, Double(width), 0)), x: 0, y: 0)
                let rh = Double(resized.height)
                res.paste(resized.resizedLanczos(width: width, height: fill, box: (0, rh, Double(width), rh)),
                          x: 0, y: fill + srcH)
            }
        } else if ratio > srcRatio {
            let fill = floorDiv(width, 2) - floorDiv(srcW, 2)
            if fill > 0 {
                res.paste(resized.resizedLanczos(width: fill, height: height, box: (0, 0, 0, Double(height))), x: 0, y: 0)
                let rw = Double(resized.width)
                res.paste(resized.resizedLanczos(width: fill, height: height, box: (rw, 0, rw, Double(height))),
                          x: fill + srcW, y: 0)
            }
        }
        return res
    }

    static func resizeAndCrop(_ image: Image, width: Int, height: Int) -> Image {
        let ratio = Double(width) / Double(height)
        let srcRatio = Double(image.width) / Double(image.height)
        let srcW = ratio > srcRatio ? width : image.width * height / image.height
        let srcH = ratio <= srcRatio ? height : image.height * width / image.width
        let resized = image.resizedLanczos(width: srcW, height: srcH)
        var res = Image(width: width, height: height, channels: image.channels,
                        pixels: [UInt8](repeating: 0, count: width * height * image.channels))
        res.paste(resized, x: floorDiv(width, 2) - floorDiv(srcW, 2), y: floorDiv(height, 2) - floorDiv(srcH, 2))
        return res
    }
}

extension Image {
    /// Pillow `paste(other, (x, y))` without a mask: copies the overlapping part (same channel count).
    mutating func paste(_ other: Image, x: Int, y: Int) {
        let c = channels
        for sy in 0..<other.height {
            let dy = y + sy
            guard dy >= 0, dy < height else { continue }
            for sx in 0..<other.width {
                let dx = x + sx
                guard dx >= 0, dx < width else { continue }
                for ch in 0..<c { pixels[(dy * width + dx) * c + ch] = other.pixels[(sy * other.width + sx) * c + ch] }
            }
        }
    }

    /// Pillow `crop(box)`: pixels outside the image read as 0.
    func croppedClamped(_ b: CropBox) -> Image {
        var out = Image(width: b.width, height: b.height, channels: channels,
                        pixels: [UInt8](repeating: 0, count: max(b.width * b.height * channels, 0)))
        let src = self
        out.paste(src, x: -b.x0, y: -b.y0)
        return out
    }
}
