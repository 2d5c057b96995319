import Foundation

/// Byte-pair encoding of one pre-tokenized word, as CLIP and transformers' CLIPTokenizer (tokenizers `BPE` with
/// `end_of_word_suffix="</w>"`) run it: the word's byte-level characters become symbols, the last one carrying
/// `</w>`; then the adjacent pair with the lowest merge rank is merged everywhere in the word, again and again,
/// until no adjacent pair has a rank. Symbols missing from the vocabulary become the unknown token.
/// Results are cached per word (prompts repeat words across samples).
///
/// ```swift
/// let bpe = BytePairEncoding(vocabulary: vocab, merges: merges, unknownID: 49407)
/// bpe.encode(word: "photo")   // [1125]  ("photo</w>")
/// ```
final class BytePairEncoding: @unchecked Sendable {
    static let endOfWord = "</w>"

    let vocabulary: [String: Int]
    /// Merge rank by pair, "left right" joined with a space as in merges.txt.
    private let ranks: [Pair: Int]
    private let unknownID: Int
    private var cache: [String: [Int]] = [:]
    private let lock = NSLock()

    struct Pair: Hashable {
        let left: String
        let right: String
    }

    init(vocabulary: [String: Int], merges: [(String, String)], unknownID: Int) {
        self.vocabulary = vocabulary
        var ranks: [Pair: Int] = [:]
        ranks.reserveCapacity(merges.count)
        for (rank, m) in merges.enumerated() where ranks[Pair(left: m.0, right: m.1)] == nil {
            ranks[Pair(left: m.0, right: m.1)] = rank
        }
        self.ranks = ranks
        self.unknownID = unknownID
    }

    /// Token ids of one word given in byte-level characters (no whitespace).
    func encode(word: String) -> [Int] {
        lock.lock()
        if let hit = cache[word] { lock.unlock(); return hit }
        lock.unlock()
        let ids = symbols(of: word).map { vocabulary[$0] ?? unknownID }
        lock.lock()
        if cache.count > 100_000 { cache.removeAll(keepingCapacity: true) }
        cache[word] = ids
        lock.unlock()
        return ids
    }

    /// The merged symbols of `word`, e.g. "photo" -> ["photo</w>"].
    func symbols(of word: String) -> [String] {
        var symbols = word.unicodeScalars.map { String($0) }
        guard !symbols.isEmpty else { return [] }
        symbols[symbols.count - 1] += Self.endOfWord
        while symbols.count > 1 {
            // The best-ranked adjacent pair.
            var best: (rank: Int, pair: Pair)? = nil
            for i in 0..<(symbols.count - 1) {
                let p = Pair(left: symbols[i], right: symbols[i + 1])
                if let r = ranks[p], r < (best?.rank ?? Int.max) { best = (r, p) }
            }
            guard let (_, pair) = best else { break }
            // Merge every occurrence, left to right, without overlaps.
            var merged: [String] = []
            merged.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count && symbols[i] == pair.left && symbols[i + 1] == pair.right {
                    merged.append(pair.left + pair.right)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }
        return symbols
    }
}
