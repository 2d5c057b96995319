/// GPT-2 / CLIP byte-level alphabet: every byte gets a printable Unicode character so that BPE runs over text
/// without control or whitespace characters. Port of CLIP's `bytes_to_unicode` (the ByteLevel pre-tokenizer of
/// transformers' CLIPTokenizer): the printable bytes `!`...`~`, `¡`...`¬`, `®`...`ÿ` map to themselves and the
/// other 68 bytes, in byte order, to U+0100, U+0101, ...
///
/// ```swift
/// ByteLevelAlphabet.characters[0x20]   // "Ġ" (U+0120)
/// ```
enum ByteLevelAlphabet {
    /// (byte, character) pairs in CLIP's vocabulary order: printable bytes first, then the remapped ones.
    static let vocabularyOrder: [(byte: UInt8, character: Unicode.Scalar)] = {
        let printable = Array(33...126) + Array(161...172) + Array(174...255)
        var pairs = printable.map { (byte: UInt8($0), character: Unicode.Scalar(UInt8($0))) }
        let kept = Set(printable)
        var next: UInt32 = 256
        for b in 0..<256 where !kept.contains(b) {
            pairs.append((byte: UInt8(b), character: Unicode.Scalar(next)!))
            next += 1
        }
        return pairs
    }()

    /// byte -> character.
    static let characters: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        for p in vocabularyOrder { table[Int(p.byte)] = p.character }
        return table
    }()

    /// character -> byte.
    static let bytes: [Unicode.Scalar: UInt8] = {
        var map: [Unicode.Scalar: UInt8] = [:]
        for p in vocabularyOrder { map[p.character] = p.byte }
        return map
    }()
}
