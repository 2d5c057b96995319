// libFuzzer target: a whole torch.save file (zip or legacy pickle stream) through `TorchCheckpoint.read`.
// The reader maps the file and, for deflated zip entries, reopens it by path (StoredZip.inflate via ZIPFoundation),
// so each input is written to one temp file first (a `TorchCheckpoint.decode(_ data: Data, file:)` entry point that
// inflates from the bytes would be faster and would make the reader independent of the file changing underneath).
// A thrown error is fine; a trap, an ASan report, a timeout or running out of memory is a finding.
// Built only with PATCHCORE_FUZZ=1 (see bench/FUZZ.md).
import Foundation
import Checkpoints

private let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("patchcore-fuzz-checkpoint-\(getpid()).pth")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTorchCheckpoint(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    do {
        try data.write(to: url)
    } catch {
        fatalError("cannot write the fuzz input to \(url.path): \(error)")
    }
    do {
        _ = try TorchCheckpoint.read(url)
    } catch {
        // Rejected with an error: fine.
    }
    return 0
}
