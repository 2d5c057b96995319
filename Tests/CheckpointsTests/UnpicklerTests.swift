import Foundation
import Testing
import TensorCore
@testable import Checkpoints

/// Hand-assembled pickles for opcodes the torch fixtures do not exercise. A class so that each test's arena is
/// dismantled when the test ends (the self-referential values would otherwise leak under LeakSanitizer).
@Suite final class UnpicklerTests {
    let arena = PickleArena()
    deinit { arena.dismantle() }
    func run(_ bytes: [UInt8]) throws -> PickleValue {
        try bytes.withUnsafeBytes { raw in
            var u = Unpickler(bytes: raw, file: "t.pkl", arena: arena) { _ in .none }
            return try u.load()
        }
    }

    func s(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func numbersListsAndMemo() throws {
        // protocol 2: [1, -1, -1 (LONG1), 1.5, 1000, 70000, big, 'x', 'x' (BINGET), True, None, (1, 2, 3)]
        var p: [UInt8] = [0x80, 2, 0x5D, 0x71, 0, 0x28]
        p += [0x4B, 1]                                  // BININT1 1
        p += [0x4A, 0xFF, 0xFF, 0xFF, 0xFF]             // BININT -1
        p += [0x8A, 1, 0xFF]                            // LONG1 -1
        p += [0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0]       // BINFLOAT 1.5 (big-endian)
        p += [0x4D, 0xE8, 0x03]                         // BININT2 1000
        p += [0x8A, 3, 0x70, 0x11, 0x01]                // LONG1 70000
        p += [0x8A, 9, 1, 0, 0, 0, 0, 0, 0, 0, 1]       // LONG1 2^64 + 1: kept as bytes
        p += [0x8C, 1] + s("x") + [0x94]                // SHORT_BINUNICODE 'x', MEMOIZE (memo[1])
        p += [0x68, 1]                                  // BINGET 1
        p += [0x88, 0x4E]                               // NEWTRUE, NONE
        p += [0x4B, 1, 0x4B, 2, 0x4B, 3, 0x87]          // TUPLE3
        p += [0x65, 0x2E]                               // APPENDS, STOP
        guard case let .list(l) = try run(p) else { Issue.record("not a list"); return }
        let ints = l.items.prefix(7).map { v -> Int? in if case let .int(i) = v { return i } else { return nil } }
        #expect(ints[0] == 1 && ints[1] == -1 && ints[2] == -1 && ints[4] == 1000 && ints[5] == 70000)
        if case let .float(f) = l.items[3] { #expect(f == 1.5) } else { Issue.record("no float") }
        if case let .bigInt(b) = l.items[6] { #expect(b == [1, 0, 0, 0, 0, 0, 0, 0, 1]) } else { Issue.record("no bigint") }
        if case let .string(x) = l.items[8] { #expect(x == "x") } else { Issue.record("BINGET") }
        if case let .tuple(t) = l.items[11] { #expect(t.count == 3) } else { Issue.record("TUPLE3") }
    }

    @Test func protocol4FrameAndStackGlobalOrderedDict() throws {
        // FRAME, STACK_GLOBAL collections.OrderedDict, EMPTY_TUPLE, REDUCE, SETITEM, BUILD with a _metadata dict
        var p: [UInt8] = [0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0]
        p += [0x8C, 11] + s("collections") + [0x8C, 11] + s("OrderedDict") + [0x93, 0x29, 0x52]
        p += [0x8C, 1] + s("k") + [0x4B, 7, 0x73]                          // d['k'] = 7
        p += [0x7D, 0x8C, 9] + s("_metadata") + [0x7D, 0x73, 0x62, 0x2E]  // BUILD {'_metadata': {}}
        guard case let .dict(d) = try run(p) else { Issue.record("not a dict"); return }
        #expect(d.count == 1)
        if case let .int(v) = d["k"] ?? .none { #expect(v == 7) } else { Issue.record("d['k']") }
    }

    @Test func refusedGlobalsNeverRun() {
        let cases: [([UInt8], String)] = [
            ([0x80, 2, 0x63] + s("os\nsystem\n") + [0x2E], "os.system"),
            ([0x80, 2, 0x63] + s("builtins\nexec\n") + [0x2E], "builtins.exec"),
            ([0x80, 2, 0x69] + s("subprocess\nPopen\n") + [0x2E], "subprocess.Popen"),  // INST
            ([0x80, 2, 0x63] + s("torch\nTensor\n") + [0x2E], "torch.Tensor"),
            ([0x80, 2, 0x63] + s("torch._utils\n_rebuild_device_tensor_from_numpy\n") + [0x2E], "torch._utils._rebuild_device_tensor_from_numpy"),
        ]
        for (bytes, what) in cases {
            #expect(checkpointError { _ = try run(bytes) } == .forbiddenPickle(file: "t.pkl", what: what))
        }
    }

    @Test func malformedPicklesAreErrorsNotCrashes() {
        let cases: [[UInt8]] = [
            [0x80, 2, 0x5D],                      // no STOP
            [0x80, 2, 0x2E],                      // STOP on an empty stack
            [0x80, 2, 0x73, 0x2E],                // SETITEM on an empty stack
            [0x80, 2, 0x68, 5, 0x2E],             // BINGET of an undefined memo key
            [0x80, 2, 0x58, 0xFF, 0xFF, 0, 0],    // BINUNICODE longer than the file
            [0x80, 2, 0x4B, 1, 0x61, 0x2E],       // APPEND to an int
            [0x80, 2, 0x28, 0x4B, 1, 0x86, 0x2E], // TUPLE2 across a MARK
            [0x80, 2, 0x46, 0x2E],                // FLOAT (text opcode): unsupported
            [0x80, 2, 0x8A, 2, 0x4B, 1],          // bigint cut off
        ]
        for bytes in cases {
            let error = checkpointError { _ = try run(bytes) }
            #expect(error != nil, "\(bytes) did not fail")
            if case .forbiddenPickle = error { Issue.record("\(bytes): wrong error \(String(describing: error))") }
        }
    }

    @Test func selfReferentialDictDoesNotLoop() throws {
        // d = {}; d['a'] = d; d['model'] = d  -> no tensors, no hang
        let p: [UInt8] = [0x80, 2, 0x7D, 0x71, 0, 0x8C, 1] + s("a") + [0x68, 0, 0x73, 0x8C, 5] + s("model") + [0x68, 0, 0x73, 0x2E]
        let root = try run(p)
        let sd = try TorchCheckpoint.stateDict(from: root, file: "t.pkl") { _ in Data() }
        #expect(sd.tensors.isEmpty)
    }

    @Test func persistentIdsBecomeStorages() throws {
        // _rebuild_tensor_v2(('storage', torch.HalfStorage, '0', 'cpu', 2), 0, (2,), (1,), False, OrderedDict())
        var p: [UInt8] = [0x80, 2, 0x7D, 0x8C, 1] + s("w")
        p += [0x63] + s("torch._utils\n_rebuild_tensor_v2\n") + [0x28]
        p += [0x28, 0x8C, 7] + s("storage") + [0x63] + s("torch\nHalfStorage\n") + [0x8C, 1] + s("0") + [0x8C, 3] + s("cpu") + [0x4B, 2, 0x74, 0x51]
        p += [0x4B, 0, 0x4B, 2, 0x85, 0x4B, 1, 0x85, 0x89, 0x63] + s("collections\nOrderedDict\n") + [0x29, 0x52, 0x74, 0x52, 0x73, 0x2E]
        let root = try p.withUnsafeBytes { raw in
            var u = Unpickler(bytes: raw, file: "t.pkl", arena: arena) { .storage(try TorchCheckpoint.storageRef($0, file: "t.pkl")) }
            return try u.load()
        }
        let half: [UInt8] = [0x00, 0x3C, 0x00, 0xC0]  // 1.0, -2.0
        let sd = try TorchCheckpoint.stateDict(from: root, file: "t.pkl") { ref in
            #expect(ref.key == "0" && ref.elementCount == 2 && ref.type.scalarType == .float16)
            return Data(half)
        }
        #expect(sd.tensors["w"] == Tensor(shape: [2], scalars: [1, -2]))
    }

    /// 100 000 nested tuples / lists: refused at the nesting limit (an `InputLimitError` naming the file), and what
    /// was built so far is freed iteratively by the arena, on errors as on success; with the limit raised they load.
    @Test func deeplyNestedPicklesAreRefusedAndFreedWithoutRecursion() throws {
        let depth = 100_000
        let tuples: [UInt8] = [0x80, 2, 0x4E] + [UInt8](repeating: 0x85, count: depth) + [0x2E]
        var lists: [UInt8] = [0x80, 2] + [UInt8](repeating: 0x28, count: depth) + [UInt8](repeating: 0x6C, count: depth)
        lists += [0x2E]
        for bytes in [tuples, lists] {
            let arena = PickleArena()
            do {
                _ = try bytes.withUnsafeBytes { raw in
                    var u = Unpickler(bytes: raw, file: "t.pkl", arena: arena) { _ in .none }
                    return try u.load()
                }
                Issue.record("a pickle nested \(depth) deep loaded under the default limit")
            } catch let e as InputLimitError {
                #expect(e.file == "t.pkl" && e.field.contains("depth"), "\(e)")
            }
            arena.dismantle()
            // Raised limits: the whole structure is built, then freed without recursion.
            var generous = InputLimits()
            generous.maxNestingDepth = 2 * depth
            let big = PickleArena()
            let root = try bytes.withUnsafeBytes { raw in
                var u = Unpickler(bytes: raw, file: "t.pkl", arena: big, limits: generous) { _ in .none }
                return try u.load()
            }
            #expect(root.kind == "tuple" || root.kind == "list")
            #expect(root.depth == depth)
            big.dismantle()
        }
        // Through the loader: the first pickle is refused by depth, then a clean free.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("deep-\(UUID().uuidString).pth")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(tuples).write(to: url)
        guard case let .limit(e)? = checkpointError({ _ = try CheckpointLoader.load(url) }) else {
            Issue.record("expected .limit"); return
        }
        #expect(e.file == url.path && e.field.contains("depth"), "\(e)")
        // ... and a pickle cut off in the middle, shallow enough to get there
        let shallow: [UInt8] = [0x80, 2] + [UInt8](repeating: 0x28, count: 500) + [UInt8](repeating: 0x6C, count: 250)
        try Data(shallow).write(to: url)
        if case .truncated = checkpointError({ _ = try CheckpointLoader.load(url) }) {} else { Issue.record("expected .truncated") }
    }

    /// A legacy file assembled byte by byte, with a storage *view* (old torch versions saved these):
    /// view 'v1' starts 2 elements into root storage 'root' (6 floats); the tensor starts 1 element into the view.
    @Test func legacyStorageViewsResolveToTheirRoot() throws {
        func u(_ text: String) -> [UInt8] { [0x8C, UInt8(text.utf8.count)] + s(text) }
        var f: [UInt8] = [0x80, 2, 0x8A, 10] + TorchCheckpoint.legacyMagic + [0x2E]   // magic number
        f += [0x80, 2, 0x4D, 0xE9, 0x03, 0x2E]                                          // protocol 1001
        f += [0x80, 2, 0x7D] + u("little_endian") + [0x88, 0x73, 0x2E]                  // sys_info
        f += [0x80, 2, 0x7D] + u("v") + [0x63] + s("torch._utils\n_rebuild_tensor_v2\n") + [0x28]
        f += [0x28] + u("storage") + [0x63] + s("torch\nFloatStorage\n") + u("v1") + u("cpu") + [0x4B, 3]
        f += [0x28] + u("root") + [0x4B, 2, 0x4B, 3, 0x74] + [0x74, 0x51]               // view tuple, BINPERSID
        f += [0x4B, 1, 0x4B, 2, 0x85, 0x4B, 1, 0x85, 0x89, 0x63] + s("collections\nOrderedDict\n") + [0x29, 0x52, 0x74, 0x52]
        f += [0x73, 0x2E]
        f += [0x80, 2, 0x5D] + u("root") + [0x61, 0x2E]                                 // storage keys
        f += [6, 0, 0, 0, 0, 0, 0, 0]
        for x: Float in [0, 1, 2, 3, 4, 5] { withUnsafeBytes(of: x.bitPattern.littleEndian) { f += $0 } }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("view-\(UUID().uuidString).pth")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(f).write(to: url)
        let sd = try CheckpointLoader.load(url)
        #expect(sd.tensors == ["v": Tensor(shape: [2], scalars: [3, 4])])
        // one byte less: the storage no longer holds 6 floats
        try Data(f.dropLast()).write(to: url)
        if case .truncated = checkpointError({ _ = try CheckpointLoader.load(url) }) {} else { Issue.record("expected .truncated") }
    }
}
