import Testing
import ImageIO
@testable import Defects

@Suite struct DefectRegionsTests {
    /// Draws filled rectangles into a 0/255 mask.
    func mask(width: Int, height: Int, boxes: [PixelBox]) -> Image {
        var px = [UInt8](repeating: 0, count: width * height)
        for b in boxes { for y in b.y0..<b.y1 { for x in b.x0..<b.x1 { px[y * width + x] = 255 } } }
        return Image(width: width, height: height, channels: 1, pixels: px)
    }

    @Test func separateRectanglesAreSeparateRegions() {
        let boxes = [PixelBox(x0: 1, y0: 1, x1: 4, y1: 3), PixelBox(x0: 10, y0: 5, x1: 12, y1: 12)]
        let map = DefectRegionMap(mask: mask(width: 16, height: 16, boxes: boxes))
        #expect(map.regions.map(\.box) == boxes)
        #expect(map.regions.map(\.area) == [6, 14])
        #expect(map.labels.filter { $0 != 0 }.count == 20)
    }

    @Test func diagonalNeighboursJoinOneRegion() {
        var px = [UInt8](repeating: 0, count: 25)
        for i in 0..<5 { px[i * 5 + i] = 200 }
        let map = DefectRegionMap(mask: Image(width: 5, height: 5, channels: 1, pixels: px))
        #expect(map.regions.count == 1)
        #expect(map.regions[0].box == PixelBox(x0: 0, y0: 0, x1: 5, y1: 5))
        #expect(map.regions[0].area == 5)
    }

    @Test func emptyMaskHasNoRegionAndThresholdApplies() {
        let px = [UInt8](repeating: 100, count: 64)
        #expect(DefectRegionMap(mask: Image(width: 8, height: 8, channels: 1, pixels: px)).isEmpty)
        #expect(DefectRegionMap(mask: Image(width: 8, height: 8, channels: 1, pixels: px), threshold: 50).regions.count == 1)
    }

    @Test func regionMaskAndPaddingStayInsideTheImage() {
        let boxes = [PixelBox(x0: 0, y0: 0, x1: 2, y1: 2), PixelBox(x0: 6, y0: 6, x1: 8, y1: 8)]
        let map = DefectRegionMap(mask: mask(width: 8, height: 8, boxes: boxes))
        let only = map.mask(of: map.regions[1])
        #expect(only.pixels.filter { $0 == 255 }.count == 4)
        #expect(only.pixels[0] == 0)
        #expect(map.regions[1].box.padded(by: 3, width: 8, height: 8) == PixelBox(x0: 3, y0: 3, x1: 8, y1: 8))
    }
}
