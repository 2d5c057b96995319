import Foundation
import TensorCore

/// Ground-truth defect masks: an image whose pixels say defect (non-zero) or not (0), checked so that a wrong file
/// is an error naming it rather than a silently empty or wrong mask.
///
/// Accepted: PNG (or JPEG, when `binary` is false) in 1/2/4/8-bit gray, or RGB / RGBA whose pixels are gray and
/// opaque. Refused, naming the mask: 16-bit samples, palette (colour-mapped) PNGs, colour or translucent pixels, a
/// size other than its image's, and (when `binary`) more than two gray levels. A mask of 0 and one other level
/// (0/1, 0/255) comes back as 0/255.
///
/// ```swift
/// let gt = try MaskFile.read(maskURL, width: image.width, height: image.height).maskTensor()
/// ```
public enum MaskFile {
    /// Reads and checks the mask at `url`; `width` / `height`, when given, are its image's size.
    public static func read(_ url: URL, width: Int? = nil, height: Int? = nil, binary: Bool = true,
                            limits: InputLimits = .current) throws -> Image {
        try decode(ImageFile.readBytes(url, limits: limits), file: url.path, width: width, height: height,
                   binary: binary, limits: limits)
    }

    /// `read` on bytes held in memory; `file` names the mask in errors. Touches no file.
    public static func decode(_ data: Data, file: String, width: Int? = nil, height: Int? = nil, binary: Bool = true,
                              limits: InputLimits = .current) throws -> Image {
        if ImageFile.format(ofMagic: data) == .png, data.count >= 26 {
            let depth = data[data.startIndex + 24], colorType = data[data.startIndex + 25]
            if depth == 16 {
                throw ImageError.unsupported(file: file, reason: "16-bit mask; save masks as 8-bit gray, 0 = good, 255 = defect")
            }
            if colorType == 3 {
                throw ImageError.unsupported(file: file, reason: "palette (colour-mapped) mask; save masks as 8-bit gray, "
                                             + "0 = good, 255 = defect")
            }
        }
        let image = try ImageFile.decode(data, file: file, limits: limits)
        if let width, let height, image.width != width || image.height != height {
            throw ImageError.sizeMismatch(file: file, expected: "its image's \(width)x\(height)",
                                          actual: "\(image.width)x\(image.height)")
        }
        let gray = try grayLevels(image, file: file)
        var seen = [Bool](repeating: false, count: 256)
        for v in gray { seen[Int(v)] = true }
        let levels = (0..<256).filter { seen[$0] }
        if binary {
            let nonZero = levels.filter { $0 != 0 }
            guard nonZero.count <= 1 else {
                let shown = levels.prefix(6).map(String.init).joined(separator: ", ")
                throw ImageError.unsupported(file: file, reason: "mask is not binary: \(levels.count) gray levels (\(shown)"
                                             + "\(levels.count > 6 ? ", ..." : "")); expected 0 and one defect level such as 255")
            }
            return Image(width: image.width, height: image.height, channels: 1, pixels: gray.map { $0 == 0 ? 0 : 255 })
        }
        return Image(width: image.width, height: image.height, channels: 1, pixels: gray.map { $0 > 127 ? 255 : 0 })
    }

    /// The gray level of each pixel; colour or translucent pixels are an error naming the first.
    static func grayLevels(_ image: Image, file: String) throws -> [UInt8] {
        let c = image.channels
        if c == 1 { return image.pixels }
        var out = [UInt8](repeating: 0, count: image.width * image.height)
        for i in 0..<out.count {
            let r = image.pixels[i * c], g = image.pixels[i * c + 1], b = image.pixels[i * c + 2]
            let opaque = c < 4 || image.pixels[i * c + 3] == 255
            guard r == g, g == b, opaque else {
                let what = opaque ? "colour (\(r),\(g),\(b))" : "translucent (alpha \(image.pixels[i * c + 3]))"
                throw ImageError.unsupported(file: file, reason: "mask pixel (\(i % image.width), \(i / image.width)) is \(what);"
                                             + " masks are gray, 0 = good, 255 = defect")
            }
            out[i] = r
        }
        return out
    }
}
