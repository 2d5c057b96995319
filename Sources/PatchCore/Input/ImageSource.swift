import Foundation
import ImageIO

/// Where an image comes from: a file, encoded PNG/JPEG bytes (an upload, a camera frame), bytes read only when the
/// image is needed (a blob store, a database: a large training set is then never in memory at once), or pixels
/// already decoded. Fitting, scoring and evaluation take any of them.
///
/// ```swift
/// let a = ImageSource.file(URL(fileURLWithPath: "part.png"))
/// let b = ImageSource.encoded(body, name: "camera-3/frame-1822")
/// let c = ImageSource.decoded(image, name: "in-memory")
/// let d = ImageSource.deferred(name: "dataset item 17") { try blobs.get(blobName) }
/// ```
public enum ImageSource: Sendable, CustomStringConvertible {
    case file(URL)
    case encoded(Data, name: String)
    case decoded(Image, name: String)
    /// Encoded bytes that `read` returns each time the image is loaded.
    case deferred(name: String, read: @Sendable () throws -> Data)

    /// The name errors and results use: the file's path, or the given name.
    public var name: String {
        switch self {
        case let .file(url): return url.path
        case let .encoded(_, name), let .decoded(_, name), let .deferred(name, _): return name
        }
    }

    public var description: String { name }

    /// The file, when the source is one.
    public var fileURL: URL? { if case let .file(url) = self { return url } else { return nil } }

    /// Decodes the image (errors name `name`).
    public func load() throws -> Image {
        switch self {
        case let .file(url): return try ImageFile.read(url)
        case let .encoded(data, name): return try ImageFile.decode(data, file: name)
        case let .decoded(image, _): return image
        case let .deferred(name, read): return try ImageFile.decode(try read(), file: name)
        }
    }

    /// File sources for a list of URLs.
    public static func files(_ urls: [URL]) -> [ImageSource] { urls.map { .file($0) } }
}

/// A test image with its label, defect type and (optionally) ground-truth mask, from files or memory: what
/// evaluation reads. A data set's `Sample` converts with `LabelledImage(sample)`.
///
/// ```swift
/// let item = LabelledImage(image: .encoded(png, name: "lot-7/17"), mask: nil, label: .good)
/// let run = try PatchCoreEvaluator.evaluate(scorer: scorer, images: [item], fitSeconds: 0)
/// ```
public struct LabelledImage: Sendable {
    public var image: ImageSource
    /// Ground truth, > 127 = defect, the image's size.
    public var mask: ImageSource?
    public var label: Label
    public var defectType: String

    public init(image: ImageSource, mask: ImageSource? = nil, label: Label, defectType: String? = nil) {
        self.image = image; self.mask = mask; self.label = label
        self.defectType = defectType ?? (label == .good ? "good" : "defect")
    }

    public init(_ sample: Sample) {
        self.init(image: .file(sample.image), mask: sample.mask.map { .file($0) }, label: sample.label, defectType: sample.defectType)
    }
}
