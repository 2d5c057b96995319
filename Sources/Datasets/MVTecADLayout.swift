import Foundation

/// MVTec AD category folder:
/// ```
/// bottle/train/good/000.png
/// bottle/test/good/000.png
/// bottle/test/broken_large/000.png   + bottle/ground_truth/broken_large/000_mask.png
/// ```
/// Good test images have no mask; every defective test image must have one.
enum MVTecADLayout {
    static func matches(_ root: URL) -> Bool {
        FileListing.isDirectory(root.appendingPathComponent("train/good")) && FileListing.isDirectory(root.appendingPathComponent("test"))
    }

    static func load(_ root: URL) throws -> Dataset {
        var samples: [Sample] = []
        let trainDir = root.appendingPathComponent("train/good")
        for url in try FileListing.images(in: trainDir) {
            samples.append(Sample(image: url, mask: nil, label: .good, split: .train, defectType: "good"))
        }
        if samples.isEmpty { throw DatasetError.emptyTrainingSet(path: trainDir.path) }
        let testDir = root.appendingPathComponent("test")
        let types = try FileListing.subfolders(of: testDir)
        // "good" first, then defect types by name
        for typeDir in types.sorted(by: { ($0.lastPathComponent == "good" ? 0 : 1, $0.lastPathComponent) < ($1.lastPathComponent == "good" ? 0 : 1, $1.lastPathComponent) }) {
            let type = typeDir.lastPathComponent
            for url in try FileListing.images(in: typeDir) {
                if type == "good" {
                    samples.append(Sample(image: url, mask: nil, label: .good, split: .test, defectType: "good"))
                    continue
                }
                let stem = url.deletingPathExtension().lastPathComponent
                let mask = root.appendingPathComponent("ground_truth/\(type)/\(stem)_mask.png")
                guard FileListing.exists(mask) else {
                    throw DatasetError.missingFile(file: mask.path, referencedBy: "test image \(url.path)")
                }
                samples.append(Sample(image: url, mask: mask, label: .defect, split: .test, defectType: type))
            }
        }
        return Dataset(name: root.lastPathComponent, root: root, layout: .mvtecAD, samples: samples)
    }
}
