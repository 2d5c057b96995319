import Foundation

/// CLIP's text normalisation as transformers' CLIPTokenizer (v5, tokenizers backend) applies it to the text between
/// special tokens: Unicode NFC, every run of whitespace replaced by one space, then lower case character by character
/// (tokenizers' `Lowercase` maps each character alone, so a final capital sigma becomes "σ", never "ς").
/// No ftfy fix-ups and no HTML unescaping: `&amp;` stays as typed, as it does in the Python pipelines.
///
/// ```swift
/// CLIPNormalizer.normalize("  Café\tCRÈME ")   // " café crème "
/// ```
enum CLIPNormalizer {
    static func normalize(_ text: String) -> String {
        let composed = text.precomposedStringWithCanonicalMapping
        var out = String.UnicodeScalarView()
        var inSpace = false
        for s in composed.unicodeScalars {
            if isWhitespace(s) {
                if !inSpace { out.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            if s.properties.changesWhenLowercased {
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            } else {
                out.append(s)
            }
        }
        return String(out)
    }

    /// `\s` of the Oniguruma regexes tokenizers uses: the Unicode White_Space property.
    @inline(__always)
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }
}
