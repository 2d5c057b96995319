import Foundation
import TensorCore

/// Loads a state dict from `.safetensors` or PyTorch `.pth`/`.pt`/`.bin` (zip or legacy pickle), chosen by
/// content, not by extension: `PK\x03\x04` is a torch zip, `\x80` a legacy torch pickle stream, anything else
/// is read as safetensors. Tensors are widened to Float32; pickles are read by a restricted unpickler that
/// refuses every global except tensors, storages and ordered dicts.
///
/// Every size read from the file is checked against `InputLimits.current` before anything is allocated. Errors are
/// `CheckpointError`s naming the file (`.limit` wraps the shared `InputLimitError` for a file that asks for more
/// than the limits or whose sizes overflow, naming the field).
///
/// ```swift
/// let sd = try CheckpointLoader.load(URL(fileURLWithPath: "/root/.cache/patchcore/weights/mobilenet_v2-b0353104.pth"))
/// let w = try sd.tensor("features.0.0.weight", shape: [32, 3, 3, 3])
/// ```
public enum CheckpointLoader {
    public static func load(_ url: URL) throws -> StateDict {
        let data = try TorchCheckpoint.mappedContents(of: url)
        return try CheckpointError.wrapping { try unwrappedLoad(data, file: url.path, url: url, limits: InputLimits.current) }
    }

    /// The same over bytes already in memory; `file` names them in errors (fuzzing, embedded weights).
    public static func load(_ data: Data, file: String, limits: InputLimits = InputLimits.current) throws -> StateDict {
        try CheckpointError.wrapping { try unwrappedLoad(data, file: file, url: nil, limits: limits) }
    }

    private static func unwrappedLoad(_ data: Data, file: String, url: URL?, limits: InputLimits) throws -> StateDict {
        guard !data.isEmpty else { throw CheckpointError.truncated(file: file, expectedBytes: 8, actualBytes: 0) }
        if data.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return try TorchCheckpoint.readZip(data, file: file, url: url, limits: limits) }
        if data.first == 0x80 { return try TorchCheckpoint.readLegacy(data, file: file, limits: limits) }
        if data.starts(with: [0x50, 0x4B]) || data.starts(with: [0x1F, 0x8B]) {
            throw CheckpointError.malformed(file: file, reason: "an empty, spanned or compressed archive, not a torch checkpoint")
        }
        do {
            let contents = try SafeTensors.decode(data, file: file, limits: limits)
            return StateDict(file: file, tensors: contents.tensors)
        } catch let CheckpointError.malformed(_, reason) {
            throw CheckpointError.malformed(file: file, reason: "not a torch zip, torch pickle or safetensors file (as safetensors: \(reason))")
        }
    }
}
