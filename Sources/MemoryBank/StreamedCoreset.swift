import TensorCore

/// A greedy coreset of more patch rows than should be held in memory at once, built as the rows arrive.
///
/// Rows are appended a batch (one image) at a time. While all rows fit in `chunkBytes` nothing else happens, and
/// `finish` returns the plain coreset of all rows, pick for pick (`GreedyCoresetSampler.select`). When a batch
/// would take the pending rows past `chunkBytes`, the pending rows are first reduced to their own greedy coreset of `oversampling` x the
/// ratio of their rows and only those rows are kept; `finish` reduces the last chunk the same way, then a final
/// greedy pass over the kept rows picks as many rows as the plain coreset of all rows would have
/// (`sampler.coresetSize(rows: total)`). Peak memory is then one chunk plus the kept rows, and the greedy work
/// grows with the chunk size times the total instead of the total squared. The picks differ from the plain
/// coreset's; bench/RESULTS.md measures what that costs.
///
/// Written here: no listed package builds a k-centre coreset in pieces. Every pass uses the same seeded sampler
/// (start point and projection), so the result depends only on the rows, their order and the settings.
///
/// ```swift
/// var stream = StreamedCoreset(sampler: GreedyCoresetSampler(ratio: 0.01), chunkBytes: 1 << 30)
/// for image in images { try stream.append(features(of: image)) }
/// let result = try stream.finish()      // result.bank (count, D); result.chunks == 0 when nothing was streamed
/// ```
public struct StreamedCoreset: Sendable {
    public let sampler: GreedyCoresetSampler
    /// Pending feature bytes (4 per scalar) that start a chunk's reduction.
    public let chunkBytes: Int
    /// A chunk keeps this many times the sampler's ratio of its rows (at most all of them).
    public let oversampling: Double

    /// Rows appended so far.
    public private(set) var totalRows = 0
    /// Chunks reduced so far (0 while everything fits in one).
    public private(set) var chunks = 0
    /// Feature dimension D (0 before the first rows).
    public private(set) var dimension = 0
    /// Rows the caller expects in all (a hint for allocating; 0: unknown).
    public var expectedRows = 0
    private var pending: [Float] = []
    private var kept: [Float] = []
    private var largestAppend = 0

    public static let defaultOversampling = 2.0

    public init(sampler: GreedyCoresetSampler, chunkBytes: Int, oversampling: Double = defaultOversampling) {
        precondition(chunkBytes >= 1 && oversampling >= 1, "chunkBytes >= 1 and oversampling >= 1")
        self.sampler = sampler; self.chunkBytes = chunkBytes; self.oversampling = oversampling
    }

    /// What was built: the bank rows, the rows kept from the chunks (0 when not streamed) and the chunk count.
    public struct Result: Sendable {
        public var bank: Tensor
        public var keptRows: Int
        public var chunks: Int
        /// Rows the bank was chosen from (every appended row).
        public var totalRows: Int
    }

    /// Adds (n, D) rows; first reduces the pending chunk when they would take it past `chunkBytes`.
    /// `progress(done, total)` reports the picks of a chunk's reduction when one runs.
    public mutating func append(_ rows: Tensor, progress: ((Int, Int) -> Void)? = nil) throws {
        guard rows.rank == 2, rows.shape[1] >= 1, dimension == 0 || rows.shape[1] == dimension else {
            throw MemoryBankError.badShape(tensor: "streamed coreset rows", expected: "(n,\(dimension == 0 ? "D" : "\(dimension)"))",
                                           actual: rows.shape)
        }
        if dimension == 0 { dimension = rows.shape[1] }
        // Reduce before the pending rows would pass the chunk's bytes, so a chunk never holds more (unless one batch does).
        if sampler.ratio < 1, !pending.isEmpty, (pending.count + rows.count) * 4 > chunkBytes { try reducePending(progress: progress) }
        largestAppend = max(largestAppend, rows.count)
        // One allocation for what the chunk will hold, so growth does not copy it (a copy doubles the peak).
        if pending.isEmpty, expectedRows > totalRows {
            pending.reserveCapacity(min(chunkScalars + largestAppend, (expectedRows - totalRows) * dimension))
        }
        pending.append(contentsOf: rows.scalars)
        totalRows += rows.shape[0]
    }

    /// The bank: the plain coreset of every row when nothing was streamed, else the final pass over the kept rows.
    /// `progress(done, total)` reports the picks of the last chunk's reduction and of the final pass.
    public mutating func finish(progress: ((Int, Int) -> Void)? = nil) throws -> Result {
        guard totalRows > 0 else {
            throw MemoryBankError.badShape(tensor: "streamed coreset rows", expected: "at least one row", actual: [0, dimension])
        }
        if chunks == 0 {
            let all = Tensor(shape: [totalRows, dimension], scalars: pending)
            pending = []
            guard sampler.ratio < 1 else { return Result(bank: all, keptRows: 0, chunks: 0, totalRows: totalRows) }
            let picks = try sampler.select(from: all, progress: progress)
            return Result(bank: all.gatherRows(picks), keptRows: 0, chunks: 0, totalRows: totalRows)
        }
        if !pending.isEmpty { try reducePending(progress: progress) }
        let union = Tensor(shape: [kept.count / dimension, dimension], scalars: kept)
        kept = []
        let count = sampler.coresetSize(rows: totalRows)
        guard union.shape[0] > count else {
            return Result(bank: union, keptRows: union.shape[0], chunks: chunks, totalRows: totalRows)
        }
        let picks = try sampler.select(from: union, count: count, progress: progress)
        return Result(bank: union.gatherRows(picks), keptRows: union.shape[0], chunks: chunks, totalRows: totalRows)
    }

    /// Every appended row as one (totalRows, D) tensor, handed over when no chunk was reduced (nil once one was, or
    /// when there is no row). The stream is then empty; the caller builds the coreset itself (`finish` would have
    /// given the same bank).
    public mutating func takeRows() -> Tensor? {
        guard chunks == 0, !pending.isEmpty else { return nil }
        defer { pending = []; totalRows = 0 }
        return Tensor(shape: [totalRows, dimension], scalars: pending)
    }

    private var chunkScalars: Int { max(dimension, chunkBytes / 4) }

    private mutating func reducePending(progress: ((Int, Int) -> Void)?) throws {
        let rows = pending.count / dimension
        var chunkSampler = sampler
        chunkSampler.ratio = min(1, sampler.ratio * oversampling)
        let selected: Tensor
        do {
            let chunk = Tensor(shape: [rows, dimension], scalars: pending)
            pending = []   // the chunk tensor now holds the only reference
            selected = chunkSampler.ratio >= 1 ? chunk : chunk.gatherRows(try chunkSampler.select(from: chunk, progress: progress))
        }
        kept.append(contentsOf: selected.scalars)
        chunks += 1
    }
}
