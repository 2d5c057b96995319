// libFuzzer target: the PatchCore model-file loader (`ModelFile.read`). It reads from a path only, so each input
// is written to one temp file first (ask: a `ModelFile.decode(_ data: Data, file:)` entry point would make this
// faster). A thrown error is fine; a trap, an ASan report, a timeout or running out of memory is a finding.
// Built only with PATCHCORE_FUZZ=1 (see bench/FUZZ.md).
import Foundation
import ImageIO
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
        // What the first predict does with the config read from the file: the input transform (on a 2 x 2 image, so
        // the cost is the file's sizes, not the picture's). Sizes out of any sane range must have failed the read.
        let probe = Image(width: 2, height: 2, channels: 3, pixels: [UInt8](repeating: 128, count: 12))
        switch model.config.transform {
        case let .resizeCrop(resize, crop): _ = probe.resized(shorterSide: resize).centerCropped(width: crop, height: crop)
        case let .resize(width, height): _ = probe.resized(width: width, height: height)
        case let .shortSide(side: side): _ = probe.resized(shorterSide: side)
        case .native:
            let size = model.config.transform.inputSize(forWidth: 64, height: 64)
            _ = probe.resized(width: size.width, height: size.height)
        }
    } catch {
        // Rejected with an error: fine.
    }
    return 0
}
