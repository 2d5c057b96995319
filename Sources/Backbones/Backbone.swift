import Foundation
import TensorCore
import Checkpoints

/// A CNN feature extractor with named intermediate outputs ("taps").
///
/// Tap names are torchvision-style module paths (`layer2`, `features.6`, `features.7.conv.0`, `_blocks.6`).
/// The forward pass stops after the deepest requested tap.
///
/// ```swift
/// let weights = try CheckpointLoader.load(URL(fileURLWithPath: "mobilenet_v2-b0353104.pth"))
/// let net = try BackboneRegistry.make("mobilenet_v2", weights: weights)
/// let maps = try net.features(x /* (N,3,224,224), normalised */, taps: ["features.6", "features.13"])
/// // maps["features.6"]!.shape == [N, 32, 28, 28]
/// ```
public protocol Backbone: Sendable {
    /// Registry name, e.g. "resnet50".
    var name: String { get }
    /// Every valid tap, shallowest first.
    var tapNames: [String] { get }
    /// x (N,3,H,W), normalised with `BackboneRegistry.inputNormalization(name)` -> one tensor (N,C,h,w) per tap.
    func features(_ x: Tensor, taps: [String]) throws -> [String: Tensor]
}

/// Why a backbone could not be built or run.
public enum BackboneError: Error, CustomStringConvertible, Equatable {
    case unknownBackbone(name: String, valid: [String])
    case unknownTap(backbone: String, tap: String, valid: [String])
    case badInput(expected: String, actual: [Int])
    case inputTooSmall(shape: [Int], reason: String)

    public var description: String {
        switch self {
        case let .unknownBackbone(name, valid):
            return "unknown backbone '\(name)'; valid names: \(valid.joined(separator: ", "))"
        case let .unknownTap(backbone, tap, valid):
            return "\(backbone) has no tap '\(tap)'; valid taps: \(valid.joined(separator: ", "))"
        case let .badInput(expected, actual):
            return "input has shape \(actual), expected \(expected)"
        case let .inputTooSmall(shape, reason):
            return "input \(shape) is too small: \(reason)"
        }
    }
}

/// One top-level stage of a network (a torchvision child module such as `layer2` or `features.7`).
protocol Stage: Sendable {
    /// Taps inside the stage, as suffixes of the stage's name (e.g. "conv.0").
    var innerTaps: [String] { get }
    /// Runs the stage; stores requested inner taps (by suffix) through `capture`.
    func forward(_ x: Tensor, wanted: Set<String>, capture: (String, Tensor) -> Void) throws -> Tensor
}

/// A backbone that is a chain of named stages; `tapName == nil` marks a stage without a public tap (e.g. ResNet's stem).
struct SequentialBackbone: Backbone {
    let name: String
    let stages: [(tapName: String?, path: String, stage: any Stage)]
    let tapNames: [String]

    init(name: String, stages: [(tapName: String?, path: String, stage: any Stage)]) {
        self.name = name
        self.stages = stages
        var taps: [String] = []
        for s in stages {
            taps += s.stage.innerTaps.map { "\(s.path).\($0)" }
            if let t = s.tapName { taps.append(t) }
        }
        self.tapNames = taps
    }

    func features(_ x: Tensor, taps: [String]) throws -> [String: Tensor] {
        guard x.rank == 4, x.shape[1] == 3 else { throw BackboneError.badInput(expected: "(N,3,H,W)", actual: x.shape) }
        // Which stage each requested tap lives in.
        var deepest = -1
        var wantedInner = [Int: Set<String>]()
        var wantedOuter = Set<Int>()
        for tap in taps {
            var found = false
            for (i, s) in stages.enumerated() {
                if s.tapName == tap {
                    wantedOuter.insert(i); deepest = max(deepest, i); found = true; break
                }
                if tap.hasPrefix(s.path + "."), s.stage.innerTaps.contains(String(tap.dropFirst(s.path.count + 1))) {
                    wantedInner[i, default: []].insert(String(tap.dropFirst(s.path.count + 1)))
                    deepest = max(deepest, i); found = true; break
                }
            }
            if !found { throw BackboneError.unknownTap(backbone: name, tap: tap, valid: tapNames) }
        }
        var result = [String: Tensor]()
        var h = x
        if deepest < 0 { return result }
        for i in 0...deepest {
            let s = stages[i]
            h = try s.stage.forward(h, wanted: wantedInner[i] ?? [], capture: { suffix, t in result["\(s.path).\(suffix)"] = t })
            if wantedOuter.contains(i), let t = s.tapName { result[t] = h }
        }
        return result
    }
}

/// Reads parameters by name and shape while building a model, remembering what was read so the caller can
/// report every missing key, unexpected key and wrong shape at once (`CheckpointError.weightsMismatch`, naming
/// the weights file). Every tensor is checked for NaN / Inf as it is taken (`CheckpointError.nonFinite` naming the
/// file and the tensor). With `synthetic`, it invents every tensor instead (see `SyntheticWeights`) and records them.
final class WeightReader {
    private let source: StateDict?
    private let seed: UInt64
    private(set) var read: [String: Tensor] = [:]
    private var missing: [String] = []
    private var wrongShapes: [ShapeMismatch] = []
    private var optional: Set<String> = []

    init(_ stateDict: StateDict) { source = stateDict; seed = 0 }
    init(syntheticSeed: UInt64) { source = nil; seed = syntheticSeed }

    /// The tensor `name` with `shape`; a missing name or a wrong shape is remembered and answered with zeros until
    /// `finish`. Throws `CheckpointError.nonFinite` when the stored tensor holds NaN or +-Inf.
    func take(_ name: String, shape: [Int]) throws -> Tensor {
        guard let source else {
            let t = SyntheticWeights.tensor(name: name, shape: shape, seed: seed)
            read[name] = t
            return t
        }
        read[name] = Tensor(zeros: [0])
        guard let t = source.tensors[name] else {
            missing.append(name)
            return Tensor(zeros: shape)
        }
        guard t.shape == shape else {
            wrongShapes.append(ShapeMismatch(tensor: name, expected: shape, actual: t.shape))
            return Tensor(zeros: shape)
        }
        try CheckpointError.wrapping { try FiniteCheck.require(t, file: source.file, tensor: name) }
        return t
    }

    /// A batch-norm running variance: as `take`, and every value must also be >= 0 (a negative variance would
    /// make the folded scale NaN).
    func takeVariance(_ name: String, shape: [Int]) throws -> Tensor {
        let t = try take(name, shape: shape)
        if let source, source.tensors[name]?.shape == shape {
            try CheckpointError.wrapping { try FiniteCheck.requireNonNegative(t, file: source.file, tensor: name) }
        }
        return t
    }

    /// A key the checkpoint may carry that the model never reads (BN `num_batches_tracked`).
    func allowUnused(_ name: String) { optional.insert(name) }

    /// Throws `CheckpointError.missingTensors` listing every missing key and every unexpected one that
    /// `ignorable` does not accept (e.g. a classifier head a feature extractor never runs), or
    /// `CheckpointError.weightsMismatch` with those and every tensor of the wrong shape when there is one.
    func finish(ignorable: (String) -> Bool) throws {
        guard let source else { return }
        let present = Set(source.tensors.keys)
        let unexpected = present.subtracting(read.keys).subtracting(optional).filter { !ignorable($0) }.sorted()
        if !wrongShapes.isEmpty {
            throw CheckpointError.weightsMismatch(file: source.file, missing: missing.sorted(), unexpected: unexpected,
                                                  shapes: wrongShapes.sorted { $0.tensor < $1.tensor })
        }
        if !missing.isEmpty || !unexpected.isEmpty {
            throw CheckpointError.missingTensors(file: source.file, missing: missing.sorted(), unexpected: unexpected)
        }
    }
}
