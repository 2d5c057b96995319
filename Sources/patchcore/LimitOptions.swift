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

    @Option(help: "Most bytes of one tensor in a weights or model file.")
    var maxTensorBytes: Int = InputLimits().maxTensorBytes

    @Option(help: "Deepest nesting of lists / dicts in a pickled checkpoint.")
    var maxNestingDepth: Int = InputLimits().maxNestingDepth

    @Option(help: "Most opcodes run while reading one pickled checkpoint.")
    var maxPickleOpcodes: Int = InputLimits().maxPickleOpcodes

    func validate() throws {
        for (name, value) in [("--max-image-pixels", maxImagePixels), ("--max-image-side", maxImageSide),
                              ("--max-file-bytes", maxFileBytes), ("--max-tensor-elements", maxTensorElements),
                              ("--max-tensor-bytes", maxTensorBytes), ("--max-nesting-depth", maxNestingDepth),
                              ("--max-pickle-opcodes", maxPickleOpcodes)] {
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
        limits.maxTensorBytes = maxTensorBytes
        limits.maxNestingDepth = maxNestingDepth
        limits.maxPickleOpcodes = maxPickleOpcodes
        InputLimits.current = limits
    }
}
