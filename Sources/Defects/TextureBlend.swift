import Foundation
import ImageIO
import TensorCore

/// DRAEM's anomaly source (Zavrtanik et al., ICCV 2021): inside a binary mask M the image I is replaced by a blend with
/// a foreign texture T, I' = (1 - M) * I + M * (beta * I + (1 - beta) * T); outside it is unchanged. DRAEM draws T
/// from DTD textures; here T is a patch of another good image (moved and flipped) or a procedural noise texture.
///
/// ```swift
/// let texture = TextureBlend.noiseTexture(width: 256, height: 256, channels: 3, seed: 9)
/// let out = TextureBlend.blend(image: good, texture: texture, mask: mask, beta: 0.3)
/// ```
public enum TextureBlend {
    /// The blend above; `mask` is 1 channel, > 127 = inside; `texture` has `image`'s size and channels.
    public static func blend(image: Image, texture: Image, mask: Image, beta: Double) -> Image {
        let C = image.channels
        var pixels = image.pixels
        let b = Float(beta)
        for i in 0..<(image.width * image.height) where mask.pixels[i] > 127 {
            for c in 0..<C {
                let v = b * Float(image.pixels[i * C + c]) + (1 - b) * Float(texture.pixels[i * C + c])
                pixels[i * C + c] = UInt8(min(max(v.rounded(), 0), 255))
            }
        }
        return Image(width: image.width, height: image.height, channels: C, pixels: pixels)
    }

    /// `source` resized (bilinear) to `width` x `height`, optionally flipped, then moved by (`shiftX`, `shiftY`) with
    /// wrap-around: a patch of the source at another place than the defect.
    public static func patchTexture(from source: Image, width: Int, height: Int, shiftX: Int, shiftY: Int,
                                    flipHorizontal: Bool, flipVertical: Bool) -> Image {
        let r = source.resized(width: width, height: height)
        let C = r.channels
        var pixels = [UInt8](repeating: 0, count: width * height * C)
        for y in 0..<height {
            var sy = ((y - shiftY) % height + height) % height
            if flipVertical { sy = height - 1 - sy }
            for x in 0..<width {
                var sx = ((x - shiftX) % width + width) % width
                if flipHorizontal { sx = width - 1 - sx }
                for c in 0..<C { pixels[(y * width + x) * C + c] = r.pixels[(sy * width + sx) * C + c] }
            }
        }
        return Image(width: width, height: height, channels: C, pixels: pixels)
    }

    /// A procedural texture for `seed`: fractal Perlin noise (lattice 2^2...2^4 cells, 4 octaves) shared by the
    /// channels, mapped around a random colour with a random amplitude, plus a weaker noise per channel.
    public static func noiseTexture(width: Int, height: Int, channels: Int, seed: UInt64) -> Image {
        var rng = SplitMix64(seed: seed)
        let cells = 1 << rng.int(2...4)
        let structure = PerlinNoise.fractal(width: width, height: height, cellsX: cells, cellsY: cells, octaves: 4, rng: &rng)
        let amplitude = Float(rng.uniform(60...200))
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        for c in 0..<channels {
            let base = Float(rng.uniform(30...225))
            let tint = PerlinNoise.fractal(width: width, height: height, cellsX: 2 * cells, cellsY: 2 * cells, octaves: 2, rng: &rng)
            for i in 0..<(width * height) {
                let v = base + amplitude * structure[i] + 0.3 * amplitude * tint[i]
                pixels[i * channels + c] = UInt8(min(max(v.rounded(), 0), 255))
            }
        }
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }
}
