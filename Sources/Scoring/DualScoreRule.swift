/// How PatchCoreDual turns a test image's distances to the negative (normal) and positive (defect) banks into
/// one image score. `thesis` is the formula of the thesis slides; the others follow its intent ("dissimilar from
/// normal patterns and similar to known defects") more closely. See `DualScoring` for the formulas.
///
/// Each rule is a choice of the test patch whose positive distance is used (`positivePatch`) and of how the
/// weighted negative and positive scores s_N, s_P are combined (`combination`):
///
/// | rule | positive patch m^test,+ | image score |
/// |---|---|---|
/// | `thesis` | argmax over test patches of the positive distance (literal slides) | s_N / (s_P + eps) |
/// | `at_negative_argmax` | m^test,*, the patch most anomalous on the negative side | s_N / (s_P + eps) |
/// | `min_positive` | argmin over test patches of the positive distance | s_N / (s_P + eps) |
/// | `difference` | m^test,* | s_N - s_P |
/// | `log_ratio` | m^test,* | z(log s_N) - z(log s_P), z from training-image statistics |
/// | `patch_log_ratio` | the patch with the largest z(log n_i) - z(log p_i), which is also m^test,* here | z(log s_N) - z(log s_P) |
///
/// ```swift
/// let rule = DualScoreRule(rawValue: "at_negative_argmax")!   // as on the command line / in the model file
/// rule.positivePatch   // .atNegativeArgmax
/// ```
public enum DualScoreRule: String, Sendable, Codable, CaseIterable, Equatable {
    /// The thesis formula as written: both sides reduce by "max over test patches".
    case thesis
    /// The positive distance of the test patch that is farthest from the negative bank.
    case atNegativeArgmax = "at_negative_argmax"
    /// The smallest positive distance over the test patches (the patch most like a known defect).
    case minPositive = "min_positive"
    /// s_N - s_P with the positive side at the negative argmax.
    case difference
    /// Calibrated log-ratio with the positive side at the negative argmax (see `DualLogRatioCalibration`).
    case logRatio = "log_ratio"
    /// Calibrated log-ratio at the one test patch where it is largest: both sides are read at the patch that is at
    /// once far from the normal bank and near the defect bank, rather than at the patch farthest from normal.
    case patchLogRatio = "patch_log_ratio"

    /// Which test patch supplies the negative distance s_N* (and m^test,*).
    public enum NegativePatch: Sendable, Equatable {
        /// argmax_i n_i (thesis).
        case farthest
        /// argmax_i z_N(log n_i) - z_P(log p_i) with the rule's calibration.
        case largestLogRatio
    }

    /// Which test patch supplies the positive distance s_P*.
    public enum PositivePatch: Sendable, Equatable {
        /// argmax_i p_i (thesis).
        case farthest
        /// the negative side's m^test,* (argmax_i n_i).
        case atNegativeArgmax
        /// argmin_i p_i.
        case nearest
    }

    /// How s_N and s_P become the image score (and n_i, p_i the patch scores of the map).
    public enum Combination: Sendable, Equatable {
        case ratio
        case difference
        case calibratedLogRatio
    }

    public var positivePatch: PositivePatch {
        switch self {
        case .thesis: return .farthest
        case .minPositive: return .nearest
        case .atNegativeArgmax, .difference, .logRatio, .patchLogRatio: return .atNegativeArgmax
        }
    }

    public var negativePatch: NegativePatch {
        switch self {
        case .thesis, .atNegativeArgmax, .minPositive, .difference, .logRatio: return .farthest
        case .patchLogRatio: return .largestLogRatio
        }
    }

    public var combination: Combination {
        switch self {
        case .thesis, .atNegativeArgmax, .minPositive: return .ratio
        case .difference: return .difference
        case .logRatio, .patchLogRatio: return .calibratedLogRatio
        }
    }

    /// The rule `--dual-score` uses when not given: `patch_log_ratio`, which beat `log_ratio` (the best of the first
    /// five rules, bench/DESIGN_NOTES.md#dual-score-default) on image AUROC in every Magnetic Tile setting measured
    /// (bench/RESULTS.md). The plain ratio lets the side with the larger spread dominate; the z-scored logs weigh s_N
    /// and s_P by how much they vary on good images.
    public static let `default`: DualScoreRule = .patchLogRatio

    /// The raw values, for help texts: `thesis|at_negative_argmax|min_positive|difference|log_ratio|patch_log_ratio`.
    public static var choices: String { allCases.map(\.rawValue).joined(separator: "|") }
}
