import Foundation
import ImageIO

/// KolektorSDD2 folder:
/// ```
/// ksdd2/train/10000.png + ksdd2/train/10000_GT.png
/// ksdd2/test/20000.png  + ksdd2/test/20000_GT.png
/// ```
/// A sample is defective iff its GT mask has a non-zero pixel, so every GT is decoded once while loading
/// (KSDD2 masks are small; ~3,300 decodes). Good samples get `mask = nil`, defective ones the GT file;
/// `defectType` is `"defect"` or `"good"`.
enum KolektorSDD2Layout {
    static func isGT(_ url: URL) -> Bool { url.deletingPathExtension().lastPathComponent.hasSuffix("_GT") }

    static func matches(_ root: URL) -> Bool {
        let train = root.appendingPathComponent("train"), test = root.appendingPathComponent("test")
        guard FileListing.isDirectory(train), FileListing.isDirectory(test),
              let files = try? FileListing.images(in: train) else { return false }
        return files.contains(where: isGT)
    }

    /// - Parameter maskHasDefect: decides the label from a GT file; defaults to decoding it with `ImageFile.read`.
    static func load(_ root: URL, maskHasDefect: (URL) throws -> Bool = KolektorSDD2Layout.decodeHasDefect) throws -> Dataset {
        var samples: [Sample] = []
        for split in [Split.train, .test] {
            let dir = root.appendingPathComponent(split.rawValue)
            for url in try FileListing.images(in: dir) where !isGT(url) {
                let stem = url.deletingPathExtension().lastPathComponent
                let gt = dir.appendingPathComponent("\(stem)_GT.png")
                guard FileListing.exists(gt) else {
                    throw DatasetError.missingFile(file: gt.path, referencedBy: "image \(url.path)")
                }
                let defect = try maskHasDefect(gt)
                samples.append(Sample(image: url, mask: defect ? gt : nil, label: defect ? .defect : .good,
                                      split: split, defectType: defect ? "defect" : "good"))
            }
        }
        if !samples.contains(where: { $0.split == .train && $0.label == .good }) {
            throw DatasetError.emptyTrainingSet(path: root.appendingPathComponent("train").path)
        }
        return Dataset(name: root.lastPathComponent, root: root, layout: .kolektorSDD2, samples: samples)
    }

    static func decodeHasDefect(_ gt: URL) throws -> Bool {
        try ImageFile.read(gt).pixels.contains { $0 != 0 }
    }
}
