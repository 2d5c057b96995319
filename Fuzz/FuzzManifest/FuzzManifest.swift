// libFuzzer target: the CSV manifest reader (RFC 4180 parser and the manifest layout on top, without checking that
// the listed images exist). The layout reads from a path, so each input goes to one temp file first. A thrown
// error is fine; a trap, an ASan report, a timeout or running out of memory is a finding. PATCHCORE_FUZZ=1 only.
import Foundation
@testable import Datasets

private let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("patchcore-fuzz-manifest-\(getpid()).csv")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    // The parser alone, on any text the bytes decode to.
    _ = try? CSVReader.parse(String(decoding: data, as: UTF8.self), file: "fuzz-input.csv")
    do {
        try data.write(to: url)
    } catch {
        fatalError("cannot write the fuzz input to \(url.path): \(error)")
    }
    _ = try? CSVManifestLayout.load(url, checkFilesExist: false)
    return 0
}
