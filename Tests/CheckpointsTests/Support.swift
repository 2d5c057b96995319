import Foundation
import Testing
import TensorCore
import TestSupport
@testable import Checkpoints

/// Fixtures written by scripts/make_checkpoint_fixtures.py.
let fixtures = FixtureFolder(bundle: .module)

/// Runs `body` and returns the CheckpointError it throws (nil if it returned or threw something else).
func checkpointError(_ body: () throws -> Void) -> CheckpointError? {
    do { try body() } catch let e as CheckpointError { return e } catch { return nil }
    return nil
}

/// Exact comparison of two state dicts (same names, shapes and bit-identical values); returns the max abs difference.
@discardableResult
func expectIdentical(_ got: [String: Tensor], _ want: [String: Tensor], _ label: String,
                     sourceLocation: SourceLocation = #_sourceLocation) -> Float {
    #expect(got.keys.sorted() == want.keys.sorted(), "\(label): names differ", sourceLocation: sourceLocation)
    var maxDiff: Float = 0
    for (name, w) in want {
        guard let g = got[name] else { continue }
        #expect(g.shape == w.shape, "\(label): \(name) shape \(g.shape) != \(w.shape)", sourceLocation: sourceLocation)
        guard g.shape == w.shape else { continue }
        for (a, b) in zip(g.scalars, w.scalars) {
            if a.isNaN && b.isNaN { continue }
            maxDiff = max(maxDiff, a == b ? 0 : abs(a - b))
        }
        #expect(zip(g.scalars, w.scalars).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) },
                "\(label): \(name) values differ", sourceLocation: sourceLocation)
    }
    print("\(label): \(want.count) tensors, max abs difference \(maxDiff)")
    return maxDiff
}
