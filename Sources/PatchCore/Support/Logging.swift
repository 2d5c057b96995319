import Logging

/// The library's diagnostics go through swift-log under the label "patchcore" (the default bootstrap writes them
/// to standard error at `info` and above; an embedding app installs its own handler). The library never prints.
let logger = Logger(label: "patchcore")
