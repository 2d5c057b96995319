import Backbones
import Foundation
import TensorCore

/// Entry points shared by the command-line tool and the server.
public enum PatchCorePipeline {
    /// The default configuration for a backbone: its default taps and input normalisation, resize 256 + crop 224,
    /// 10% coreset, reweighting with 9 neighbours, blur sigma 4.
    public static func defaultConfig(backbone: String) throws -> PatchCoreConfig {
        guard BackboneRegistry.names.contains(backbone) else {
            throw PatchCoreError.invalidConfiguration("unknown backbone '\(backbone)'; known: \(BackboneRegistry.names.joined(separator: ", "))")
        }
        let norm = BackboneRegistry.inputNormalization(backbone)
        return PatchCoreConfig(backbone: backbone, taps: BackboneRegistry.defaultTaps(backbone), mean: norm.mean, std: norm.std)
    }

    /// Sets the compute threads (OpenBLAS and our own parallel loops).
    public static func setThreads(_ n: Int) {
        ComputeThreads.set(n)
    }
}
