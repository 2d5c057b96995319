/// Channel conversions with PIL's `Image.convert` semantics.
extension Image {
    /// RGB copy: gray is replicated, RGBA drops alpha without compositing (PIL `convert("RGB")`).
    ///
    /// ```swift
    /// let rgb = try ImageFile.read(url).toRGB()   // always 3 channels
    /// ```
    public func toRGB() -> Image {
        switch channels {
        case 3:
            return self
        case 1:
            var out = [UInt8](repeating: 0, count: width * height * 3)
            for i in 0..<(width * height) {
                let v = pixels[i]
                out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v
            }
            return Image(width: width, height: height, channels: 3, pixels: out)
        default:  // 4
            var out = [UInt8](repeating: 0, count: width * height * 3)
            for i in 0..<(width * height) {
                out[3 * i] = pixels[4 * i]; out[3 * i + 1] = pixels[4 * i + 1]; out[3 * i + 2] = pixels[4 * i + 2]
            }
            return Image(width: width, height: height, channels: 3, pixels: out)
        }
    }

    /// Luma of one RGB pixel as PIL computes `L = R*299/1000 + G*587/1000 + B*114/1000`:
    /// in 16.16 fixed point with rounding (Pillow Convert.c, `L24`).
    @inline(__always)
    public static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        let sum: Int = Int(r) * 19595 + Int(g) * 38470 + Int(b) * 7471 + 0x8000
        return UInt8(truncatingIfNeeded: sum >> 16)
    }

    /// Gray copy (PIL `convert("L")`); RGBA ignores alpha.
    public func toGray() -> Image {
        if channels == 1 { return self }
        var out = [UInt8](repeating: 0, count: width * height)
        let c = channels
        for i in 0..<(width * height) {
            out[i] = Image.luma(pixels[c * i], pixels[c * i + 1], pixels[c * i + 2])
        }
        return Image(width: width, height: height, channels: 1, pixels: out)
    }
}
