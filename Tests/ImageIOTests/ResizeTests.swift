import Foundation
import Testing
@testable import ImageIO

@Suite("Resizing and cropping like PIL / torchvision")
struct ResizeTests {
    @Test("bilinear resize matches PIL BILINEAR", arguments: Fixtures.manifest.resize.map(\.expected))
    func bilinearMatchesPIL(_ expectedName: String) throws {
        let e = try #require(Fixtures.manifest.resize.first { $0.expected == expectedName })
        let src = try Fixtures.image(e.source, width: e.width, height: e.height, channels: e.channels)
        let out = src.resized(width: e.out_width, height: e.out_height)
        let expected = try Fixtures.bytes(e.expected)
        #expect(out.width == e.out_width && out.height == e.out_height)
        let (m, hist) = Fixtures.diffHistogram(out.pixels, expected)
        print("resize \(e.width)x\(e.height)x\(e.channels) -> \(e.out_width)x\(e.out_height): max |diff| \(m), histogram \(hist.sorted { $0.key < $1.key })")
        #expect(m <= 1)
        // The fast path equals the plain reference exactly.
        #expect(out == src.resizedReference(width: e.out_width, height: e.out_height))
    }

    @Test("nearest resize matches PIL NEAREST", arguments: Fixtures.manifest.nearest.map(\.expected))
    func nearestMatchesPIL(_ expectedName: String) throws {
        let e = try #require(Fixtures.manifest.nearest.first { $0.expected == expectedName })
        let src = try Fixtures.image(e.source, width: e.width, height: e.height, channels: 1)
        let out = src.resizedNearest(width: e.out_width, height: e.out_height)
        let (m, _) = Fixtures.diffHistogram(out.pixels, try Fixtures.bytes(e.expected))
        print("nearest \(e.width)x\(e.height) -> \(e.out_width)x\(e.out_height): max |diff| \(m)")
        #expect(m == 0)
    }

    @Test("torchvision Resize(S) + CenterCrop(C) on PIL", arguments: Fixtures.manifest.torchvision.map(\.expected))
    func torchvisionResizeCrop(_ expectedName: String) throws {
        let e = try #require(Fixtures.manifest.torchvision.first { $0.expected == expectedName })
        let src = try Fixtures.image(e.source, width: e.width, height: e.height, channels: e.channels)
        let out = src.resized(shorterSide: e.resize).centerCropped(width: e.crop, height: e.crop)
        #expect(out.width == e.out_width && out.height == e.out_height)
        let (m, hist) = Fixtures.diffHistogram(out.pixels, try Fixtures.bytes(e.expected))
        print("torchvision \(e.width)x\(e.height) Resize(\(e.resize)) CenterCrop(\(e.crop)): max |diff| \(m), histogram \(hist.sorted { $0.key < $1.key })")
        #expect(m <= 1)
    }

    @Test func grayMatchesPILConvertL() throws {
        let e = try #require(Fixtures.manifest.gray.first)
        let src = try Fixtures.image(e.source, width: e.width, height: e.height, channels: e.channels)
        let (m, _) = Fixtures.diffHistogram(src.toGray().pixels, try Fixtures.bytes(e.expected))
        print("convert('L'): max |diff| \(m)")
        #expect(m == 0)
    }

    @Test func resizeGeometryIsTorchvisions() {
        // _compute_resized_output_size: shorter side to S, longer int(S * long / short).
        #expect(Image.resizedSize(width: 900, height: 900, shorterSide: 256) == (256, 256))
        #expect(Image.resizedSize(width: 1024, height: 768, shorterSide: 256) == (341, 256))
        #expect(Image.resizedSize(width: 300, height: 1000, shorterSide: 224) == (224, 746))
        // CenterCrop offsets: int(round((size - crop) / 2)), banker's rounding on .5.
        #expect(Image.centerCropOrigin(width: 257, height: 259, cropWidth: 224, cropHeight: 224) == (16, 18))
        #expect(Image.centerCropOrigin(width: 256, height: 256, cropWidth: 224, cropHeight: 224) == (16, 16))
        #expect(Image.centerCropOrigin(width: 10, height: 10, cropWidth: 13, cropHeight: 14) == (-1, -2))
    }

    @Test("fast bilinear path equals the reference on random sizes")
    func fastEqualsReference() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<40 {
            let w = Int.random(in: 1...40, using: &rng), h = Int.random(in: 1...40, using: &rng)
            let c = [1, 3, 4].randomElement(using: &rng)!
            let img = Image(width: w, height: h, channels: c,
                            pixels: (0..<(w * h * c)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            let ow = Int.random(in: 1...60, using: &rng), oh = Int.random(in: 1...60, using: &rng)
            #expect(img.resized(width: ow, height: oh) == img.resizedReference(width: ow, height: oh),
                    "\(w)x\(h)x\(c) -> \(ow)x\(oh)")
        }
    }

    @Test func constantImageStaysConstant() {
        let img = Image(width: 31, height: 17, channels: 3, pixels: [UInt8](repeating: 201, count: 31 * 17 * 3))
        for (w, h) in [(7, 5), (64, 40), (31, 3), (1, 1)] {
            #expect(img.resized(width: w, height: h).pixels.allSatisfy { $0 == 201 })
        }
    }

    @Test func toRGBReplicatesAndDropsAlpha() {
        let gray = Image(width: 2, height: 1, channels: 1, pixels: [10, 250])
        #expect(gray.toRGB().pixels == [10, 10, 10, 250, 250, 250])
        let rgba = Image(width: 1, height: 1, channels: 4, pixels: [1, 2, 3, 0])
        #expect(rgba.toRGB().pixels == [1, 2, 3])
        #expect(gray.toRGB().toGray() == gray)
    }
}
