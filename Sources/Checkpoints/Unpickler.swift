import Foundation
import TensorCore

// A restricted unpickler for PyTorch checkpoints (pickle protocols 2-5).
//
// It is a stack machine over `PickleValue`s that never calls anything: the only "callables" it knows are the
// handful of globals torch.save emits for state dicts (collections.OrderedDict, torch._utils._rebuild_tensor*,
// torch._utils._rebuild_parameter*, torch.*Storage), each interpreted here by hand. Every other global
// (a pickled nn.Module, os.system, builtins.eval, torch.storage._load_from_bytes, ...) throws
// `CheckpointError.forbiddenPickle` as soon as its GLOBAL/STACK_GLOBAL/INST opcode is read.
// Opcode semantics follow CPython's Lib/pickle.py and Lib/pickletools.py.

/// A Python list, a reference type because APPEND mutates the object the memo shares.
final class PickleList {
    fileprivate(set) var items: [PickleValue] = []
    /// Containers nested inside, this one included (see `PickleValue.depth`).
    fileprivate(set) var depth = 1

    init() {}
    init(_ items: [PickleValue]) {
        self.items = items
        depth = 1 + (items.lazy.map(\.depth).max() ?? 0)
    }

    func append(_ v: PickleValue) {
        items.append(v)
        depth = max(depth, 1 + v.depth)
    }

    func append(contentsOf vs: [PickleValue]) {
        items.append(contentsOf: vs)
        depth = max(depth, 1 + (vs.lazy.map(\.depth).max() ?? 0))
    }
}

/// A Python tuple. A class (not an array inside the enum) so that `PickleArena.dismantle` can empty it and a
/// deeply nested pickle is freed without recursion.
final class PickleTuple: RandomAccessCollection {
    fileprivate(set) var items: [PickleValue]
    /// Containers nested inside, this one included (exact: a tuple never changes).
    let depth: Int
    init(_ items: [PickleValue]) {
        self.items = items
        depth = 1 + (items.lazy.map(\.depth).max() ?? 0)
    }
    var startIndex: Int { 0 }
    var endIndex: Int { items.count }
    subscript(_ i: Int) -> PickleValue { items[i] }
}

/// Owns every value an unpickler made or dropped, and frees them iteratively.
///
/// Swift frees a nested value recursively, so a hostile 100 KB pickle of 100 000 nested TUPLE1s would overflow
/// the stack when dropped. The unpickler therefore never drops a value: everything popped, and what is left on
/// its stack and memo at the end (or on an error), goes here, and `dismantle()` empties containers breadth-first (each one once, since an emptied
/// container has nothing left to expand), so every free is shallow.
final class PickleArena {
    private var values: [PickleValue] = []

    func keep(_ v: PickleValue) { values.append(v) }
    func keep(_ vs: some Sequence<PickleValue>) { values.append(contentsOf: vs) }

    /// Empties every container reachable from the kept values. Call when done with the unpickled objects.
    func dismantle() {
        var work = values
        values = []
        while let v = work.popLast() {
            switch v {
            case let .tuple(t): work.append(contentsOf: t.items); t.items = []
            case let .list(l): work.append(contentsOf: l.items); l.items = []
            case let .dict(d): work.append(contentsOf: d.removeAll())
            default: break
            }
        }
    }
}

/// A Python dict (insertion ordered), a reference type because SETITEM(S) mutate the memoized object.
final class PickleDict {
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var stringIndex: [String: Int] = [:]
    /// Containers nested inside, this one included (see `PickleValue.depth`).
    private(set) var depth = 1

    /// Sets `key` to `value`; returns the value it replaced.
    @discardableResult
    func set(_ key: PickleValue, _ value: PickleValue) -> PickleValue? {
        depth = max(depth, 1 + max(key.depth, value.depth))
        if case let .string(s) = key {
            if let i = stringIndex[s] {
                let old = values[i]
                values[i] = value
                return old
            }
            stringIndex[s] = keys.count
        }
        keys.append(key)
        values.append(value)
        return nil
    }

    /// Removes and returns all keys and values.
    func removeAll() -> [PickleValue] {
        defer { keys = []; values = []; stringIndex = [:] }
        return keys + values
    }

    subscript(_ key: String) -> PickleValue? {
        stringIndex[key].map { values[$0] }
    }

    var count: Int { keys.count }
}

/// A storage type global such as `torch.FloatStorage`; `scalarType` is nil for the types this reader cannot widen.
struct StorageType: Equatable {
    var name: String
    var scalarType: ScalarType?
}

/// A persistent storage reference (`('storage', torch.FloatStorage, key, location, numel[, view])`).
struct StorageRef {
    var key: String
    var type: StorageType
    var elementCount: Int
    /// Legacy views of a larger storage: (root key, element offset into the root).
    var view: (rootKey: String, offset: Int)?
}

/// What `_rebuild_tensor(_v2)` describes: a strided view of a storage.
struct TensorRef {
    var storage: StorageRef
    var offset: Int
    var shape: [Int]
    var strides: [Int]
}

/// The accepted globals; anything else is refused.
enum PickleGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2, rebuildTensor, rebuildParameter, rebuildParameterWithState
    case storage(StorageType)
}

indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer that does not fit Int64, as little-endian two's complement bytes (LONG1/LONG4).
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    case global(PickleGlobal)
    case storage(StorageRef)
    case tensor(TensorRef)

    var kind: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .global: "global"
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }

    /// How many containers deep this value is when built (0 for scalars). Lists and dicts update it when items
    /// are added, but a container mutated after it was nested does not update its parents, so walkers over the
    /// result still bound their own depth (`TorchCheckpoint.flatten`).
    var depth: Int {
        switch self {
        case let .tuple(t): t.depth
        case let .list(l): l.depth
        case let .dict(d): d.depth
        default: 0
        }
    }
}

/// Storage type names torch writes (`torch.<Name>`, or `torch.cuda.<Name>` in legacy GPU checkpoints).
private let storageTypes: [String: ScalarType?] = [
    "FloatStorage": .float32, "HalfStorage": .float16, "BFloat16Storage": .bfloat16, "DoubleStorage": .float64,
    "LongStorage": .int64, "IntStorage": .int32, "ByteStorage": .uint8, "CharStorage": .int8, "BoolStorage": .bool,
    // Known but not convertible to Float32 here: reported as unsupported dtypes of the tensors using them.
    "ShortStorage": nil, "ComplexFloatStorage": nil, "ComplexDoubleStorage": nil, "QInt8Storage": nil,
    "QUInt8Storage": nil, "QInt32Storage": nil, "QUInt4x2Storage": nil, "QUInt2x4Storage": nil,
]

/// Resolves `module.name` to an accepted global or throws `forbiddenPickle`.
func resolveGlobal(module: String, name: String, file: String) throws -> PickleGlobal {
    switch (module, name) {
    case ("collections", "OrderedDict"): return .orderedDict
    case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
    case ("torch._utils", "_rebuild_tensor"): return .rebuildTensor
    case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
    case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
    default:
        if module == "torch" || module == "torch.cuda", let entry = storageTypes[name] {
            return .storage(StorageType(name: "\(module).\(name)", scalarType: entry))
        }
        throw CheckpointError.forbiddenPickle(file: file, what: "\(module).\(name)")
    }
}

/// Runs one pickle (up to and including its STOP opcode) starting at `position` in `bytes`.
struct Unpickler {
    let bytes: UnsafeRawBufferPointer
    let file: String
    /// Receives every value made here; its owner calls `dismantle()` when done with the result.
    let arena: PickleArena
    /// Resolves a BINPERSID id (the storage tuple) to a value, usually `.storage`.
    let persistentLoad: (PickleValue) throws -> PickleValue
    /// Nesting depth and opcode count allowed (`InputLimits.maxNestingDepth`, `maxPickleOpcodes`).
    let limits: InputLimits
    private(set) var position: Int
    /// Opcodes executed so far by this pickle.
    private(set) var opcodes = 0

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    init(bytes: UnsafeRawBufferPointer, position: Int = 0, file: String, arena: PickleArena,
         limits: InputLimits = InputLimits.current,
         persistentLoad: @escaping (PickleValue) throws -> PickleValue) {
        self.arena = arena
        self.limits = limits
        self.bytes = bytes
        self.position = position
        self.file = file
        self.persistentLoad = persistentLoad
    }

    private func malformed(_ reason: String) -> CheckpointError {
        .malformed(file: file, reason: "pickle: \(reason)")
    }

    // MARK: reading the byte stream

    private mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, position <= bytes.count - n else {
            // Saturating: a declared length near Int.max must not trap while the message is built.
            let (wanted, overflow) = position.addingReportingOverflow(max(n, 0))
            throw CheckpointError.truncated(file: file, expectedBytes: overflow ? Int.max : wanted, actualBytes: bytes.count)
        }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position ..< position + n])
    }

    private mutating func u8() throws -> UInt8 { try take(1)[0] }
    private mutating func u16() throws -> Int { Int(UInt16(littleEndian: try take(2).loadUnaligned(as: UInt16.self))) }
    private mutating func u32() throws -> Int { Int(UInt32(littleEndian: try take(4).loadUnaligned(as: UInt32.self))) }
    private mutating func i32() throws -> Int { Int(Int32(littleEndian: try take(4).loadUnaligned(as: Int32.self))) }
    private mutating func u64() throws -> Int {
        let v = UInt64(littleEndian: try take(8).loadUnaligned(as: UInt64.self))
        guard v <= UInt64(Int.max) else { throw malformed("length \(v) at byte \(position - 8) is not plausible") }
        return Int(v)
    }

    private mutating func line() throws -> String {
        guard let nl = bytes[position...].firstIndex(of: 0x0A) else { throw malformed("unterminated text line") }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position ..< nl]), as: UTF8.self)
        position = nl + 1
        return s
    }

    private mutating func utf8(_ n: Int) throws -> String {
        let raw = try take(n)
        guard let s = String(validating: raw, as: UTF8.self) else { throw malformed("invalid UTF-8 string") }
        return s
    }

    // MARK: the stack

    /// Popped values are also kept by the arena (see `PickleArena`), so no container is ever freed here.
    private mutating func pop() throws -> PickleValue {
        guard let top = stack.popLast() else { throw malformed("stack underflow at byte \(position)") }
        arena.keep(top)
        if let m = marks.last, stack.count < m { throw malformed("pop across a MARK at byte \(position)") }
        return top
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast() else { throw malformed("no MARK at byte \(position)") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        arena.keep(items)
        return items
    }

    private func top() throws -> PickleValue {
        guard let t = stack.last else { throw malformed("empty stack at byte \(position)") }
        return t
    }

    private mutating func put(_ i: Int) throws {
        // A replaced memo value was on the stack before, so popped into the arena or still on the stack.
        memo[i] = try top()
    }

    private mutating func memoGet(_ i: Int) throws -> PickleValue {
        guard let v = memo[i] else { throw malformed("memo key \(i) not defined") }
        return v
    }

    /// Pushes a container built here after checking its nesting depth.
    private mutating func pushChecked(_ v: PickleValue) throws {
        guard v.depth <= limits.maxNestingDepth else {
            arena.keep(v)  // freed with the rest, iteratively
            try checkDepth(v.depth)
            return
        }
        stack.append(v)
    }

    private func checkDepth(_ depth: Int) throws {
        guard depth <= limits.maxNestingDepth else {
            throw InputLimitError(file: file, field: "pickle nesting depth (byte \(position))",
                                  requested: "\(depth) nested containers", limit: "\(limits.maxNestingDepth)",
                                  option: "--max-nesting-depth")
        }
    }

    /// Little-endian two's complement integer of `raw`.
    private static func long(_ raw: UnsafeRawBufferPointer) -> PickleValue {
        if raw.isEmpty { return .int(0) }
        if raw.count > 8 { return .bigInt(Array(raw)) }
        var v: UInt64 = 0
        for (i, b) in raw.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        if raw.count < 8, raw[raw.count - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(raw.count)) }  // sign-extend
        return .int(Int(Int64(bitPattern: v)))
    }

    // MARK: the machine

    /// Executes opcodes until STOP and returns the pickled object (which the arena also holds).
    mutating func load() throws -> PickleValue {
        defer {
            arena.keep(stack)
            arena.keep(memo.values)
            stack = []
            memo = [:]
        }
        while true {
            let op = try u8()
            opcodes += 1
            guard opcodes <= limits.maxPickleOpcodes else {
                throw InputLimitError(file: file, field: "pickle opcodes (byte \(position - 1))",
                                      requested: "more than \(limits.maxPickleOpcodes)",
                                      limit: "\(limits.maxPickleOpcodes) opcodes", option: "--max-pickle-opcodes")
            }
            switch op {
            case 0x80: _ = try u8()                                   // PROTO
            case 0x95: _ = try u64()                                  // FRAME (length hint only)
            case 0x2E:                                                // STOP '.'
                guard stack.count == 1, marks.isEmpty else { throw malformed("STOP with \(stack.count) values on the stack") }
                return stack[0]
            case 0x28:                                                // MARK '('
                guard marks.count < limits.maxNestingDepth else {
                    throw InputLimitError(file: file, field: "pickle MARK depth (byte \(position - 1))",
                                          requested: "more than \(limits.maxNestingDepth) open MARKs",
                                          limit: "\(limits.maxNestingDepth)", option: "--max-nesting-depth")
                }
                marks.append(stack.count)
            case 0x30: _ = try pop()                                  // POP '0'
            case 0x31: _ = try popMark()                              // POP_MARK '1'
            case 0x32: stack.append(try top())                        // DUP '2'
            case 0x4E: stack.append(.none)                            // NONE 'N'
            case 0x88: stack.append(.bool(true))                      // NEWTRUE
            case 0x89: stack.append(.bool(false))                     // NEWFALSE
            case 0x4A: stack.append(.int(try i32()))                  // BININT 'J'
            case 0x4B: stack.append(.int(Int(try u8())))              // BININT1 'K'
            case 0x4D: stack.append(.int(try u16()))                  // BININT2 'M'
            case 0x8A: stack.append(Self.long(try take(Int(try u8()))))        // LONG1
            case 0x8B:                                                // LONG4
                let n = try i32()
                guard n >= 0 else { throw malformed("negative LONG4 length") }
                stack.append(Self.long(try take(n)))
            case 0x47:                                                // BINFLOAT 'G' (big-endian)
                stack.append(.float(Double(bitPattern: UInt64(bigEndian: try take(8).loadUnaligned(as: UInt64.self)))))
            case 0x58: stack.append(.string(try utf8(try u32())))     // BINUNICODE 'X'
            case 0x8C: stack.append(.string(try utf8(Int(try u8())))) // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try utf8(try u64())))     // BINUNICODE8
            case 0x54:                                                // BINSTRING 'T' (Python 2 str)
                let n = try i32()
                guard n >= 0 else { throw malformed("negative BINSTRING length") }
                stack.append(.string(String(decoding: try take(n), as: UTF8.self)))
            case 0x55: stack.append(.string(String(decoding: try take(Int(try u8())), as: UTF8.self)))  // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(Array(try take(try u32()))))        // BINBYTES 'B'
            case 0x43: stack.append(.bytes(Array(try take(Int(try u8())))))    // SHORT_BINBYTES 'C'
            case 0x8E: stack.append(.bytes(Array(try take(try u64()))))        // BINBYTES8
            case 0x7D: stack.append(.dict(PickleDict()))              // EMPTY_DICT '}'
            case 0x5D: stack.append(.list(PickleList()))              // EMPTY_LIST ']'
            case 0x29: stack.append(.tuple(PickleTuple([])))          // EMPTY_TUPLE ')'
            case 0x85: try pushChecked(.tuple(PickleTuple([try pop()])))  // TUPLE1
            case 0x86:                                                // TUPLE2
                let b = try pop(), a = try pop()
                try pushChecked(.tuple(PickleTuple([a, b])))
            case 0x87:                                                // TUPLE3
                let c = try pop(), b = try pop(), a = try pop()
                try pushChecked(.tuple(PickleTuple([a, b, c])))
            case 0x74: try pushChecked(.tuple(PickleTuple(try popMark())))  // TUPLE 't'
            case 0x6C: try pushChecked(.list(PickleList(try popMark())))   // LIST 'l'
            case 0x64:                                                // DICT 'd'
                let items = try popMark()
                try pushChecked(.dict(try makeDict(items)))
            case 0x73:                                                // SETITEM 's'
                let v = try pop(), k = try pop()
                guard case let .dict(d) = try top() else { throw malformed("SETITEM on a \(try top().kind)") }
                d.set(k, v)
                try checkDepth(d.depth)
            case 0x75:                                                // SETITEMS 'u'
                let items = try popMark()
                guard case let .dict(d) = try top() else { throw malformed("SETITEMS on a \(try top().kind)") }
                guard items.count % 2 == 0 else { throw malformed("SETITEMS with an odd number of items") }
                for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
                try checkDepth(d.depth)
            case 0x61:                                                // APPEND 'a'
                let v = try pop()
                guard case let .list(l) = try top() else { throw malformed("APPEND on a \(try top().kind)") }
                l.append(v)
                try checkDepth(l.depth)
            case 0x65:                                                // APPENDS 'e'
                let items = try popMark()
                guard case let .list(l) = try top() else { throw malformed("APPENDS on a \(try top().kind)") }
                l.append(contentsOf: items)
                try checkDepth(l.depth)
            case 0x71: try put(Int(try u8()))                         // BINPUT 'q'
            case 0x72: try put(try u32())                             // LONG_BINPUT 'r'
            case 0x94: try put(memo.count)                            // MEMOIZE
            case 0x68: stack.append(try memoGet(Int(try u8())))       // BINGET 'h'
            case 0x6A: stack.append(try memoGet(try u32()))           // LONG_BINGET 'j'
            case 0x63:                                                // GLOBAL 'c'
                let module = try line(), name = try line()
                stack.append(.global(try resolveGlobal(module: module, name: name, file: file)))
            case 0x93:                                                // STACK_GLOBAL
                let nameValue = try pop(), moduleValue = try pop()
                guard case let .string(module) = moduleValue, case let .string(name) = nameValue else {
                    throw malformed("STACK_GLOBAL needs two strings")
                }
                stack.append(.global(try resolveGlobal(module: module, name: name, file: file)))
            case 0x69:                                                // INST 'i': a class call; only refusals
                let module = try line(), name = try line()
                throw CheckpointError.forbiddenPickle(file: file, what: "\(module).\(name)")
            case 0x52:                                                // REDUCE 'R'
                let args = try pop(), callable = try pop()
                try pushChecked(try call(callable, args))
            case 0x81:                                                // NEWOBJ
                let args = try pop(), cls = try pop()
                guard case .global(.orderedDict) = cls else { throw malformed("NEWOBJ of a \(cls.kind)") }
                try pushChecked(try call(cls, args))
            case 0x62:                                                // BUILD 'b'
                let state = try pop()
                switch try top() {
                case .dict: break        // OrderedDict state, e.g. the `_metadata` torch attaches: ignored
                case .tensor: break      // tensor attributes (requires_grad etc.): ignored
                default: throw malformed("BUILD on a \(try top().kind) with \(state.kind) state")
                }
            case 0x51:                                                // BINPERSID 'Q'
                let pid = try pop()
                stack.append(try persistentLoad(pid))
            default:
                throw malformed(String(format: "unsupported opcode 0x%02x at byte %d", op, position - 1))
            }
        }
    }

    private func makeDict(_ items: [PickleValue]) throws -> PickleDict {
        guard items.count % 2 == 0 else { throw malformed("DICT with an odd number of items") }
        let d = PickleDict()
        for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
        return d
    }

    /// Interprets a call of an accepted global; nothing is ever executed.
    private func call(_ callable: PickleValue, _ argsValue: PickleValue) throws -> PickleValue {
        guard case let .global(g) = callable else { throw malformed("REDUCE of a \(callable.kind)") }
        guard case let .tuple(args) = argsValue else { throw malformed("REDUCE arguments are a \(argsValue.kind)") }
        switch g {
        case .orderedDict:
            let d = PickleDict()
            if let first = args.first {  // (duplicate keys in the list: the replaced values stay in `args`)   // OrderedDict([(k, v), ...])
                guard case let .list(pairs) = first else { throw malformed("OrderedDict(\(first.kind))") }
                for p in pairs.items {
                    guard case let .tuple(kv) = p, kv.count == 2 else { throw malformed("OrderedDict item is not a pair") }
                    d.set(kv[0], kv[1])
                }
            }
            return .dict(d)
        case .rebuildTensorV2, .rebuildTensor:
            // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            // _rebuild_tensor(storage, storage_offset, size, stride)
            guard args.count >= 4, case let .storage(storage) = args[0], case let .int(offset) = args[1],
                  let shape = ints(args[2]), let strides = ints(args[3]), shape.count == strides.count
            else { throw malformed("unexpected _rebuild_tensor arguments") }
            return .tensor(TensorRef(storage: storage, offset: offset, shape: shape, strides: strides))
        case .rebuildParameter, .rebuildParameterWithState:
            // _rebuild_parameter(data, requires_grad, backward_hooks[, state]): the parameter is its data
            guard let data = args.first, case .tensor = data else { throw malformed("unexpected _rebuild_parameter arguments") }
            return data
        case let .storage(type):
            throw malformed("\(type.name) called directly")
        }
    }

    private func ints(_ v: PickleValue) -> [Int]? {
        let items: [PickleValue]
        switch v {
        case let .tuple(t): items = t.items
        case let .list(l): items = l.items
        default: return nil
        }
        var out: [Int] = []
        for item in items {
            guard case let .int(i) = item else { return nil }
            out.append(i)
        }
        return out
    }
}

/// The restricted unpickler over raw bytes, for fuzzing and tools that check a pickle without a checkpoint around
/// it. Storage persistent ids are parsed as torch's; nothing is ever called or imported.
///
/// ```swift
/// let kind = try RestrictedUnpickler.load(Data(bytes), file: "data.pkl")   // "dict"
/// ```
public enum RestrictedUnpickler {
    /// Runs the first pickle in `data` to its STOP opcode and returns the Python type of the result ("dict", "list",
    /// "tensor", ...). Throws `CheckpointError` (malformed, truncated, forbidden global, or `.limit` for the nesting
    /// and opcode limits), naming `file`.
    public static func load(_ data: Data, file: String, limits: InputLimits = InputLimits.current) throws -> String {
        let arena = PickleArena()
        defer { arena.dismantle() }
        return try CheckpointError.wrapping {
            try data.withUnsafeBytes { raw in
                var u = Unpickler(bytes: raw, file: file, arena: arena, limits: limits) {
                    .storage(try TorchCheckpoint.storageRef($0, file: file))
                }
                return try u.load().kind
            }
        }
    }
}
