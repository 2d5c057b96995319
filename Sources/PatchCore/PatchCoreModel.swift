import TensorCore

/// A fitted PatchCore model: configuration, what fitting recorded, and the memory bank of normal patch features.
/// One value that saves, loads and compares equal.
public struct PatchCoreModel: Sendable, Equatable {
    public var config: PatchCoreConfig
    public var info: ModelInfo
    /// Coreset of normal patch features, (N, D).
    public var bank: Tensor

    public init(config: PatchCoreConfig, info: ModelInfo, bank: Tensor) {
        self.config = config; self.info = info; self.bank = bank
    }
}
