import Foundation
import Datasets
import ImageIO

/// A small generated data set (demo textures with defects and exact masks) in a temporary folder.
struct DemoFolder {
    let root: URL
    let dataset: Dataset

    init(size: Int = 64, train: Int = 4, testDefects: Int = 3, seed: UInt64 = 5) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("synth-\(UUID().uuidString)")
        dataset = try DemoDataset.generate(at: root.appendingPathComponent("data"), seed: seed, trainCount: train,
                                           testGoodCount: 0, testDefectCount: testDefects, size: size)
    }

    var goodImages: [URL] { dataset.train.map(\.image) }
    var defects: [Sample] { dataset.samples.filter { $0.label == .defect } }

    func folder(_ name: String) throws -> URL {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

/// Pixels (index into width * height) where two same-sized images differ in any channel.
func changedPixels(_ a: Image, _ b: Image) -> Set<Int> {
    var out = Set<Int>()
    let c = a.channels
    for i in 0..<(a.width * a.height) where (0..<c).contains(where: { a.pixels[i * c + $0] != b.pixels[i * c + $0] }) {
        out.insert(i)
    }
    return out
}

func foreground(_ mask: Image) -> Set<Int> {
    Set(mask.pixels.indices.filter { mask.pixels[$0] > 127 })
}
