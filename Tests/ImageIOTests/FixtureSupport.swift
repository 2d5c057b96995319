import Foundation
import TestSupport
@testable import ImageIO

/// Fixtures written by scripts/make_imageio_fixtures.py (PIL / torchvision outputs).
enum Fixtures {
    static let folder = FixtureFolder(bundle: .module)

    static func url(_ name: String) -> URL { folder.url(name) }

    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try folder.data(name)) }

    static func image(_ name: String, width: Int, height: Int, channels: Int) throws -> Image {
        Image(width: width, height: height, channels: channels, pixels: try bytes(name))
    }

    struct Decode: Codable { let file, expected: String; let width, height, channels, tolerance: Int; let note: String }
    struct Bad: Codable { let file, error: String }
    struct Resize: Codable { let source: String; let width, height, channels, out_width, out_height: Int; let expected: String }
    struct TV: Codable { let source: String; let width, height, channels, resize, crop, out_width, out_height: Int; let expected: String }
    struct Gray: Codable { let source: String; let width, height, channels: Int; let expected: String }
    struct Manifest: Codable {
        let decode: [Decode]; let bad: [Bad]; let resize: [Resize]; let nearest: [Resize]
        let gray: [Gray]; let torchvision: [TV]
    }

    static let manifest: Manifest = {
        let data = try! Data(contentsOf: url("manifest.json"))
        return try! JSONDecoder().decode(Manifest.self, from: data)
    }()

    /// Histogram of |a - b| (index = difference, capped at 255) and the max.
    static func diffHistogram(_ a: [UInt8], _ b: [UInt8]) -> (max: Int, histogram: [Int: Int]) {
        var hist: [Int: Int] = [:]
        var m = 0
        for (x, y) in zip(a, b) {
            let d = abs(Int(x) - Int(y))
            hist[d, default: 0] += 1
            m = max(m, d)
        }
        return (m, hist)
    }
}
