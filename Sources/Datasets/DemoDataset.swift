import Foundation
import ImageIO
import TensorCore

/// A small synthetic industrial-inspection data set: textured surfaces, some with scratches, spots or cracks,
/// with exact binary masks, written in MVTec AD layout so `DatasetLoader.load` reads it back.
///
/// Layout written under `root`:
/// ```
/// train/good/000.png ...            trainCount good images
/// test/good/000.png ...             testGoodCount good images
/// test/<scratch|spot|crack>/000.png testDefectCount defective images, types in rotation
/// ground_truth/<type>/000_mask.png  1-channel 0/255 masks
/// ```
/// Deterministic for a seed: image k of a split depends only on (seed, split, k, texture, size).
///
/// ```swift
/// let ds = try DemoDataset.generate(at: URL(fileURLWithPath: "/tmp/demo"), seed: 7)
/// print(ds.summary)   // demo (mvtec_ad): 40 train good, 10 test good, 15 test defect
/// ```
public enum DemoDataset {
    /// One generated image: RGB (size x size) and, for defects, its 1-channel 0/255 mask.
    public struct Item: Sendable, Equatable {
        public var image: Image
        public var mask: Image?
        public var defect: DemoDefect?
    }

    /// Renders one image in memory (no files). `stream` distinguishes images: use different values
    /// for every image of a data set.
    ///
    /// ```swift
    /// let item = DemoDataset.render(seed: 1, stream: 3, texture: .woven, defect: .crack, size: 224)
    /// ```
    public static func render(seed: UInt64, stream: UInt64, texture: DemoTexture, defect: DemoDefect?, size: Int) -> Item {
        var rng = SeededRandom(seed: seed, stream: stream)
        var gray = texture.render(size: size, rng: &rng)
        var maskImage: Image? = nil
        if let defect {
            let mask = defect.mask(size: size, rng: &rng)
            defect.apply(to: &gray, mask: mask, rng: &rng)
            maskImage = Image(width: size, height: size, channels: 1, pixels: mask)
        }
        let (tr, tg, tb) = texture.tint
        var rgb = [UInt8](repeating: 0, count: size * size * 3)
        for i in 0..<(size * size) {
            let v = gray[i]
            rgb[3 * i] = quantize(v * tr)
            rgb[3 * i + 1] = quantize(v * tg)
            rgb[3 * i + 2] = quantize(v * tb)
        }
        return Item(image: Image(width: size, height: size, channels: 3, pixels: rgb), mask: maskImage, defect: defect)
    }

    @inline(__always)
    static func quantize(_ v: Double) -> UInt8 { UInt8(max(0, min(255, (v * 255).rounded()))) }

    /// Writes a demo data set under `root` (created if needed; existing files with the same names are
    /// overwritten) and returns it as loaded samples.
    /// - Parameters:
    ///   - texture: surface kind; every image of the data set shares it, like one MVTec AD category.
    /// - Throws: `DatasetError.invalidArgument` for counts < 0, no training images or `size` < 32;
    ///   `ImageError` / `DatasetError.io` when writing fails.
    @discardableResult
    public static func generate(at root: URL, seed: UInt64 = 0, trainCount: Int = 40, testGoodCount: Int = 10,
                                testDefectCount: Int = 15, size: Int = 224,
                                texture: DemoTexture = .brushedMetal) throws -> Dataset {
        guard trainCount > 0, testGoodCount >= 0, testDefectCount >= 0 else {
            throw DatasetError.invalidArgument("demo data set: trainCount (\(trainCount)) must be > 0, test counts (\(testGoodCount), \(testDefectCount)) >= 0")
        }
        guard size >= 32 && size <= 4096 else {
            throw DatasetError.invalidArgument("demo data set: size \(size) must be in 32...4096")
        }
        let fm = FileManager.default
        func dir(_ rel: String) throws -> URL {
            let u = root.appendingPathComponent(rel)
            do { try fm.createDirectory(at: u, withIntermediateDirectories: true) } catch {
                throw DatasetError.io(path: u.path, reason: "cannot create folder: \(SystemErrorText.reason(error))")
            }
            return u
        }
        func name(_ k: Int) -> String { String(format: "%03d", k) }
        var samples: [Sample] = []
        // streams: train k -> k, test good k -> 1_000_000 + k, test defect k -> 2_000_000 + k
        let trainDir = try dir("train/good")
        for k in 0..<trainCount {
            let url = trainDir.appendingPathComponent(name(k) + ".png")
            try ImageFile.writePNG(render(seed: seed, stream: UInt64(k), texture: texture, defect: nil, size: size).image, to: url)
            samples.append(Sample(image: url, mask: nil, label: .good, split: .train, defectType: "good"))
        }
        let goodDir = try dir("test/good")
        for k in 0..<testGoodCount {
            let url = goodDir.appendingPathComponent(name(k) + ".png")
            try ImageFile.writePNG(render(seed: seed, stream: 1_000_000 + UInt64(k), texture: texture, defect: nil, size: size).image, to: url)
            samples.append(Sample(image: url, mask: nil, label: .good, split: .test, defectType: "good"))
        }
        var perType: [DemoDefect: Int] = [:]
        var defectSamples: [Sample] = []
        for k in 0..<testDefectCount {
            let defect = DemoDefect.allCases[k % DemoDefect.allCases.count]
            let index = perType[defect, default: 0]
            perType[defect] = index + 1
            let item = render(seed: seed, stream: 2_000_000 + UInt64(k), texture: texture, defect: defect, size: size)
            let url = try dir("test/\(defect.rawValue)").appendingPathComponent(name(index) + ".png")
            let maskURL = try dir("ground_truth/\(defect.rawValue)").appendingPathComponent(name(index) + "_mask.png")
            try ImageFile.writePNG(item.image, to: url)
            try ImageFile.writePNG(item.mask!, to: maskURL)
            defectSamples.append(Sample(image: url, mask: maskURL, label: .defect, split: .test, defectType: defect.rawValue))
        }
        // same order as MVTecADLayout.load: good, then defect types by name, then file name
        samples += defectSamples.sorted { ($0.defectType, $0.image.lastPathComponent) < ($1.defectType, $1.image.lastPathComponent) }
        return Dataset(name: root.lastPathComponent, root: root, layout: .mvtecAD, samples: samples)
    }
}
