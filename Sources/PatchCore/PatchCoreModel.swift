import TensorCore

/// A fitted PatchCore model: configuration, what fitting recorded, and the memory bank of normal patch features;
/// a PatchCoreDual model also holds a positive bank of defect patch features and `dual` (how it was built and
/// how it scores). One value that saves, loads and compares equal.
public struct PatchCoreModel: Sendable, Equatable {
    public var config: PatchCoreConfig
    public var info: ModelInfo
    /// Coreset of normal patch features, (N, D) (the negative bank in dual mode).
    public var bank: Tensor
    /// Coreset of defect patch features, (Np, D); nil for a plain (single-bank) model.
    public var positiveBank: Tensor?
    /// Dual-mode record; present exactly when `positiveBank` is.
    public var dual: DualBankInfo?

    public init(config: PatchCoreConfig, info: ModelInfo, bank: Tensor, positiveBank: Tensor? = nil, dual: DualBankInfo? = nil) {
        self.config = config; self.info = info; self.bank = bank; self.positiveBank = positiveBank; self.dual = dual
    }

    /// Whether the model scores with both banks.
    public var isDual: Bool { positiveBank != nil && dual != nil }
}
