import Foundation
import TensorCore

/// One prompt as the Stable Diffusion pipelines feed it to a CLIP text encoder: `<|startoftext|>`, at most
/// `maxLength - 2` text tokens, `<|endoftext|>`, then padding up to `maxLength` (77).
public struct CLIPTokenization: Sendable, Equatable {
    /// `maxLength` token ids.
    public var ids: [Int]
    /// Ids before padding (start + text + end tokens).
    public var length: Int
    /// True when the prompt had more text tokens than fit and some were cut.
    public var truncated: Bool
    /// The cut tokens decoded back to text, as diffusers' warning shows them ("" when nothing was cut).
    public var removedText: String
}

/// CLIP's byte-level BPE tokenizer, read from a diffusers `tokenizer/` folder (`vocab.json`, `merges.txt`, and
/// `tokenizer_config.json` / `special_tokens_map.json` for the special and padding tokens). Port of transformers'
/// CLIPTokenizer (v5): special tokens are cut out of the raw text first, the rest is normalised (NFC, whitespace
/// runs -> one space, lower case), split into words, contractions, letters, single digits and other runs,
/// mapped to byte-level characters and merged with BPE (`</w>` marks word ends); then start/end tokens,
/// truncation and padding as the pipelines call it (`padding="max_length", max_length=77, truncation=True`).
/// SD 1.x pads with `<|endoftext|>`, SDXL's `tokenizer_2` with `!` (id 0), read from the folder's files.
///
/// ```swift
/// let tokenizer = try CLIPTokenizer(folder: modelFolder.appendingPathComponent("tokenizer"))
/// let t = tokenizer.encode("copper metal scratches")
/// // t.ids.count == 77; t.ids[0] == tokenizer.bosID
/// if t.truncated { print("warning: removed \"\(t.removedText)\"") }
/// ```
public final class CLIPTokenizer: Sendable {
    public let bosToken: String, eosToken: String, unknownToken: String, padToken: String
    public let bosID: Int, eosID: Int, unknownID: Int, padID: Int
    /// Sequence length of `encode` (tokenizer_config.json `model_max_length`, 77 for every SD checkpoint).
    public let maxLength: Int
    private let bpe: BytePairEncoding
    private let idToToken: [Int: String]
    /// Tokens matched in the raw text before normalisation (special and added tokens), as unicode scalars.
    private let specials: [(scalars: [Unicode.Scalar], id: Int)]

    /// Number of entries in vocab.json.
    public var vocabularySize: Int { bpe.vocabulary.count }

    /// Loads a diffusers / transformers tokenizer folder.
    public convenience init(folder: URL) throws {
        let vocabularyFile = folder.appendingPathComponent("vocab.json")
        let mergesFile = folder.appendingPathComponent("merges.txt")
        let settings = try SpecialTokenSettings(folder: folder)
        try self.init(vocabularyFile: vocabularyFile, mergesFile: mergesFile,
                      bosToken: settings.bos ?? "<|startoftext|>", eosToken: settings.eos ?? "<|endoftext|>",
                      unknownToken: settings.unk ?? "<|endoftext|>", padToken: settings.pad ?? "<|endoftext|>",
                      addedTokens: settings.added, maxLength: settings.maxLength ?? 77,
                      settingsFile: settings.file)
    }

    /// Builds a tokenizer from vocab.json and merges.txt with the special tokens given.
    /// `addedTokens` are extra tokens matched in the raw text (tokenizer_config.json `added_tokens_decoder`).
    public init(vocabularyFile: URL, mergesFile: URL, bosToken: String = "<|startoftext|>",
                eosToken: String = "<|endoftext|>", unknownToken: String = "<|endoftext|>",
                padToken: String = "<|endoftext|>", addedTokens: [String] = [], maxLength: Int = 77,
                settingsFile: String? = nil) throws {
        let vocabulary = try Self.readVocabulary(vocabularyFile)
        let merges = try Self.readMerges(mergesFile, vocabulary: vocabulary)
        let settingsName = settingsFile ?? "tokenizer settings"
        func id(_ token: String, _ field: String) throws -> Int {
            guard let id = vocabulary[token] else {
                throw DiffusionModelError.badConfig(
                    file: settingsName, reason: "\(field) '\(token)' is not in \(vocabularyFile.path)")
            }
            return id
        }
        guard maxLength >= 2, maxLength <= DiffusionConfigRanges.positions.upperBound else {
            throw DiffusionModelError.outOfRange(file: settingsName, field: "model_max_length", value: "\(maxLength)",
                                                 allowed: "an integer in 2...\(DiffusionConfigRanges.positions.upperBound)")
        }
        self.bosToken = bosToken; self.eosToken = eosToken; self.unknownToken = unknownToken; self.padToken = padToken
        bosID = try id(bosToken, "bos_token")
        eosID = try id(eosToken, "eos_token")
        unknownID = try id(unknownToken, "unk_token")
        padID = try id(padToken, "pad_token")
        self.maxLength = maxLength
        var specials: [(scalars: [Unicode.Scalar], id: Int)] = []
        var seen = Set<String>()
        for token in [bosToken, eosToken, unknownToken, padToken] + addedTokens where !token.isEmpty {
            if !seen.insert(token).inserted { continue }
            specials.append((Array(token.unicodeScalars), try id(token, "added token")))
        }
        self.specials = specials
        var reverse: [Int: String] = [:]
        reverse.reserveCapacity(vocabulary.count)
        for (token, id) in vocabulary { reverse[id] = token }
        idToToken = reverse
        bpe = BytePairEncoding(vocabulary: vocabulary, merges: merges, unknownID: unknownID)
    }

    // MARK: Encoding

    /// Ids of the text alone: no start/end tokens, no truncation, no padding.
    public func tokenize(_ text: String) -> [Int] {
        var ids: [Int] = []
        for segment in splitOnSpecialTokens(text) {
            switch segment {
            case let .special(id):
                ids.append(id)
            case let .text(raw):
                for word in CLIPPreTokenizer.split(CLIPNormalizer.normalize(raw)) {
                    var chars = String.UnicodeScalarView()
                    for byte in word.utf8 { chars.append(ByteLevelAlphabet.characters[Int(byte)]) }
                    ids += bpe.encode(word: String(chars))
                }
            }
        }
        return ids
    }

    /// The pipeline's encoding: start token, up to `maxLength - 2` text tokens, end token, padding to `maxLength`.
    public func encode(_ text: String) -> CLIPTokenization {
        let all = tokenize(text)
        let room = maxLength - 2
        let kept = all.prefix(room)
        var ids = [bosID] + kept + [eosID]
        let length = ids.count
        ids += [Int](repeating: padID, count: maxLength - length)
        let truncated = all.count > room
        return CLIPTokenization(ids: ids, length: length, truncated: truncated,
                                removedText: truncated ? decode(Array(all[room...])) : "")
    }

    // MARK: Decoding

    /// Text of `ids` as transformers' `CLIPTokenizer.decode` gives it: byte-level characters back to UTF-8,
    /// `</w>` -> space, surrounding whitespace stripped (special tokens kept).
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            guard let token = idToToken[id] else { continue }
            for s in token.unicodeScalars {
                if let b = ByteLevelAlphabet.bytes[s] { bytes.append(b) } else { bytes += Array(String(s).utf8) }
            }
        }
        let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: BytePairEncoding.endOfWord, with: " ")
        return String(String.UnicodeScalarView(text.unicodeScalars.drop(while: { $0.properties.isWhitespace })
            .reversed().drop(while: { $0.properties.isWhitespace }).reversed()))
    }

    /// The token string of `id`, or nil outside the vocabulary.
    public func token(forID id: Int) -> String? { idToToken[id] }

    /// The id of a vocabulary entry, e.g. `"photo</w>"`.
    public func id(forToken token: String) -> Int? { bpe.vocabulary[token] }

    // MARK: Special tokens in raw text

    private enum Segment { case text(String), special(Int) }

    /// Cuts special tokens out of the raw text, leftmost-longest first, as tokenizers' added vocabulary does.
    private func splitOnSpecialTokens(_ text: String) -> [Segment] {
        let s = Array(text.unicodeScalars)
        var segments: [Segment] = []
        var start = 0, i = 0
        func flush(_ end: Int) {
            if end > start {
                var v = String.UnicodeScalarView()
                v.append(contentsOf: s[start..<end])
                segments.append(.text(String(v)))
            }
        }
        while i < s.count {
            var best: (length: Int, id: Int)? = nil
            for special in specials where special.scalars.count > (best?.length ?? 0) && i + special.scalars.count <= s.count {
                if s[i..<(i + special.scalars.count)].elementsEqual(special.scalars) {
                    best = (special.scalars.count, special.id)
                }
            }
            if let best {
                flush(i)
                segments.append(.special(best.id))
                i += best.length
                start = i
            } else {
                i += 1
            }
        }
        flush(s.count)
        return segments
    }

    // MARK: Files

    /// The largest vocab.json / merges.txt / tokenizer_config.json read (CLIP's are 1.6 MB and 0.5 MB); never more
    /// than `InputLimits.current.maxEncodedFileBytes`.
    public static let maxFileBytes = 64 << 20

    /// A tokenizer file's bytes: a regular file within `maxFileBytes`, errors naming it.
    static func readTokenizerFile(_ url: URL) throws -> Data {
        do {
            return try readConfigFile(url, limit: min(maxFileBytes, InputLimits.current.maxEncodedFileBytes))
        } catch DiffusionModelError.missingFile(let path, _) {
            throw DiffusionModelError.missingFile(path: path, hint: "the tokenizer folder needs vocab.json and merges.txt")
        }
    }

    static func readVocabulary(_ url: URL) throws -> [String: Int] {
        let data = try readTokenizerFile(url)
        guard let object = try? JSONSerialization.jsonObject(with: data), let dict = object as? [String: Any] else {
            throw DiffusionModelError.badConfig(file: url.path, reason: "is not a JSON object of token -> id")
        }
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(dict.count)
        for (token, value) in dict {
            guard let number = value as? NSNumber, let id = Int(exactly: number.doubleValue), id >= 0 else {
                throw DiffusionModelError.badConfig(file: url.path, reason: "token '\(token)' has id \(value), not a non-negative integer")
            }
            vocabulary[token] = id
        }
        guard !vocabulary.isEmpty else { throw DiffusionModelError.badConfig(file: url.path, reason: "holds no tokens") }
        if Set(vocabulary.values).count != vocabulary.count {
            throw DiffusionModelError.badConfig(file: url.path, reason: "two tokens share an id")
        }
        for p in ByteLevelAlphabet.vocabularyOrder where vocabulary[String(p.character)] == nil {
            throw DiffusionModelError.badConfig(
                file: url.path, reason: "lacks the byte-level token '\(p.character)' (byte \(p.byte)); not a CLIP vocabulary")
        }
        return vocabulary
    }

    /// merges.txt: an optional `#version` line, then one merge "left right" per line in rank order.
    static func readMerges(_ url: URL, vocabulary: [String: Int]) throws -> [(String, String)] {
        let data = try readTokenizerFile(url)
        guard let text = String(data: data, encoding: .utf8) else {
            throw DiffusionModelError.badConfig(file: url.path, reason: "cannot be read as UTF-8 text")
        }
        var merges: [(String, String)] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty || (index == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw DiffusionModelError.badConfig(file: url.path, reason: "line \(index + 1) '\(line)' is not two tokens separated by one space")
            }
            let left = String(parts[0]), right = String(parts[1])
            for token in [left, right, left + right] where vocabulary[token] == nil {
                throw DiffusionModelError.badConfig(
                    file: url.path, reason: "line \(index + 1): '\(token)' is not in vocab.json (vocab.json and merges.txt do not belong together)")
            }
            merges.append((left, right))
        }
        return merges
    }
}

/// Special-token settings of a tokenizer folder: tokenizer_config.json, else special_tokens_map.json.
struct SpecialTokenSettings {
    var bos: String?, eos: String?, unk: String?, pad: String?
    var added: [String] = []
    var maxLength: Int?
    var file: String?

    init(folder: URL) throws {
        let fm = FileManager.default
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {  // the config wins where both say
            let url = folder.appendingPathComponent(name)
            guard fm.fileExists(atPath: url.path) else { continue }
            let data = try CLIPTokenizer.readTokenizerFile(url)
            guard let dict = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw DiffusionModelError.badConfig(file: url.path, reason: "is not a JSON object")
            }
            func token(_ key: String) throws -> String? {
                guard let value = dict[key], !(value is NSNull) else { return nil }
                if let s = value as? String { return s }
                if let d = value as? [String: Any], let s = d["content"] as? String { return s }
                throw DiffusionModelError.badConfig(file: url.path, reason: "\(key) is neither a string nor {\"content\": ...}")
            }
            bos = try token("bos_token") ?? bos
            eos = try token("eos_token") ?? eos
            unk = try token("unk_token") ?? unk
            pad = try token("pad_token") ?? pad
            if let decoder = dict["added_tokens_decoder"] as? [String: Any] {
                for key in decoder.keys.sorted() {
                    if let entry = decoder[key] as? [String: Any], let content = entry["content"] as? String {
                        added.append(content)
                    }
                }
            }
            if let n = dict["model_max_length"] as? NSNumber {
                // transformers writes 1e30 for "unset".
                if n.doubleValue < 1e6 {
                    guard let length = Int(exactly: n.doubleValue) else {
                        throw DiffusionModelError.outOfRange(file: url.path, field: "model_max_length", value: "\(n)",
                                                             allowed: "an integer")
                    }
                    maxLength = length
                }
            }
            file = url.path
        }
    }
}
