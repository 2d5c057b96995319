/// Splits normalised text into the pieces BPE runs on, a port of the pre-tokenizer of transformers' CLIPTokenizer:
/// the regex `'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+` with whitespace between matches dropped.
/// Alternatives are tried in that order at each position: a contraction, a run of letters, a single digit, a run of
/// anything else but whitespace. (CLIP's pattern also lists `<|startoftext|>` / `<|endoftext|>`; special tokens are
/// cut out of the raw text before this runs, and a lower-cased one that reaches here splits into the same pieces
/// through the byte-level step either way.)
///
/// ```swift
/// CLIPPreTokenizer.split("it's 42nd!!")   // ["it", "'s", "4", "2", "nd", "!!"]
/// ```
enum CLIPPreTokenizer {
    private static let contractions: [[Unicode.Scalar]] = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map {
        Array($0.unicodeScalars)
    }

    static func split(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        var pieces: [String] = []
        var i = 0
        func piece(_ range: Range<Int>) -> String {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: s[range])
            return String(v)
        }
        outer: while i < s.count {
            let c = s[i]
            if CLIPNormalizer.isWhitespace(c) { i += 1; continue }
            if c == "'" {
                for k in contractions where i + k.count <= s.count && Array(s[i..<(i + k.count)]) == k {
                    pieces.append(piece(i..<(i + k.count)))
                    i += k.count
                    continue outer
                }
            }
            if isLetter(c) {
                var j = i + 1
                while j < s.count && isLetter(s[j]) { j += 1 }
                pieces.append(piece(i..<j))
                i = j
            } else if isNumber(c) {
                pieces.append(piece(i..<(i + 1)))
                i += 1
            } else {
                var j = i + 1
                while j < s.count && !isLetter(s[j]) && !isNumber(s[j]) && !CLIPNormalizer.isWhitespace(s[j]) { j += 1 }
                pieces.append(piece(i..<j))
                i = j
            }
        }
        return pieces
    }

    /// `\p{L}`: Lu, Ll, Lt, Lm, Lo.
    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// `\p{N}`: Nd, Nl, No.
    static func isNumber(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }
}
