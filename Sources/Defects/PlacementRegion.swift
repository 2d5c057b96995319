import Foundation
import ImageIO
import TensorCore

/// Where synthetic defects may go: the part, not the background around it. A sample of the classical generator
/// whose defect lies less than `minInside` inside the region is drawn again (another seed derived from its own), so
/// defects land on the part; the recorded plan is the accepted one, so a sample still regenerates from its record.
///
/// ```swift
/// let region = try PlacementRegion.estimate(goodImages: goods)   // nil when the part fills the frame
/// let generator = try ClassicalDefectGenerator(goodImages: goods, placement: region)
/// ```
public struct PlacementRegion: Sendable {
    /// Binary (0 / 255), one channel, at the size it was made at; compared with masks of other sizes by nearest lookup.
    public let mask: Image
    /// Where it came from, for messages and records.
    public let source: String
    /// Share of a sample's defect pixels that must lie in the region.
    public var minInside: Double = 0.9
    /// Draws tried per sample before giving up with an error.
    public static let maxDraws = 64

    public init(mask: Image, source: String) {
        self.mask = mask.channels == 1 ? mask : mask.toGray()
        self.source = source
    }

    /// A mask file (white = where defects may go).
    public static func read(_ url: URL) throws -> PlacementRegion {
        let image: Image
        do { image = try ImageFile.read(url) } catch { throw DefectSynthesisError.unreadable(file: url.path, reason: "\(error)") }
        let region = PlacementRegion(mask: image, source: url.path)
        guard region.mask.pixels.contains(where: { $0 > 127 }) else {
            throw DefectSynthesisError.invalidArgument("\(url.path): the placement region is empty (no pixel above 127)")
        }
        return region
    }

    /// The foreground of the good images: their mean (grey) minus the background, taken as the pixels close to the
    /// border's median level that connect to the border. Nil when the images differ in size, when the border is not
    /// plain (its middle half spans more than `tolerance` levels) or the foreground is under 2 % or over 98 % of the
    /// frame (a texture that fills it: defects may go anywhere).
    public static func estimate(goodImages: [URL], maxImages: Int = 16, tolerance: Double = 24) throws -> PlacementRegion? {
        guard let first = goodImages.first else { throw DefectSynthesisError.noGoodImages(source: "placement region") }
        let base = try ClassicalDefectGenerator.load(first).toGray()
        let w = base.width, h = base.height
        let used = Array(goodImages.prefix(maxImages))
        var sum = [Double](repeating: 0, count: w * h)
        for url in used {
            let image = try ClassicalDefectGenerator.load(url).toGray()
            // Frames of different sizes do not show the part at one place: no common region.
            guard image.width == w, image.height == h else { return nil }
            for i in 0..<(w * h) { sum[i] += Double(image.pixels[i]) }
        }
        let mean = sum.map { $0 / Double(used.count) }
        var border: [Double] = []
        for x in 0..<w { border.append(mean[x]); border.append(mean[(h - 1) * w + x]) }
        for y in 0..<h { border.append(mean[y * w]); border.append(mean[y * w + w - 1]) }
        border.sort()
        let background = border[border.count / 2]
        // No plain background around the part (a texture, or a part cut by the frame): no region to estimate.
        guard border[3 * border.count / 4] - border[border.count / 4] <= tolerance else { return nil }
        let near = mean.map { abs($0 - background) <= tolerance ? UInt8(1) : 0 }
        let (labels, _) = connectedComponents(mask: near, width: w, height: h, connectivity: .four)
        var touching = Set<Int32>()
        for x in 0..<w { touching.insert(labels[x]); touching.insert(labels[(h - 1) * w + x]) }
        for y in 0..<h { touching.insert(labels[y * w]); touching.insert(labels[y * w + w - 1]) }
        touching.remove(0)
        let pixels = labels.map { touching.contains($0) ? UInt8(0) : 255 }
        let share = Double(pixels.filter { $0 != 0 }.count) / Double(w * h)
        guard share >= 0.02, share <= 0.98 else { return nil }
        return PlacementRegion(mask: Image(width: w, height: h, channels: 1, pixels: pixels),
                               source: "the foreground of \(used.count) good image(s) (estimated)")
    }

    /// Whether at least `minInside` of `defect`'s pixels (> 127) lie in the region; an empty mask does not.
    public func contains(_ defect: Image) -> Bool {
        let dw = defect.width, dh = defect.height, rw = mask.width, rh = mask.height
        var total = 0, inside = 0
        for y in 0..<dh {
            let ry = min(rh - 1, y * rh / dh)
            for x in 0..<dw where defect.pixels[(y * dw + x) * defect.channels] > 127 {
                total += 1
                if mask.pixels[ry * rw + min(rw - 1, x * rw / dw)] > 127 { inside += 1 }
            }
        }
        return total > 0 && Double(inside) >= minInside * Double(total)
    }
}
