import Foundation
import TensorCore

/// Named tensors from one checkpoint file, with checked access for model loaders.
///
/// ```swift
/// let sd = try CheckpointLoader.load(url)
/// let w = try sd.tensor("features.0.0.weight", shape: [32, 3, 3, 3])
/// ```
public struct StateDict: Sendable {
    public let file: String
    public var tensors: [String: Tensor]

    public init(file: String, tensors: [String: Tensor]) {
        self.file = file
        self.tensors = tensors
    }

    /// The tensor called `name`, which must have `shape`.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let t = tensors[name] else { throw CheckpointError.missingTensors(file: file, missing: [name], unexpected: []) }
        guard t.shape == shape else { throw CheckpointError.shapeMismatch(file: file, tensor: name, expected: shape, actual: t.shape) }
        return t
    }

    /// Checks that every expected name is present (extra names are allowed when `allowUnexpected`, e.g. a
    /// classifier head a feature extractor never uses), listing all missing and unexpected names in one error.
    public func verifyKeys(expected: Set<String>, allowUnexpected: (String) -> Bool = { _ in false }) throws {
        let present = Set(tensors.keys)
        let missing = expected.subtracting(present).sorted()
        let unexpected = present.subtracting(expected).filter { !allowUnexpected($0) }.sorted()
        if !missing.isEmpty || !unexpected.isEmpty {
            throw CheckpointError.missingTensors(file: file, missing: missing, unexpected: unexpected)
        }
    }
}
