import Foundation
import TensorCore

/// PyTorch `torch.save` files read natively: the zip format (torch >= 1.6) and the legacy pickle-stream format.
///
/// Zip: `<folder>/data.pkl` (the object pickle; storages are persistent ids `('storage', torch.FloatStorage,
/// key, location, numel)`), `<folder>/data/<key>` (raw little-endian storage bytes), `<folder>/byteorder`.
/// Legacy: five things back to back: a pickled magic number, a pickled protocol version (1001), a pickled
/// sys_info dict, the object pickle (same persistent ids, plus a view tuple), a pickled list of storage keys,
/// then for each key an 8-byte little-endian element count followed by the raw data.
/// (port of torch/serialization.py `_load` and `_legacy_load`)
///
/// ```swift
/// let sd = try TorchCheckpoint.read(URL(fileURLWithPath: "mobilenet_v2-b0353104.pth"))
/// print(sd.tensors["features.0.0.weight"]!.shape)  // [32, 3, 3, 3]
/// ```
public enum TorchCheckpoint {
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]  // 0x1950a86a20f9469cfc6c LE
    static let legacyProtocolVersion = 1001

    /// Reads a zip or legacy torch checkpoint (chosen by content) into a flat state dict.
    public static func read(_ url: URL) throws -> StateDict {
        let data = try mappedContents(of: url)
        return try CheckpointError.wrapping {
            if data.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
                return try readZip(data, file: url.path, url: url, limits: InputLimits.current)
            }
            return try readLegacy(data, file: url.path, limits: InputLimits.current)
        }
    }

    /// Reads a zip or legacy torch checkpoint held in `data`; `file` names it in errors. Every size read from the
    /// bytes is checked (`InputLimits.current`) before anything is allocated.
    public static func read(_ data: Data, file: String, limits: InputLimits = InputLimits.current) throws -> StateDict {
        try CheckpointError.wrapping {
            if data.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return try readZip(data, file: file, limits: limits) }
            return try readLegacy(data, file: file, limits: limits)
        }
    }

    /// A read-only mapping of `url`; directories, FIFOs and devices are refused by name.
    static func mappedContents(of url: URL) throws -> Data {
        try CheckpointFile.map(url)
    }

    /// Parses the persistent id tuple both formats use for storages.
    static func storageRef(_ pid: PickleValue, file: String) throws -> StorageRef {
        guard case let .tuple(t) = pid, t.count >= 5, case .string("storage") = t[0],
              case let .global(.storage(type)) = t[1], case let .int(numel) = t[4]
        else { throw CheckpointError.malformed(file: file, reason: "unexpected persistent id (not a torch storage)") }
        guard numel >= 0 else {
            throw CheckpointError.malformed(file: file, reason: "storage element count \(numel) is negative")
        }
        let key: String
        switch t[2] {
        case let .string(s): key = s
        case let .int(i): key = String(i)
        default: throw CheckpointError.malformed(file: file, reason: "storage key is a \(t[2].kind)")
        }
        var ref = StorageRef(key: key, type: type, elementCount: numel, view: nil)
        // Legacy views: (root_key, offset, view_size)
        if t.count >= 6, case let .tuple(v) = t[5], v.count >= 2, case let .string(root) = v[0], case let .int(off) = v[1] {
            guard off >= 0 else {
                throw CheckpointError.malformed(file: file, reason: "storage '\(key)': view offset \(off) is negative")
            }
            ref.view = (root, off)
        }
        return ref
    }

    // MARK: zip

    static func readZip(_ data: Data, url: URL) throws -> StateDict {
        try readZip(data, file: url.path, url: url, limits: InputLimits.current)
    }

    /// `url`, when given, is the file `data` maps (deflated entries are streamed from it).
    static func readZip(_ data: Data, file: String, url: URL? = nil, limits: InputLimits) throws -> StateDict {
        let zip = try StoredZip(data: data, file: file, url: url, limits: limits)
        // Any top-level folder name: torch uses the file's stem ("archive" for file objects).
        guard let pickleName = zip.names.first(where: { $0.hasSuffix("data.pkl") && $0.split(separator: "/").count <= 2 }) else {
            throw CheckpointError.malformed(file: file, reason: "zip archive without a data.pkl (not a torch checkpoint)")
        }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        if zip.entries[prefix + "byteorder"] != nil {
            let order = String(decoding: try zip.contents(of: prefix + "byteorder"), as: UTF8.self)
            guard order.trimmingCharacters(in: .whitespacesAndNewlines) == "little" else {
                throw CheckpointError.malformed(file: file, reason: "byteorder is '\(order)'; only little-endian checkpoints are supported")
            }
        }
        let pickle = try zip.contents(of: pickleName)
        let arena = PickleArena()
        defer { arena.dismantle() }
        let root = try pickle.withUnsafeBytes { raw in
            var u = Unpickler(bytes: raw, file: file, arena: arena, limits: limits) { .storage(try storageRef($0, file: file)) }
            return try u.load()
        }
        var cache: [String: Data] = [:]
        return try stateDict(from: root, file: file, limits: limits, sourceBytes: data.count) { ref in
            if let d = cache[ref.key] { return d }
            let d = try zip.contents(of: prefix + "data/" + ref.key)
            cache[ref.key] = d
            return d
        }
    }

    // MARK: legacy

    static func readLegacy(_ data: Data, url: URL) throws -> StateDict {
        try readLegacy(data, file: url.path, limits: InputLimits.current)
    }

    static func readLegacy(_ data: Data, file: String, limits: InputLimits) throws -> StateDict {
        guard !data.isEmpty else { throw CheckpointError.truncated(file: file, expectedBytes: 1, actualBytes: 0) }
        guard data.first == 0x80 else {
            throw CheckpointError.malformed(file: file, reason: "neither a zip, a pickle nor a safetensors file")
        }
        let arena = PickleArena()
        defer { arena.dismantle() }
        return try data.withUnsafeBytes { raw -> StateDict in
            var position = 0
            func next(_ persistent: @escaping (PickleValue) throws -> PickleValue = { _ in
                throw CheckpointError.malformed(file: file, reason: "unexpected persistent id in a header pickle")
            }) throws -> PickleValue {
                var u = Unpickler(bytes: raw, position: position, file: file, arena: arena, limits: limits,
                                  persistentLoad: persistent)
                let v = try u.load()
                position = u.position
                return v
            }
            let magic = try next()
            guard case let .bigInt(m) = magic, m == legacyMagic else {
                throw CheckpointError.malformed(file: file, reason: "pickle is not a torch checkpoint (no legacy magic number)")
            }
            guard case let .int(version) = try next(), version == legacyProtocolVersion else {
                throw CheckpointError.malformed(file: file, reason: "unsupported legacy protocol version")
            }
            guard case let .dict(sysInfo) = try next() else { throw CheckpointError.malformed(file: file, reason: "sys_info is not a dict") }
            if case .bool(false) = sysInfo["little_endian"] ?? .bool(true) {
                throw CheckpointError.malformed(file: file, reason: "big-endian checkpoint; only little-endian is supported")
            }
            let root = try next { .storage(try storageRef($0, file: file)) }
            guard case let .list(keyList) = try next() else { throw CheckpointError.malformed(file: file, reason: "storage keys are not a list") }
            // Types per key come from the object pickle: collect them from the tensors found there.
            let types = collectStorageTypes(root)
            var ranges: [String: (start: Int, count: Int, width: Int)] = [:]
            for keyValue in keyList.items {
                let key: String
                switch keyValue {
                case let .string(s): key = s
                case let .int(i): key = String(i)
                default: throw CheckpointError.malformed(file: file, reason: "storage key is a \(keyValue.kind)")
                }
                guard position <= raw.count - 8 else {
                    throw CheckpointError.truncated(file: file, expectedBytes: position + 8, actualBytes: raw.count)
                }
                let count = Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: Int64.self)))
                // Without a tensor that refers to it, a storage's element width is unknown and the records after it
                // cannot be found (torch.load fails on such a file too). Storages only referenced by unsupported
                // tensors still need skipping: width from the type, 1 if unknown.
                guard let type = types[key] else {
                    throw CheckpointError.malformed(file: file, reason: "storage '\(key)' is listed in the storage keys but no tensor refers to it")
                }
                let width = type.scalarType?.byteWidth ?? legacyWidth(type.name)
                guard count >= 0 else {
                    throw CheckpointError.malformed(file: file, reason: "storage '\(key)': element count \(count) at byte \(position) is negative")
                }
                try limits.checkTensor(shape: [count], bytesPerElement: width, file: file, tensor: "storage '\(key)' (element count at byte \(position))")
                let bytes = try CheckedSize.product(count, width, file: file, field: "bytes of storage '\(key)'")
                let start = position + 8
                guard bytes <= raw.count - start else {
                    throw CheckpointError.truncated(file: file, expectedBytes: saturatingSum(start, bytes), actualBytes: raw.count)
                }
                ranges[key] = (start, count, width)
                position = start + bytes
            }
            return try stateDict(from: root, file: file, limits: limits, sourceBytes: data.count) { ref in
                guard let r = ranges[ref.key] else {
                    throw CheckpointError.malformed(file: file, reason: "storage '\(ref.key)' is not in the file")
                }
                return data[(data.startIndex + r.start) ..< (data.startIndex + r.start + r.count * r.width)]
            }
        }
    }

    private static func legacyWidth(_ name: String?) -> Int {
        guard let name else { return 1 }
        if name.hasSuffix("ComplexDoubleStorage") { return 16 }
        if name.hasSuffix("ComplexFloatStorage") { return 8 }
        if name.hasSuffix("ShortStorage") { return 2 }
        if name.hasSuffix("QInt32Storage") { return 4 }
        return 1
    }

    /// The storage type of every storage key the object pickle mentions. Iterative (an explicit work list, each
    /// container visited once), so neither deep nesting nor a container holding itself can exhaust the stack.
    static func collectStorageTypes(_ root: PickleValue) -> [String: StorageType] {
        var types: [String: StorageType] = [:]
        var visited = Set<ObjectIdentifier>()
        var work: [PickleValue] = [root]
        while let v = work.popLast() {
            switch v {
            case let .tensor(t):
                types[t.storage.view?.rootKey ?? t.storage.key] = t.storage.type
            case let .storage(s):
                types[s.view?.rootKey ?? s.key] = s.type
            case let .dict(d):
                if visited.insert(ObjectIdentifier(d)).inserted { work.append(contentsOf: d.values) }
            case let .list(l):
                if visited.insert(ObjectIdentifier(l)).inserted { work.append(contentsOf: l.items) }
            case let .tuple(t):
                if visited.insert(ObjectIdentifier(t)).inserted { work.append(contentsOf: t.items) }
            default: break
            }
        }
        return types
    }

    /// `a + b`, or Int.max when that overflows (for sizes quoted in error messages only).
    static func saturatingSum(_ a: Int, _ b: Int) -> Int {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? Int.max : r
    }

    /// `a * b`, or Int.max when that overflows (for sizes quoted in error messages only).
    static func saturatingProduct(_ a: Int, _ b: Int) -> Int {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? Int.max : r
    }

    // MARK: object -> flat state dict

    /// Keys of a training checkpoint that hold the model's state dict.
    static let wrapperKeys = ["state_dict", "model_state_dict", "model"]

    /// Unwraps `{'state_dict': ...}` style containers, flattens nested dicts with dotted names, drops
    /// non-tensor values, strips DataParallel's `module.` prefix and materialises each tensor as Float32.
    ///
    /// Each tensor is checked against `limits`; with `sourceBytes` (the file's size), so is the total: views may share
    /// storage (tied weights) or repeat it (stride 0), so a small file could otherwise ask for many full-size
    /// tensors. The total may reach `maxTensorElements` or `maxElementsPerFileByte` per byte of the file, whichever
    /// is larger.
    static func stateDict(from root: PickleValue, file: String, limits: InputLimits = InputLimits.current,
                          sourceBytes: Int? = nil, storageBytes: (StorageRef) throws -> Data) throws -> StateDict {
        guard case var .dict(dict) = root else {
            throw CheckpointError.malformed(file: file, reason: "top-level object is a \(root.kind), expected a dict of tensors")
        }
        var unwraps = 0
        while unwraps < maxDepth, let inner = wrapperKeys.lazy.compactMap({ k -> PickleDict? in
            if case let .dict(d) = dict[k] ?? .none { return d } else { return nil }
        }).first {
            dict = inner
            unwraps += 1
        }
        var refs = try flatten(dict, file: file, limits: limits)
        if !refs.isEmpty, refs.allSatisfy({ $0.0.hasPrefix("module.") }) {
            refs = refs.map { (String($0.0.dropFirst("module.".count)), $0.1) }
        }
        var tensors: [String: Tensor] = [:]
        var total = 0
        let totalLimit = sourceBytes.map { max(limits.maxTensorElements, TorchCheckpoint.saturatingProduct($0, maxElementsPerFileByte)) }
        for (name, ref) in refs {
            guard let scalarType = ref.storage.type.scalarType else {
                throw CheckpointError.unsupportedDType(file: file, tensor: name, dtype: ref.storage.type.name)
            }
            var storage = ref.storage
            var offset = ref.offset
            if let view = storage.view {
                storage.key = view.rootKey
                offset = try CheckedSize.sum(offset, view.offset, file: file, field: "storage offset of \(name)")
            }
            // The output is Float32: check its size before touching the storage.
            let count = try limits.checkTensor(shape: ref.shape, bytesPerElement: 4, file: file, tensor: name)
            total = saturatingSum(total, count)
            if let totalLimit, total > totalLimit {
                throw InputLimitError(file: file, field: "elements of all tensors (at '\(name)')", requested: "\(total) elements",
                                      limit: "\(totalLimit) elements for a file of \(sourceBytes ?? 0) bytes",
                                      option: "--max-tensor-elements")
            }
            let bytes = try storageBytes(storage)
            tensors[name] = try bytes.withUnsafeBytes { raw in
                try materialize(raw, type: scalarType, offset: offset, shape: ref.shape, strides: ref.strides, file: file,
                                tensor: name, limits: limits)
            }
        }
        return StateDict(file: file, tensors: tensors)
    }

    /// Elements a file may materialise per byte it holds, beyond `maxTensorElements` (1-byte storages give 1; the
    /// rest is room for tied weights).
    static let maxElementsPerFileByte = 4

    /// Limit on `{'state_dict': {'model': ...}}` unwrapping (a pickle can make a dict contain itself).
    static let maxDepth = 8

    /// Longest dotted tensor name accepted (a hostile pickle can nest long keys to make quadratic names).
    static let maxNameBytes = 65_536

    /// Every tensor under `root` with its dotted name (`layer1.0.conv1.weight`). Iterative over an explicit stack with
    /// the nesting depth bounded by `limits.maxNestingDepth`; each dict is visited once, so a pickle whose dicts
    /// contain themselves cannot loop.
    static func flatten(_ root: PickleDict, file: String, limits: InputLimits) throws -> [(String, TensorRef)] {
        var out: [(String, TensorRef)] = []
        var visited = Set<ObjectIdentifier>()
        // (dict, its name prefix, its depth); children pushed in reverse so names come out in file order.
        var work: [(PickleDict, String, Int)] = [(root, "", 1)]
        while let (d, prefix, depth) = work.popLast() {
            guard visited.insert(ObjectIdentifier(d)).inserted else { continue }
            guard depth <= limits.maxNestingDepth else {
                throw InputLimitError(file: file, field: "nesting depth of dicts at '\(prefix.prefix(200))...'",
                                      requested: "more than \(limits.maxNestingDepth) nested dicts",
                                      limit: "\(limits.maxNestingDepth)", option: "--max-nesting-depth")
            }
            var children: [(PickleDict, String, Int)] = []
            for (k, v) in zip(d.keys, d.values) {
                let name: String
                switch k {
                case let .string(s): name = s
                case let .int(i): name = String(i)
                default: continue
                }
                guard prefix.utf8.count + name.utf8.count < maxNameBytes else {
                    throw CheckpointError.malformed(file: file, reason: "a tensor name is longer than \(maxNameBytes) bytes (starts '\((prefix + name).prefix(80))...')")
                }
                switch v {
                case let .tensor(t): out.append((prefix + name, t))
                case let .dict(inner): children.append((inner, prefix + name + ".", depth + 1))
                default: continue  // epoch counters, hyper-parameters, ...
                }
            }
            work.append(contentsOf: children.reversed())
        }
        return out
    }

    /// Gathers a strided view of raw little-endian storage into a contiguous Float32 tensor.
    ///
    /// `raw` holds the whole storage; element i of the view sits at `offset + sum(index[d] * strides[d])`.
    static func materialize(_ raw: UnsafeRawBufferPointer, type: ScalarType, offset: Int, shape: [Int], strides: [Int],
                            file: String, tensor: String, limits: InputLimits = InputLimits.current) throws -> Tensor {
        guard shape.count == strides.count else {
            throw CheckpointError.malformed(file: file, reason: "tensor '\(tensor)': shape \(shape) and strides \(strides) differ in rank")
        }
        guard shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }), offset >= 0 else {
            throw CheckpointError.malformed(file: file, reason: "tensor '\(tensor)': negative size, stride or offset (shape \(shape), strides \(strides), offset \(offset))")
        }
        let count = try limits.checkTensor(shape: shape, bytesPerElement: 4, file: file, tensor: tensor)
        if count == 0 { return Tensor(shape: shape, scalars: []) }
        // The last element reached, +1: the view (offset + strides + shape) must lie inside its storage.
        var span = 1
        for (n, st) in zip(shape, strides) {
            let reach = try CheckedSize.product(n - 1, st, file: file, field: "strides of \(tensor)")
            span = try CheckedSize.sum(span, reach, file: file, field: "strides of \(tensor)")
        }
        let end = try CheckedSize.sum(offset, span, file: file, field: "storage offset of \(tensor)")
        let available = raw.count / type.byteWidth
        guard end <= available else {
            throw CheckpointError.malformed(file: file, reason: "tensor '\(tensor)': view (offset \(offset), shape \(shape), strides \(strides)) reaches element \(end) of a storage of \(available) elements")
        }
        // A strided view decodes its whole span first: bound that allocation too.
        try limits.checkTensor(shape: [span], bytesPerElement: 4, file: file, tensor: "\(tensor) (strided span)")
        let window = UnsafeRawBufferPointer(rebasing: raw[(offset * type.byteWidth) ..< ((offset + span) * type.byteWidth)])
        if isContiguous(shape: shape, strides: strides) {
            return Tensor(shape: shape, scalars: type.decode(window, count: count))
        }
        let source = type.decode(window, count: span)
        return Tensor(shape: shape, scalars: gatherStrided(source, shape: shape, strides: strides))
    }

    /// True when `strides` are the row-major strides of `shape` (size-1 dimensions may have any stride).
    static func isContiguous(shape: [Int], strides: [Int]) -> Bool {
        var expected = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] != 1 {
            if strides[d] != expected { return false }
            expected *= shape[d]
        }
        return true
    }

    /// out (prod(shape)) row-major; out[i] = source[sum(index(i)[d] * strides[d])]. Walks an odometer over all
    /// dimensions but the last, copying the innermost run with its stride.
    static func gatherStrided(_ source: [Float], shape: [Int], strides: [Int]) -> [Float] {
        let count = shape.reduce(1, *)
        guard count > 0 else { return [] }
        // Coalesce: drop size-1 dimensions and merge d, d+1 when stepping d equals a full sweep of d+1, so the
        // inner loop runs as long as possible (a transposed 1x1 conv weight (O,I,1,1) becomes (O,I)).
        var dims: [(size: Int, stride: Int)] = []
        for (n, st) in zip(shape, strides) where n != 1 {
            if let last = dims.last, last.stride == st * n {
                dims[dims.count - 1] = (last.size * n, st)
            } else {
                dims.append((n, st))
            }
        }
        if dims.isEmpty { return [source[0]] }
        let shape = dims.map(\.size), strides = dims.map(\.stride)
        let rank = shape.count
        let inner = shape[rank - 1], innerStride = strides[rank - 1]
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            source.withUnsafeBufferPointer { src in
                // Raw pointers in the inner loop: no per-element bounds checks (the span was checked by the caller).
                let s = src.baseAddress!, o = out.baseAddress!
                var index = [Int](repeating: 0, count: rank)
                var base = 0
                var written = 0
                while written < count {
                    let from = s + base, to = o + written
                    for j in 0..<inner { to[j] = from[j * innerStride] }
                    written += inner
                    // advance the odometer over dimensions rank-2 ... 0
                    var d = rank - 2
                    while d >= 0 {
                        index[d] += 1
                        base += strides[d]
                        if index[d] < shape[d] { break }
                        base -= strides[d] * shape[d]
                        index[d] = 0
                        d -= 1
                    }
                }
            }
            initialized = count
        }
    }

    /// Naive reference for `gatherStrided`: decomposes every flat index separately.
    static func gatherStridedReference(_ source: [Float], shape: [Int], strides: [Int]) -> [Float] {
        let count = shape.reduce(1, *)
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count {
            var rest = i, at = 0
            for d in stride(from: shape.count - 1, through: 0, by: -1) {
                at += (rest % shape[d]) * strides[d]
                rest /= shape[d]
            }
            out[i] = source[at]
        }
        return out
    }
}
