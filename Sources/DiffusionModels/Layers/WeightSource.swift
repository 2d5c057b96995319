import Checkpoints
import Foundation
import TensorCore

/// Where a model's named parameters come from: a diffusers component folder (`ComponentWeights`), a `StateDict`
/// read from one file, or generated weights for benchmarks (`RandomWeights`).
public protocol WeightSource {
    /// Every parameter name the source holds (checked against what the model asks for).
    var names: [String] { get }
    /// The parameter `name` as fp32, which must have `shape`.
    func tensor(_ name: String, shape: [Int]) throws -> Tensor
    /// The file or folder the weights come from, for error messages.
    var sourceDescription: String { get }
    /// Whether `names` lists everything (false for generated weights: no missing / unexpected check).
    var enumeratesNames: Bool { get }
    /// The precision the parameters are stored in; linear-layer weights of half-precision sources stay half in
    /// memory and are widened per call.
    var storedPrecisionHint: StoredPrecision { get }
    /// `name`'s stored 16-bit values when the source holds it in half precision, else nil (then `tensor` is
    /// used); lets half weights be kept without a round trip through fp32.
    func storedHalf(_ name: String, shape: [Int]) throws -> (bits: [UInt16], precision: StoredPrecision)?
    /// The shape the source declares for `name` without reading its data (a safetensors header entry), nil when
    /// absent or unknown; lets a model compare a file with its config before allocating anything.
    func declaredShape(of name: String) -> [Int]?
}

extension WeightSource {
    public var enumeratesNames: Bool { true }
    public var storedPrecisionHint: StoredPrecision { .float32 }
    public func storedHalf(_ name: String, shape: [Int]) throws -> (bits: [UInt16], precision: StoredPrecision)? { nil }
    public func declaredShape(of name: String) -> [Int]? { nil }
}

extension StateDict: WeightSource {
    public var names: [String] { Array(tensors.keys) }
    public var sourceDescription: String { file }
    public func declaredShape(of name: String) -> [Int]? { tensors[name]?.shape }
}

/// Seeded random weights of any requested name and shape, for benchmarks with the real configs: weights
/// uniform in +-1/sqrt(fan_in) (PyTorch's default init bound), norm scales 1 and biases small.
///
/// ```swift
/// let unet = try UNet2DConditionModel(config: config, weights: RandomWeights(seed: 0))
/// ```
public struct RandomWeights: WeightSource {
    public let seed: UInt64
    /// The precision to behave as if stored in (`.float16` makes layers keep linear weights compact, as for a
    /// half-precision file; the values are then rounded to fp16).
    public let storedPrecisionHint: StoredPrecision
    public init(seed: UInt64, precision: StoredPrecision = .float32) {
        self.seed = seed
        self.storedPrecisionHint = precision
    }
    public var names: [String] { [] }
    public var sourceDescription: String { "random weights (seed \(seed))" }
    public var enumeratesNames: Bool { false }

    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        let count = shape.reduce(1, *)
        if shape.count == 1 && name.contains("norm") && name.hasSuffix(".weight") {
            return Tensor(repeating: 1, shape: shape)
        }
        // Per-name streams in fixed 64K blocks, so the weights depend on neither load order nor thread count.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : shape[0]
        let scale = Float(1 / Double(max(1, fanIn)).squareRoot()) * 0x1p-23
        let blockSize = 1 << 16
        let base = seed ^ h
        let scalars = [Float](unsafeUninitializedCapacity: count) { p, initialized in
            let out = p.baseAddress!
            Parallel.chunks(count: (count + blockSize - 1) / blockSize) { blocks in
                for blk in blocks {
                    var rng = SplitMix64(seed: base &+ UInt64(blk) &* 0x9E37_79B9_7F4A_7C15)
                    for i in (blk * blockSize)..<min(count, (blk + 1) * blockSize) {
                        // uniform in [-bound, bound): top 24 bits of the draw, centred.
                        out[i] = Float(Int32(truncatingIfNeeded: rng.next() >> 40) - (1 << 23)) * scale
                    }
                }
            }
            initialized = count
        }
        return Tensor(shape: shape, scalars: scalars)
    }
}

/// Reads a model's parameters by name from a `WeightSource`, remembering every name asked for, so that all
/// missing and unexpected names are reported together in one error at the end (`finish()`).
final class WeightLoader {
    let source: WeightSource
    private let available: Set<String>
    private(set) var requested: Set<String> = []
    private var missing: [String] = []

    /// Precision linear weights are kept in (float16 / bfloat16 when the source stores them so).
    let compactPrecision: StoredPrecision

    init(_ source: WeightSource) {
        self.source = source
        self.available = Set(source.names)
        self.compactPrecision = source.storedPrecisionHint
    }

    /// The parameter `prefix + name` with `shape`; a missing one is recorded (zeros stand in until `finish`).
    func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        requested.insert(name)
        if source.enumeratesNames && !available.contains(name) {
            missing.append(name)
            return Tensor(zeros: shape)
        }
        return try source.tensor(name, shape: shape)
    }

    /// The weight matrix `name` (rows, cols), kept in `compactPrecision`: the file's 16-bit values as they are when
    /// it stores them so, else read as fp32 (and re-encoded when the model is kept half).
    func matrix(_ name: String, rows: Int, cols: Int) throws -> StoredMatrix {
        if source.enumeratesNames && !available.contains(name) {
            return StoredMatrix(try tensor(name, shape: [rows, cols]), keeping: compactPrecision)  // records it
        }
        requested.insert(name)
        return try StoredMatrix.read(name, rows: rows, cols: cols, keeping: compactPrecision, from: source)
    }

    /// Throws `CheckpointError.missingTensors` listing every missing and unexpected name.
    func finish() throws {
        guard source.enumeratesNames else { return }
        let unexpected = available.subtracting(requested).sorted()
        if !missing.isEmpty || !unexpected.isEmpty {
            throw CheckpointError.missingTensors(file: source.sourceDescription, missing: missing.sorted(),
                                                 unexpected: unexpected)
        }
    }

    /// A view of this loader under `prefix` ("down_blocks.0." ...).
    func scope(_ prefix: String) -> WeightScope { WeightScope(loader: self, prefix: prefix) }
}

/// A `WeightLoader` with a key prefix, handed down the module tree so each layer names its own parameters.
struct WeightScope {
    let loader: WeightLoader
    let prefix: String

    func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        try loader.tensor(prefix + name, shape: shape)
    }

    func scope(_ name: String) -> WeightScope { WeightScope(loader: loader, prefix: prefix + name + ".") }

    var compactPrecision: StoredPrecision { loader.compactPrecision }

    /// The weight matrix `prefix + name` (rows, cols) in the loader's compact precision.
    func matrix(_ name: String, rows: Int, cols: Int) throws -> StoredMatrix {
        try loader.matrix(prefix + name, rows: rows, cols: cols)
    }
}

extension ComponentWeights: WeightSource {
    public var sourceDescription: String { files.count == 1 ? files[0].path : folder.path }
    public var storedPrecisionHint: StoredPrecision { storedPrecision }
    public func declaredShape(of name: String) -> [Int]? { shape(of: name) }
    public func storedHalf(_ name: String, shape: [Int]) throws -> (bits: [UInt16], precision: StoredPrecision)? {
        guard let (bits, type) = try halfBits(name, shape: shape) else { return nil }
        return (bits, type == .bfloat16 ? .bfloat16 : .float16)
    }
}
