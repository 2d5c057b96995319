import ImageIO

/// A brightness / contrast change inside a mask: with mu_c the mean of channel c over the mask,
/// I'_c = contrast * (I_c - mu_c) + mu_c + brightness inside, clamped to [0, 255]; unchanged outside.
///
/// ```swift
/// let darker = IntensityChange.apply(to: good, mask: mask, brightness: -40, contrast: 1.2)
/// ```
public enum IntensityChange {
    public static func apply(to image: Image, mask: Image, brightness: Double, contrast: Double) -> Image {
        let C = image.channels, n = image.width * image.height
        var mean = [Double](repeating: 0, count: C)
        var count = 0
        for i in 0..<n where mask.pixels[i] > 127 {
            for c in 0..<C { mean[c] += Double(image.pixels[i * C + c]) }
            count += 1
        }
        guard count > 0 else { return image }
        let mu = mean.map { Float($0 / Double(count)) }
        let k = Float(contrast), b = Float(brightness)
        var pixels = image.pixels
        for i in 0..<n where mask.pixels[i] > 127 {
            for c in 0..<C {
                let v = k * (Float(image.pixels[i * C + c]) - mu[c]) + mu[c] + b
                pixels[i * C + c] = UInt8(min(max(v.rounded(), 0), 255))
            }
        }
        return Image(width: image.width, height: image.height, channels: C, pixels: pixels)
    }
}
