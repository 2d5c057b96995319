// libFuzzer target: the PatchCore model-file loader (`ModelFile.read`). It reads from a path only, so each input
// is written to one temp file first (ask: a `ModelFile.decode(_ data: Data, file:)` entry point would make this
// faster). A thrown error is fine; a trap, an ASan report, a timeout or running out of memory is a finding.
// Built only with PATCHCORE_FUZZ=1 (see bench/FUZZ.md).
import Foundation
import PatchCore

private let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("patchcore-fuzz-model-\(getpid()).safetensors")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelFile(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    do {
        try data.write(to: url)
    } catch {
        fatalError("cannot write the fuzz input to \(url.path): \(error)")
    }
    do {
        let model = try ModelFile.read(url)
        _ = model.id
    } catch {
        // Rejected with an error: fine.
    }
    return 0
}
