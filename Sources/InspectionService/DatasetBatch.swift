import Checkpoints
import Foundation
import Hummingbird
import ImageIO
import MultipartKit
import NIOCore
import TensorCore

/// The images of a batch dataset upload: the file parts of a `multipart/form-data` body (what a browser's
/// drag and drop sends) or the entries of a zip (a folder packed on a desktop, an MVTec `test/` tree). Client file
/// names only pair images with masks and give labels; they never become paths.
///
/// - `x_mask.png` is the mask of the image named `x` (any extension, any folder), as MVTec's `ground_truth` names them.
/// - An image's label is `?label=` when given, else the name of its folder (`test/crack/000.png` is a `crack`).
/// - Files that are not PNG or JPEG by name (`.txt`, folders, `__MACOSX/`, `.DS_Store`) are skipped and listed.
enum DatasetBatch {
    struct File: Sendable {
        var name: String
        var data: Data
    }

    struct Item: Sendable {
        var name: String
        var image: Data
        var mask: Data?
        var label: String
    }

    static let maxFiles = 10_000

    /// The files of `body`, by its content type; each at most `maxFileBytes` once extracted.
    static func files(body: Data, contentType: String, maxFileBytes: Int) throws -> (files: [File], skipped: [String]) {
        let type = contentType.lowercased()
        let all: [File]
        if type.hasPrefix("multipart/form-data") {
            all = try multipart(body, contentType: contentType, maxFileBytes: maxFileBytes)
        } else if type.hasPrefix("application/zip") || type.hasPrefix("application/x-zip-compressed") {
            all = try zip(body, maxFileBytes: maxFileBytes)
        } else {
            throw HTTPError(.unsupportedMediaType, message: "send the images as multipart/form-data or application/zip (got \(contentType.prefix(60)))")
        }
        var files: [File] = [], skipped: [String] = []
        for file in all {
            if isImageName(file.name) { files.append(file) } else { skipped.append(String(file.name.prefix(200))) }
        }
        guard !files.isEmpty else {
            throw HTTPError(.unprocessableContent, message: "the upload holds no .png, .jpg or .jpeg file (\(all.count) other files)")
        }
        return (files, skipped)
    }

    static func isImageName(_ name: String) -> Bool {
        let base = name.split(separator: "/").last.map(String.init) ?? name
        guard !base.hasPrefix("."), !name.hasPrefix("__MACOSX/"), !name.hasSuffix("/") else { return false }
        return ["png", "jpg", "jpeg"].contains((base as NSString).pathExtension.lowercased())
    }

    static func zip(_ body: Data, maxFileBytes: Int) throws -> [File] {
        // A zip starts with a local header or, when empty, with the end record.
        guard body.starts(with: [0x50, 0x4b, 0x03, 0x04]) || body.starts(with: [0x50, 0x4b, 0x05, 0x06]) else {
            throw HTTPError(.unprocessableContent, message: "the body is not a zip archive (it does not start with 'PK')")
        }
        do {
            let archive = try StoredZip(data: body, file: "the uploaded zip")
            guard archive.names.count <= maxFiles else {
                throw HTTPError(.contentTooLarge, message: "the zip holds \(archive.names.count) entries; at most \(maxFiles)")
            }
            return try archive.names.filter { !$0.hasSuffix("/") }.map { name in
                if let size = archive.uncompressedSize(of: name), size > maxFileBytes, isImageName(name) {
                    throw HTTPError(.contentTooLarge, message: "zip entry '\(name.prefix(200))' is \(size) bytes once extracted; at most \(maxFileBytes) (--max-upload-mb)")
                }
                return File(name: name, data: isImageName(name) ? try archive.contents(of: name) : Data())
            }
        } catch let error as CheckpointError {
            throw HTTPError(.unprocessableContent, message: "\(error)")
        }
    }

    /// Splits a multipart body with multipart-kit's parser; parts without a file name (plain form fields) are skipped.
    static func multipart(_ body: Data, contentType: String, maxFileBytes: Int) throws -> [File] {
        guard let boundary = parameter("boundary", of: contentType), !boundary.isEmpty else {
            throw HTTPError(.badRequest, message: "Content-Type multipart/form-data needs a boundary parameter")
        }
        guard boundary.count <= 70 else {   // RFC 2046: 1 to 70 characters
            throw HTTPError(.badRequest, message: "the multipart boundary is \(boundary.count) characters; at most 70")
        }
        guard headerNamesAreASCII(body, boundary: boundary) else {
            throw HTTPError(.badRequest, message: "the multipart body is malformed (a part's header name holds a non-ASCII byte)")
        }
        let parser = MultipartParser(boundary: boundary)
        var files: [File] = []
        var name: String? = nil
        var data = Data()
        var tooLarge: String? = nil
        parser.onHeader = { field, value in
            if field.lowercased() == "content-disposition" { name = parameter("filename", of: value) }
        }
        parser.onBody = { chunk in
            if data.count + chunk.readableBytes > maxFileBytes { tooLarge = name ?? "a part" }
            else { data.append(contentsOf: chunk.readableBytesView) }
        }
        parser.onPartComplete = {
            if let name, !name.isEmpty { files.append(File(name: name, data: data)) }
            name = nil
            data = Data()
        }
        do {
            try parser.execute(ByteBuffer(data: body))
        } catch {
            throw HTTPError(.badRequest, message: "the multipart body is malformed (\(error))")
        }
        if let tooLarge {
            throw HTTPError(.contentTooLarge, message: "part '\(tooLarge.prefix(200))' is larger than \(maxFileBytes) bytes (--max-upload-mb)")
        }
        guard files.count <= maxFiles else {
            throw HTTPError(.contentTooLarge, message: "the upload holds \(files.count) files; at most \(maxFiles)")
        }
        return files
    }

    /// Whether every part header's name (the bytes before its ':') is ASCII. multipart-kit 4.7.1, the version listed
    /// for this project, looks a header name's bytes up in a 128-entry table, so a byte >= 0x80 there traps: one
    /// request would stop the service (found by `FuzzServiceRequest`, bench/FUZZ.md). Its parser reads header names
    /// only after `--boundary` CRLF, line by line (a line ends at its first CR, which must be followed by LF) up to the
    /// blank line; this pass checks every such block. A block that starts inside one already checked starts on one of
    /// its line starts and ends at the same blank line, so it is skipped: one pass, linear in the body.
    static func headerNamesAreASCII(_ body: Data, boundary: String) -> Bool {
        let delimiter = Array(("--" + boundary).utf8)
        let cr: UInt8 = 13, lf: UInt8 = 10, colon: UInt8 = 58
        return body.withUnsafeBytes { raw in
            let b = raw.bindMemory(to: UInt8.self)
            let n = b.count, m = delimiter.count
            var checkedUntil = 0
            var i = 0
            while i + m + 2 <= n {
                defer { i += 1 }
                guard b[i] == delimiter[0], b[i + m] == cr, b[i + m + 1] == lf else { continue }
                var k = 1
                while k < m && b[i + k] == delimiter[k] { k += 1 }
                guard k == m else { continue }
                var p = i + m + 2
                guard p >= checkedUntil else { continue }
                while p < n && b[p] != cr {                 // one header line per turn; CR first: the blank line
                    var q = p, inName = true
                    while q < n && b[q] != cr {
                        if inName {
                            if b[q] == colon { inName = false } else if b[q] >= 0x80 { return false }
                        }
                        q += 1
                    }
                    guard q + 1 < n, b[q + 1] == lf else { p = q; break }   // the parser stops there
                    p = q + 2
                }
                checkedUntil = p
            }
            return true
        }
    }

    /// `key=value` or `key="value"` from a header value such as `form-data; name="f"; filename="a.png"`.
    static func parameter(_ key: String, of header: String) -> String? {
        for part in header.split(separator: ";").dropFirst() {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces).lowercased() == key else { continue }
            var value = kv[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    /// Images with their masks and labels. A mask without its image, or two images a mask could belong to, is an
    /// error naming the files.
    static func items(_ files: [File], label: String?) throws -> [Item] {
        func stem(_ name: String) -> String {
            let base = name.split(separator: "/").last.map(String.init) ?? name
            return (base as NSString).deletingPathExtension
        }
        let masks = files.filter { stem($0.name).hasSuffix("_mask") }
        let images = files.filter { !stem($0.name).hasSuffix("_mask") }
        var byStem: [String: [Int]] = [:]
        for (i, image) in images.enumerated() { byStem[stem(image.name), default: []].append(i) }
        var maskOf: [Int: Data] = [:]
        for mask in masks {
            let target = String(stem(mask.name).dropLast("_mask".count))
            guard let candidates = byStem[target] else {
                throw HTTPError(.unprocessableContent, message: "mask '\(mask.name.prefix(200))' has no image named '\(target)' in the upload")
            }
            // MVTec: ground_truth/crack/000_mask.png belongs to test/crack/000.png; prefer the image in a folder of the same name.
            let folder = mask.name.split(separator: "/").dropLast().last.map(String.init)
            let sameFolder = candidates.filter { images[$0].name.split(separator: "/").dropLast().last.map(String.init) == folder }
            let chosen = candidates.count == 1 ? candidates : sameFolder
            guard chosen.count == 1 else {
                throw HTTPError(.unprocessableContent, message: "mask '\(mask.name.prefix(200))' could belong to \(candidates.count) images named '\(target)'; give each image a unique name")
            }
            guard maskOf[chosen[0]] == nil else {
                throw HTTPError(.unprocessableContent, message: "image '\(images[chosen[0]].name.prefix(200))' has two masks")
            }
            maskOf[chosen[0]] = mask.data
        }
        return images.enumerated().map { i, image in
            let folder = image.name.split(separator: "/").dropLast().last.map(String.init) ?? ""
            return Item(name: image.name, image: image.data, mask: maskOf[i], label: label ?? String(folder.prefix(64)))
        }
    }
}
