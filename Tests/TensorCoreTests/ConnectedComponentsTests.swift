import Testing
import TensorCore

@Suite struct ConnectedComponentsTests {
    // 1 0 0 1
    // 0 1 0 1
    // 0 0 0 0
    // 1 1 0 0
    let mask: [UInt8] = [1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0]

    @Test func eightConnectivityJoinsDiagonals() {
        let (labels, count) = connectedComponents(mask: mask, width: 4, height: 4, connectivity: .eight)
        #expect(count == 3)
        #expect(labels == [1, 0, 0, 2, 0, 1, 0, 2, 0, 0, 0, 0, 3, 3, 0, 0])   // raster order of first pixels
    }

    @Test func fourConnectivitySplitsDiagonals() {
        let (labels, count) = connectedComponents(mask: mask, width: 4, height: 4, connectivity: .four)
        #expect(count == 4)
        #expect(labels == [1, 0, 0, 2, 0, 3, 0, 2, 0, 0, 0, 0, 4, 4, 0, 0])
    }
}
