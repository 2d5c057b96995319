import Foundation
import Testing
import TestSupport
@testable import DiffusionModels

/// Token ids against transformers.CLIPTokenizer on the real CLIP vocabulary (scripts/make_clip_fixtures.py).
@Suite struct CLIPTokenizerTests {
    static let fixtures = FixtureFolder(bundle: .module).url("clip")

    struct Record: Decodable {
        let prompt: String
        let ids_pad_eos: [Int]
        let ids_pad_bang: [Int]
        let untruncated_length: Int
        let truncated: Bool
        let removed_text: String
    }

    static func records() throws -> [Record] {
        try JSONDecoder().decode([Record].self, from: Data(contentsOf: fixtures.appendingPathComponent("tokenizer_ids.json")))
    }

    /// The real vocabulary's vocab.json, rebuilt from the fixture's merges.txt the way CLIP builds it (as
    /// scripts/clip_vocab.py does): the 256 byte characters, the same with "</w>", every merge joined, then
    /// <|startoftext|> and <|endoftext|>. Committing the 0.9 MB file would only repeat merges.txt.
    static func vocabularyJSON() throws -> Data {
        let text = try String(contentsOf: fixtures.appendingPathComponent("vocab/merges.txt"), encoding: .utf8)
        let merges = text.split(separator: "\n").dropFirst().map { $0.split(separator: " ").joined() }   // after "#version"
        let chars = ByteLevelAlphabet.vocabularyOrder.map { String(Character($0.character)) }
        let tokens = chars + chars.map { $0 + "</w>" } + merges + ["<|startoftext|>", "<|endoftext|>"]
        let vocabulary = Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($1, $0) })
        return try JSONSerialization.data(withJSONObject: vocabulary)
    }

    /// A tokenizer folder with the real vocabulary: the fixture's merges.txt and tokenizer settings (as a diffusers
    /// SD folder ships them) plus the rebuilt vocab.json; `pad` replaces the settings, laid out as SDXL's tokenizer_2.
    static func folder(pad: String? = nil) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clip-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let names = pad == nil ? ["merges.txt", "tokenizer_config.json", "special_tokens_map.json"] : ["merges.txt"]
        for name in names {
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent("vocab/\(name)"), to: dir.appendingPathComponent(name))
        }
        try vocabularyJSON().write(to: dir.appendingPathComponent("vocab.json"))
        if let pad {
            try Data(#"{"model_max_length": 77, "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "\#(pad)"}"#.utf8)
                .write(to: dir.appendingPathComponent("tokenizer_config.json"))
        }
        return dir
    }

    @Test func realVocabularyMatchesTransformersOnEveryPrompt() throws {
        let records = try Self.records()
        #expect(records.count >= 40)
        let sdFolder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: sdFolder) }
        let sd15 = try CLIPTokenizer(folder: sdFolder)
        #expect(sd15.vocabularySize == 49408 && sd15.bosID == 49406 && sd15.eosID == 49407 && sd15.padID == 49407)
        let bangFolder = try Self.folder(pad: "!")
        defer { try? FileManager.default.removeItem(at: bangFolder) }
        let sdxl2 = try CLIPTokenizer(folder: bangFolder)
        #expect(sdxl2.padID == 0)
        var mismatches = 0
        for r in records {
            let a = sd15.encode(r.prompt), b = sdxl2.encode(r.prompt)
            if a.ids != r.ids_pad_eos || b.ids != r.ids_pad_bang { mismatches += 1 }
            #expect(a.ids == r.ids_pad_eos, "pad <|endoftext|>: \(r.prompt.debugDescription)")
            #expect(b.ids == r.ids_pad_bang, "pad !: \(r.prompt.debugDescription)")
            #expect(a.truncated == r.truncated, "\(r.prompt.debugDescription)")
            #expect(a.removedText == r.removed_text, "\(r.prompt.debugDescription)")
            #expect(sd15.tokenize(r.prompt).count + 2 == r.untruncated_length, "\(r.prompt.debugDescription)")
        }
        print("CLIP tokenizer: \(records.count) prompts x 2 pad conventions, \(mismatches) mismatching")
    }

    @Test func truncationKeepsStartAnd75TokensAndEnd() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let tokenizer = try CLIPTokenizer(folder: folder)
        #expect(tokenizer.tokenize("copper scratch").count == 2)
        let long = String(repeating: "copper scratch ", count: 60)   // 120 text tokens
        let t = tokenizer.encode(long)
        #expect(t.truncated && t.length == 77 && t.ids.count == 77)
        #expect(t.ids.first == tokenizer.bosID && t.ids.last == tokenizer.eosID)
        // Kept: 75 text tokens, ending on "copper"; cut: the other 45.
        #expect(t.removedText == (["scratch"] + Array(repeating: "copper scratch", count: 22)).joined(separator: " "))
        let short = tokenizer.encode("copper scratch")
        #expect(!short.truncated && short.removedText.isEmpty && short.length == 4)
        #expect(Array(short.ids[4...]).allSatisfy { $0 == tokenizer.padID })
        #expect(tokenizer.decode(Array(short.ids[1..<3])) == "copper scratch")
    }

    @Test func tinyPipelineTokenizersReadTheirPadToken() throws {
        let tiny = Self.fixtures.appendingPathComponent("tiny")
        let t1 = try CLIPTokenizer(folder: tiny.appendingPathComponent("tokenizer"))
        let t2 = try CLIPTokenizer(folder: tiny.appendingPathComponent("tokenizer_2"))
        #expect(t1.padToken == "<|endoftext|>" && t1.padID == 999 && t2.padToken == "!" && t2.padID == 0)
        let prompts = try JSONDecoder().decode([String].self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("tiny_prompts.json")))
        let ref = try CLIPTextModelTests.reference()
        for (tokenizer, key) in [(t1, "a_input_ids"), (t2, "b_input_ids")] {
            let expected = try #require(ref[key])
            for (i, p) in prompts.enumerated() {
                let row = expected.scalars[(i * 77)..<((i + 1) * 77)].map { Int($0) }
                #expect(tokenizer.encode(p).ids == row, "\(key) \(p)")
            }
        }
    }

    @Test func missingOrCorruptFilesNameTheFile() throws {
        let dir = try Self.folder(pad: "<|endoftext|>")
        defer { try? FileManager.default.removeItem(at: dir) }
        let vocab = dir.appendingPathComponent("vocab.json"), merges = dir.appendingPathComponent("merges.txt")
        let mergesText = try String(contentsOf: merges, encoding: .utf8)

        try FileManager.default.removeItem(at: merges)
        #expect(throws: DiffusionModelError.missingFile(path: merges.path, hint: "the tokenizer folder needs vocab.json and merges.txt")) {
            try CLIPTokenizer(folder: dir)
        }
        try Data((mergesText + "onlyonetoken\n").utf8).write(to: merges)
        expectBadConfig(naming: merges.path, containing: "is not two tokens") { try CLIPTokenizer(folder: dir) }
        try Data((mergesText + "zzqq xxyy\n").utf8).write(to: merges)
        expectBadConfig(naming: merges.path, containing: "not in vocab.json") { try CLIPTokenizer(folder: dir) }
        try Data(mergesText.utf8).write(to: merges)
        _ = try CLIPTokenizer(folder: dir)

        try Data(#"{"a": 1, "#.utf8).write(to: vocab)
        expectBadConfig(naming: vocab.path, containing: "JSON object") { try CLIPTokenizer(folder: dir) }
        try Data(#"{"a": "one"}"#.utf8).write(to: vocab)
        expectBadConfig(naming: vocab.path, containing: "not a non-negative integer") { try CLIPTokenizer(folder: dir) }
        try FileManager.default.removeItem(at: vocab)
        #expect(throws: DiffusionModelError.missingFile(path: vocab.path, hint: "the tokenizer folder needs vocab.json and merges.txt")) {
            try CLIPTokenizer(folder: dir)
        }
    }

    @Test func padTokenOutsideTheVocabularyIsAnError() throws {
        let dir = try Self.folder(pad: "<|pad|>")
        defer { try? FileManager.default.removeItem(at: dir) }
        expectBadConfig(naming: dir.appendingPathComponent("tokenizer_config.json").path, containing: "pad_token '<|pad|>'") {
            try CLIPTokenizer(folder: dir)
        }
    }
}

func expectBadConfig(naming file: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Any) {
    do {
        _ = try body()
        Issue.record("expected an error naming \(file)", sourceLocation: sourceLocation)
    } catch let DiffusionModelError.badConfig(f, reason) {
        #expect(f == file, sourceLocation: sourceLocation)
        #expect(reason.contains(text), "\(reason)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}
