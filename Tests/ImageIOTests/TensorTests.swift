import Foundation
import Testing
import TensorCore
@testable import ImageIO

@Suite("Image to tensor, masks, heatmaps")
struct TensorTests {
    @Test("Resize + CenterCrop + ToTensor + Normalize matches torchvision")
    func normalizeMatchesTorchvision() throws {
        let src = try Fixtures.image("resize_src_37x29x3.bin", width: 37, height: 29, channels: 3)
        let x = src.resized(shorterSide: 20).centerCropped(width: 17, height: 17).tensor()
        #expect(x.shape == [3, 17, 17])
        let data = try Data(contentsOf: Fixtures.url("tv_normalize_37x29_resize20_crop17.f32"))
        let expected = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let maxDiff = zip(x.scalars, expected).map { abs($0 - $1) }.max() ?? .infinity
        print("ToTensor+Normalize vs torchvision: max |diff| \(maxDiff)")
        #expect(expected.count == x.count && maxDiff <= 1e-6)
    }

    @Test func grayIsReplicatedAndBatchStacks() throws {
        let gray = Image(width: 2, height: 1, channels: 1, pixels: [0, 255])
        let t = gray.tensor(mean: [0.5], std: [0.5])
        #expect(t.shape == [3, 1, 2])
        #expect(t.scalars == [-1, 1, -1, 1, -1, 1])
        let rgb = Image(width: 2, height: 1, channels: 3, pixels: [255, 0, 51, 0, 255, 102])
        let b = try Image.batchTensor([gray, rgb], mean: [0, 0, 0], std: [1, 1, 1])
        #expect(b.shape == [2, 3, 1, 2])
        #expect(Array(b.scalars[6...]) == [1, 0, 0, 1, 0.2, 0.4])
        #expect(Array(b.scalars[..<6]) == gray.tensor(mean: [0], std: [1]).scalars)
    }

    @Test func batchOfMixedSizesThrows() {
        let a = Image(width: 2, height: 2, channels: 3, pixels: [UInt8](repeating: 0, count: 12))
        let b = Image(width: 3, height: 2, channels: 3, pixels: [UInt8](repeating: 0, count: 18))
        #expect(throws: ImageError.self) { try Image.batchTensor([a, b]) }
    }

    @Test func maskThresholds() {
        let m = Image(width: 4, height: 1, channels: 1, pixels: [0, 127, 128, 255])
        #expect(m.maskTensor().scalars == [0, 0, 1, 1])
        #expect(m.maskTensor().shape == [1, 4])
        #expect(m.maskTensor(threshold: 0).scalars == [0, 1, 1, 1])
        let rgb = Image(width: 1, height: 1, channels: 3, pixels: [255, 255, 255])
        #expect(rgb.maskTensor().scalars == [1])
    }

    @Test func grayFromTensor() throws {
        let t = Tensor(shape: [1, 2, 3], scalars: [-1, 0, 0.5, 1, 2, .nan])
        let g = try Image.gray(from: t, min: 0, max: 1)
        #expect(g.width == 3 && g.height == 2 && g.channels == 1)
        #expect(g.pixels == [0, 0, 128, 255, 255, 0])
        #expect(throws: ImageError.self) { try Image.gray(from: Tensor(zeros: [2, 2, 2])) }
    }

    @Test func jetFollowsMatplotlibSegments() {
        // Endpoints: dark blue (0, 0, 0.5) and dark red (0.5, 0, 0), bytes truncate 127.5 -> 127.
        #expect(Heatmap.jet(0) == (0, 0, 127))
        #expect(Heatmap.jet(1) == (127, 0, 0))
        #expect(Heatmap.jet(-3) == Heatmap.jet(0) && Heatmap.jet(7) == Heatmap.jet(1))
        // Middle entry 128 samples x = 128/255: red (x-0.35)/0.31, green 1, blue 1-(x-0.34)/0.31.
        let x = 128.0 / 255
        let mid = Heatmap.jet(0.5)
        #expect(mid.r == UInt8((x - 0.35) / 0.31 * 255) && mid.g == 255 && mid.b == UInt8((1 - (x - 0.34) / 0.31) * 255))
        // Blue falls, red rises monotonically over the table.
        let t = Heatmap.jetTable
        #expect(zip(t, t.dropFirst()).allSatisfy { $0.r <= $1.r || $1.r >= 127 })
        #expect(t.count == 256)
    }

    @Test func overlayBlendsAndWrites() throws {
        let img = Image(width: 2, height: 1, channels: 1, pixels: [100, 200])
        let map = Tensor(shape: [1, 2], scalars: [0, 10])
        let o = try Heatmap.overlay(map, on: img, min: 0, max: 10, alpha: 0.5)
        let lo = Heatmap.jet(0), hi = Heatmap.jet(1)
        func blend(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((0.5 * Float(a) + 0.5 * Float(b)).rounded()) }
        #expect(o.pixels == [blend(100, lo.r), blend(100, lo.g), blend(100, lo.b),
                             blend(200, hi.r), blend(200, hi.g), blend(200, hi.b)])
        #expect(try Heatmap.overlay(map, on: img, min: 0, max: 10, alpha: 0) == img.toRGB())
        #expect(throws: ImageError.self) { try Heatmap.overlay(Tensor(zeros: [2, 2]), on: img, min: 0, max: 1) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("overlay-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: url) }
        try Heatmap.writeOverlay(map, on: img, min: 0, max: 10, to: url)
        #expect(try ImageFile.read(url) == o)
    }
}

@Suite("ImageIO timings")
struct TimingTests {
    /// Decode a 900x900 RGB PNG (MVTec size) and Resize(256) + CenterCrop(224) + tensor; prints ms.
    @Test func decodeAndResize900() throws {
        let w = 900, h = 900
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<w { for c in 0..<3 { px[(y * w + x) * 3 + c] = UInt8((x * (c + 1) + y * 3 + (x * y) % 7) & 255) } } }
        let img = Image(width: w, height: h, channels: 3, pixels: px)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("big-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: url) }
        try ImageFile.writePNG(img, to: url)
        let clock = ContinuousClock()
        var decoded = img, resized = img
        var x = Tensor(zeros: [1])
        let runs = 5
        let tDecode = clock.measure { for _ in 0..<runs { decoded = try! ImageFile.read(url) } }
        let tResize = clock.measure { for _ in 0..<runs { resized = decoded.resized(shorterSide: 256) } }
        let tCrop = clock.measure { for _ in 0..<runs { x = resized.centerCropped(width: 224, height: 224).tensor() } }
        print("900x900 PNG decode \(tDecode / runs), Resize(256) \(tResize / runs), crop+tensor \(tCrop / runs)")
        #expect(decoded == img && resized.width == 256 && x.shape == [3, 224, 224])
    }
}
