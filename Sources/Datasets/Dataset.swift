import Foundation

/// Ground truth of one image: defect-free or defective.
public enum Label: String, Sendable, Codable, CaseIterable {
    case good
    case defect
}

/// Which part of a data set an image belongs to.
public enum Split: String, Sendable, Codable, CaseIterable {
    case train
    case test
}

/// One image of a data set with its ground truth.
///
/// ```swift
/// let s = Sample(image: url, mask: maskURL, label: .defect, split: .test, defectType: "scratch")
/// ```
public struct Sample: Sendable, Codable, Equatable, Hashable {
    /// The image file (PNG or JPEG).
    public var image: URL
    /// Binary defect mask (non-zero = defect), same size as the image; `nil` when none exists
    /// (good MVTec AD test images, good KolektorSDD2 images, empty CSV `mask` cells).
    public var mask: URL?
    public var label: Label
    public var split: Split
    /// Defect category (`"good"` for good images), e.g. the MVTec AD test sub-folder name.
    public var defectType: String

    public init(image: URL, mask: URL?, label: Label, split: Split, defectType: String) {
        self.image = image; self.mask = mask; self.label = label; self.split = split; self.defectType = defectType
    }

    enum CodingKeys: String, CodingKey {
        case image, mask, label, split
        case defectType = "defect_type"
    }
}

/// The on-disk layout a data set was read from.
public enum DatasetLayout: String, Sendable, Codable, CaseIterable {
    /// `train/good/*.png`, `test/<type>/*.png`, `ground_truth/<type>/<name>_mask.png`.
    case mvtecAD = "mvtec_ad"
    /// `train/` and `test/` holding `NNNNN.png` with `NNNNN_GT.png`.
    case kolektorSDD2 = "kolektor_sdd2"
    /// A CSV with columns `image,mask,label,split[,defect_type]`.
    case csvManifest = "csv_manifest"
}

/// A labelled anomaly-detection data set: every image with its label, split and mask.
///
/// ```swift
/// let ds = try DatasetLoader.load(URL(fileURLWithPath: "datasets/mvtec_ad/bottle"))
/// print(ds.train.count, ds.test.count, ds.defectTypes)   // 209 83 ["broken_large", ...]
/// ```
public struct Dataset: Sendable, Equatable {
    public var name: String
    /// The folder (or CSV file) the data set was loaded from.
    public var root: URL
    public var layout: DatasetLayout
    /// All samples in a stable order (train before test, then by defect type and file name).
    public var samples: [Sample]

    public init(name: String, root: URL, layout: DatasetLayout, samples: [Sample]) {
        self.name = name; self.root = root; self.layout = layout; self.samples = samples
    }

    /// The images a model is fitted on: `split == .train` and `label == .good`
    /// (KolektorSDD2 and some CSV manifests also hold defective training images; they are left out here).
    public var train: [Sample] { samples.filter { $0.split == .train && $0.label == .good } }
    /// Every test image, good and defective.
    public var test: [Sample] { samples.filter { $0.split == .test } }
    /// Sorted defect types of the test images, without `"good"`.
    public var defectTypes: [String] {
        Array(Set(test.filter { $0.label == .defect }.map(\.defectType))).sorted()
    }
    /// Counts per split and label, e.g. for logs.
    public var summary: String {
        let tr = train.count, tg = test.filter { $0.label == .good }.count, td = test.count - tg
        return "\(name) (\(layout.rawValue)): \(tr) train good, \(tg) test good, \(td) test defect"
    }
}
