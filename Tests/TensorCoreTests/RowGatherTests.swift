import Testing
import TensorCore

@Suite struct RowGatherTests {
    let x = Tensor(shape: [4, 3], scalars: (0..<12).map(Float.init))

    @Test func gatherRowsTakesRowsInOrderWithRepeats() {
        let g = x.gatherRows([3, 0, 3])
        #expect(g.shape == [3, 3])
        #expect(g.scalars == [9, 10, 11, 0, 1, 2, 9, 10, 11])
        #expect(x.gatherRows([]).shape == [0, 3])
    }

    @Test func rowsSliceMatchesGatherOfTheRange() {
        #expect(x.rows(1..<3) == x.gatherRows([1, 2]))
        #expect(x.rows(0..<4) == x)
        #expect(x.rows(2..<2).shape == [0, 3])
    }
}
