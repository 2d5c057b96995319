import Foundation
import TensorCore

/// A memory-mapped .safetensors file whose tensors are decoded one at a time, on request.
///
/// Multi-GiB diffusion checkpoints stay in their stored precision (fp16/bf16 pages of the file mapping) and only the
/// tensor being used is widened to Float32, so a half-precision model costs half the memory of an fp32 copy.
///
/// ```swift
/// let file = try SafeTensorsArchive(url: unetURL)
/// let w = try file.tensor("conv_in.weight", shape: [320, 9, 3, 3])
/// ```
public final class SafeTensorsArchive: @unchecked Sendable {
    // @unchecked: immutable after init; `Data` from a read-only mapping is safe to read from any thread.
    public let url: URL
    public let metadata: [String: String]
    private let data: Data
    private let dataStart: Int
    private let entries: [String: SafeTensors.Entry]

    /// Maps `url` and validates its header (dtypes, shapes against `limits`, data offsets inside the file). With
    /// `accepting`, a tensor of another element type is refused here (e.g. `ScalarType.floatingPoint`).
    public init(url: URL, accepting: Set<ScalarType>? = nil, limits: InputLimits = InputLimits.current) throws {
        self.url = url
        let mapped = try CheckpointFile.map(url)
        data = mapped
        let (list, metadata, dataStart) = try CheckpointError.wrapping {
            try SafeTensors.index(mapped, file: url.path, accepting: accepting, limits: limits)
        }
        self.metadata = metadata
        self.dataStart = dataStart
        entries = Dictionary(list.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// Stored shape and element type of `name`, nil when absent.
    public func info(_ name: String) -> (shape: [Int], type: ScalarType)? {
        entries[name].map { ($0.shape, $0.type) }
    }

    /// Decodes `name` to Float32; `shape`, when given, must match the stored one.
    public func tensor(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        guard let e = entries[name] else { throw CheckpointError.missingTensors(file: url.path, missing: [name], unexpected: []) }
        if let shape, shape != e.shape {
            throw CheckpointError.shapeMismatch(file: url.path, tensor: name, expected: shape, actual: e.shape)
        }
        let scalars = data.withUnsafeBytes { raw in
            e.type.decode(UnsafeRawBufferPointer(rebasing: raw[(dataStart + e.begin)..<(dataStart + e.end)]),
                          count: e.shape.reduce(1, *))
        }
        releasePages(of: e)
        return Tensor(shape: e.shape, scalars: scalars)
    }

    /// Drops the mapping's pages under `e` once its values have been copied out: they would otherwise stay in the
    /// process's RSS beside the copy until the file is closed (bench/DESIGN_NOTES.md#safetensors-page-release).
    /// The pages stay in the page cache; reading the tensor again simply faults them back in.
    private func releasePages(of e: SafeTensors.Entry) {
        #if canImport(Glibc)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            let start = Int(bitPattern: base) + dataStart + e.begin
            let end = Int(bitPattern: base) + dataStart + e.end
            let first = (start + page - 1) / page * page, last = end / page * page   // whole pages inside only
            guard last > first else { return }
            _ = madvise(UnsafeMutableRawPointer(bitPattern: first), last - first, MADV_DONTNEED)
        }
        #endif
    }

    /// The stored 16-bit values of `name` and their type when it is stored as F16 or BF16 (nil otherwise), for
    /// callers that keep half weights as they are instead of widening and re-encoding them.
    public func halfBits(_ name: String, shape: [Int]? = nil) throws -> (bits: [UInt16], type: ScalarType)? {
        guard let e = entries[name] else { throw CheckpointError.missingTensors(file: url.path, missing: [name], unexpected: []) }
        if let shape, shape != e.shape {
            throw CheckpointError.shapeMismatch(file: url.path, tensor: name, expected: shape, actual: e.shape)
        }
        guard e.type == .float16 || e.type == .bfloat16 else { return nil }
        let count = e.shape.reduce(1, *)
        let bits = data.withUnsafeBytes { raw in
            [UInt16](unsafeUninitializedCapacity: count) { out, initialized in
                let src = UnsafeRawBufferPointer(rebasing: raw[(dataStart + e.begin)..<(dataStart + e.end)])
                for i in 0..<count { out[i] = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
                initialized = count
            }
        }
        releasePages(of: e)
        return (bits, e.type)
    }
}
