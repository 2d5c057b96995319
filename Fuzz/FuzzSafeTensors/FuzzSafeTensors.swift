// libFuzzer target: a .safetensors file decoded from memory (`SafeTensors.decode`). A thrown error is fine; a
// trap, an ASan report, a timeout or running out of memory is a finding. Built only with PATCHCORE_FUZZ=1.
import Foundation
import Checkpoints

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    do {
        let contents = try SafeTensors.decode(data, file: "fuzz-input.safetensors")
        for (_, t) in contents.tensors where t.scalars.count != t.shape.reduce(1, *) {
            fatalError("tensor element count does not match its shape")
        }
    } catch {
        // Rejected with an error: fine.
    }
    return 0
}
