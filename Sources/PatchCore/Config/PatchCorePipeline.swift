import Backbones
import Foundation
import TensorCore

/// Entry points shared by the command-line tool and the server.
public enum PatchCorePipeline {
    /// The default configuration for a backbone: its default taps and input normalisation, resize 256 + crop 224,
    /// 10% coreset, reweighting with 9 neighbours, blur sigma 4.
    public static func defaultConfig(backbone: String) throws -> PatchCoreConfig {
        let norm = BackboneRegistry.inputNormalization(backbone)
        let config = PatchCoreConfig(backbone: backbone, taps: BackboneRegistry.defaultTaps(backbone), mean: norm.mean, std: norm.std)
        try config.validate()   // an unknown backbone is refused there, with the known names
        return config
    }

    /// Sets the compute threads (OpenBLAS and our own parallel loops).
    public static func setThreads(_ n: Int) {
        ComputeThreads.set(n)
    }
}
