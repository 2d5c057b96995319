// libFuzzer target: PNG / JPEG bytes -> Image -> the model's first preprocessing transform.
// A thrown error is a correct answer; a trap, an ASan report, a timeout or running out of memory is a finding.
// Built only by `make fuzz-smoke` / `make fuzz` (PATCHCORE_FUZZ=1); see bench/FUZZ.md.
import Foundation
import ImageIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImageDecode(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    do {
        let image = try ImageFile.decode(data, file: "fuzz-input")
        // FeatureExtractor.prepare with the default config: RGB, torchvision Resize(256) + CenterCrop(224), through
        // the limit-checked transforms it uses.
        let rgb = image.channels == 3 ? image : image.toRGB()
        let prepared = try rgb.resized(shorterSide: 256, nearest: false, file: "fuzz-input")
            .centerCropped(width: 224, height: 224, file: "fuzz-input")
        // And the mask path (nearest, gray), which ground-truth masks take.
        let gray = image.channels == 1 ? image : image.toGray()
        let mask = try gray.resized(shorterSide: 256, nearest: true, file: "fuzz-input")
            .centerCropped(width: 224, height: 224, file: "fuzz-input")
        if prepared.width != 224 || mask.height != 224 { fatalError("preprocessing changed the crop size") }
    } catch {
        // Rejected with an error: fine.
    }
    return 0
}
