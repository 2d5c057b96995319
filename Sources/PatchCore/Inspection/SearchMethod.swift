import MemoryBank

/// How scoring finds each patch's nearest normal patch. `exact` (the default, what fitting calibrated the threshold
/// with) or an approximate inverted-file search that visits `probes` of `lists` k-means lists per patch
/// (`InvertedFileIndex`). Approximate distances are never below the exact ones, so scores can only rise: measure
/// recall and the AUROC change on your data first (bench/RESULTS.md, "Approximate search").
///
/// ```swift
/// let scorer = try PatchCoreScorer.load(modelURL, search: .invertedFile(lists: nil, probes: 32))
/// ```
public enum SearchMethod: Sendable, Equatable, CustomStringConvertible {
    case exact
    /// lists: nil for round(sqrt(bank rows)).
    case invertedFile(lists: Int?, probes: Int)

    /// The bank that searches this way (the normal bank of a model; the positive bank stays exact: it is small).
    public func apply(to bank: MemoryBank) throws(MemoryBankError) -> MemoryBank {
        switch self {
        case .exact: return bank
        case let .invertedFile(lists, probes): return try bank.withInvertedFileIndex(lists: lists, probes: probes)
        }
    }

    public var description: String {
        switch self {
        case .exact: return "exact"
        case let .invertedFile(lists, probes): return "inverted file (\(probes) of \(lists.map(String.init) ?? "sqrt(N)") lists, approximate)"
        }
    }
}
