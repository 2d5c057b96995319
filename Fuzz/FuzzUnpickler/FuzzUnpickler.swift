// libFuzzer target: the restricted unpickler over raw bytes (Checkpoints/Unpickler.swift), with the storage
// persistent-id resolver torch checkpoints use. A thrown error is fine; a trap, an ASan report, a stack overflow,
// a timeout or running out of memory is a finding. Built only with PATCHCORE_FUZZ=1 (see bench/FUZZ.md).
import Foundation
@testable import Checkpoints

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUnpickler(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let raw = UnsafeRawBufferPointer(start: start, count: count)
    let file = "fuzz-input.pkl"
    let arena = PickleArena()
    defer { arena.dismantle() }
    do {
        var unpickler = Unpickler(bytes: raw, file: file, arena: arena) {
            .storage(try TorchCheckpoint.storageRef($0, file: file))
        }
        let root = try unpickler.load()
        // Walk the result the way the checkpoint reader does (storages resolve to zero bytes: a truncation error).
        _ = try TorchCheckpoint.stateDict(from: root, file: file) { _ in Data() }
    } catch {
        // Rejected with an error: fine.
    }
    return 0
}
