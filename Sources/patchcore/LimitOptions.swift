import ArgumentParser
import Foundation
import TensorCore

/// `--max-*`: the input limits (`InputLimits`) for one run. The defaults refuse only what no genuine camera image,
/// checkpoint or config asks for; raise a limit when a genuine file is refused (the error names the option).
struct LimitOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Most pixels of one image, decoded or after any resize."))
    var maxImagePixels: Int = InputLimits().maxImagePixels

    @Option(help: ArgumentHelp("Longest side of one image, decoded or after any resize."))
    var maxImageSide: Int = InputLimits().maxImageSide

    @Option(help: ArgumentHelp("Most bytes of one image, config, manifest or review file."))
    var maxFileBytes: Int = InputLimits().maxEncodedFileBytes

    @Option(help: ArgumentHelp("Most elements of one tensor in a weights or model file."))
    var maxTensorElements: Int = InputLimits().maxTensorElements

    func validate() throws {
        for (name, value) in [("--max-image-pixels", maxImagePixels), ("--max-image-side", maxImageSide),
                              ("--max-file-bytes", maxFileBytes), ("--max-tensor-elements", maxTensorElements)] {
            if value < 1 { throw ValidationError("\(name) must be at least 1, got \(value)") }
        }
        // Applied while parsing, so no command can start reading before its limits are in force.
        apply()
    }

    /// Makes these limits the ones every reader checks against.
    func apply() {
        var limits = InputLimits()
        limits.maxImagePixels = maxImagePixels
        limits.maxImageSide = maxImageSide
        limits.maxEncodedFileBytes = maxFileBytes
        limits.maxTensorElements = maxTensorElements
        // Bytes follow elements (float32), so raising one raises the other.
        let (bytes, overflow) = maxTensorElements.multipliedReportingOverflow(by: 4)
        limits.maxTensorBytes = max(limits.maxTensorBytes, overflow ? Int.max : bytes)
        InputLimits.current = limits
    }
}
