import ImageIO
import TensorCore

/// Settings of procedural Perlin masks; they travel in each sample's manifest record.
public struct PerlinMaskOptions: Sendable, Codable, Equatable {
    /// Accepted blob area as a fraction of the image, `minAreaFraction <= area / (W * H) <= maxAreaFraction`.
    public var minAreaFraction: Double
    public var maxAreaFraction: Double
    /// Lattice cells per axis are 2^k with k drawn from `1...maxCellsLog2` independently for x and y (DRAEM: 2^0...2^5;
    /// one cell gives blobs as large as the image, so the smallest here is two).
    public var maxCellsLog2: Int
    /// Octaves of the noise (DRAEM uses one).
    public var octaves: Int

    public init(minAreaFraction: Double = 0.005, maxAreaFraction: Double = 0.08, maxCellsLog2: Int = 4, octaves: Int = 1) {
        self.minAreaFraction = minAreaFraction; self.maxAreaFraction = maxAreaFraction
        self.maxCellsLog2 = maxCellsLog2; self.octaves = octaves
    }

    public func validate() throws {
        guard minAreaFraction > 0, minAreaFraction <= maxAreaFraction, maxAreaFraction <= 1 else {
            throw DefectSynthesisError.invalidArgument(
                "Perlin mask area fractions must satisfy 0 < min (\(minAreaFraction)) <= max (\(maxAreaFraction)) <= 1")
        }
        guard (1...8).contains(maxCellsLog2), (1...6).contains(octaves) else {
            throw DefectSynthesisError.invalidArgument(
                "Perlin mask maxCellsLog2 (\(maxCellsLog2)) must be in 1...8 and octaves (\(octaves)) in 1...6")
        }
    }
}

/// A procedural defect mask: one connected blob of thresholded Perlin noise (DRAEM-style), never empty.
///
/// Algorithm, per attempt (at most `attempts`): draw lattice sizes and a target area fraction f in
/// [minAreaFraction, maxAreaFraction]; render the noise; keep the f * W * H highest pixels (a quantile threshold,
/// so the kept area does not depend on the noise's amplitude); keep the largest 8-connected component. Accept it
/// when its area is at least `minAreaFraction` (it cannot exceed f). If no attempt succeeds, the last attempt's whole
/// thresholded set (area f, several blobs) is returned, so the area bounds always hold.
///
/// ```swift
/// let mask = PerlinMask.draw(width: 256, height: 256, seed: 42)   // 1 channel, 0/255
/// ```
public enum PerlinMask {
    public static let attempts = 8

    /// The mask for `seed` (same seed, size and options -> same bytes).
    public static func draw(width: Int, height: Int, seed: UInt64, options: PerlinMaskOptions = .init()) -> Image {
        var rng = SplitMix64(seed: seed)
        let n = width * height
        guard n > 0 else { return Image(width: max(0, width), height: max(0, height), channels: 1, pixels: []) }
        let minArea = max(1, Int((options.minAreaFraction * Double(n)).rounded(.up)))
        var thresholded = Image(width: width, height: height, channels: 1, pixels: [UInt8](repeating: 0, count: n))
        for _ in 0..<attempts {
            let cellsX = 1 << rng.int(1...max(1, options.maxCellsLog2))
            let cellsY = 1 << rng.int(1...max(1, options.maxCellsLog2))
            let fraction = rng.uniform(options.minAreaFraction...options.maxAreaFraction)
            let noise = PerlinNoise.fractal(width: width, height: height, cellsX: cellsX, cellsY: cellsY,
                                            octaves: options.octaves, rng: &rng)
            let keep = min(n, max(minArea, Int((fraction * Double(n)).rounded())))
            let threshold = noise.sorted(by: >)[keep - 1]
            var pixels = [UInt8](repeating: 0, count: n)
            var kept = 0
            for i in 0..<n where noise[i] >= threshold && kept < keep {
                pixels[i] = 255
                kept += 1
            }
            thresholded = Image(width: width, height: height, channels: 1, pixels: pixels)
            let map = DefectRegionMap(mask: thresholded)
            if let largest = map.regions.max(by: { $0.area < $1.area }), largest.area >= minArea {
                return map.mask(of: largest)
            }
        }
        return thresholded
    }
}
