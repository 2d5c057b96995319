// Findings of the libFuzzer targets in Fuzz/ (bench/FUZZ.md, "Findings"): each trapped, hung or ran out of memory
// on main at b555165; the inputs are in bench/fuzz/regressions/.
import Foundation
import Testing
@testable import ImageIO

@Suite struct ImageIOFuzzFindingsTests {
    static let regressions = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bench/fuzz/regressions/FuzzImageDecode")

    /// The model's first transform (FeatureExtractor.prepare, default config): Resize(256) + CenterCrop(224),
    /// through the limit-checked transforms.
    func preprocess(_ image: Image, file: String) throws -> Image {
        try image.resized(shorterSide: 256, file: file).centerCropped(width: 224, height: 224, file: file)
    }

    /// A 206-byte PNG of 1 x 65,535 pixels is within the decode limits, but Resize(256) asks for
    /// 256 x 16,776,960 pixels (4.3 G, 12.9 GB RGB): PILResampleCoefficients ran > 10 s and toward the RSS limit.
    /// The transform must refuse it, naming the file and the size, before allocating.
    @Test func resizeOfATallStripBeyondTheSideLimitIsRefused() throws {
        let file = "strip.png"
        let data = try Data(contentsOf: Self.regressions.appendingPathComponent("hand-png-1x65535-resize-256.png"))
        let image = try ImageFile.decode(data, file: file)
        #expect(image.width == 1 && image.height == 65_535)
        do {
            let out = try preprocess(image, file: file)
            Issue.record("transformed to \(out.width)x\(out.height)")
        } catch {
            #expect("\(error)".contains(file) && "\(error)".contains("16776960"), "\(error)")
        }
    }
}
