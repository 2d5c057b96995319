import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ImageIO
@testable import InspectionService
import InspectionStore
import StoreTestSupport
import Testing
import ZIPFoundation

/// Batch dataset uploads: a browser's multipart drag and drop and a zipped MVTec-style folder, all or nothing,
/// masks paired by name, and hostile archives refused with a 4xx naming the file.
@Suite(.serialized) struct DatasetBatchTests {
    static func zip(_ entries: [(String, Data)]) throws -> Data {
        let archive = try Archive(accessMode: .create)
        for (name, data) in entries {
            try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        return archive.data!
    }

    static func multipart(_ parts: [(field: String, filename: String?, data: Data)], boundary: String) -> Data {
        var body = Data()
        for part in parts {
            var head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(part.field)\""
            if let filename = part.filename { head += "; filename=\"\(filename)\"" }
            head += "\r\nContent-Type: application/octet-stream\r\n\r\n"
            body += Data(head.utf8) + part.data + Data("\r\n".utf8)
        }
        return body + Data("--\(boundary)--\r\n".utf8)
    }

    /// A mask as large as `image` (a PNG or JPEG), white in its top-left quarter.
    static func mask(like image: Data, width delta: Int = 0) throws -> Data {
        let decoded = try ImageFile.decode(image, file: "fixture")
        let w = decoded.width + delta, h = decoded.height
        var pixels = [UInt8](repeating: 0, count: w * h)
        for y in 0..<(h / 4) { for x in 0..<(w / 4) { pixels[y * w + x] = 255 } }
        return try ImageFile.encodePNG(Image(width: w, height: h, channels: 1, pixels: pixels), name: "mask")
    }

    @Test func multipartAndZipUploadsAreAllOrNothing() async throws {
        let fixture = try ServiceFixture.shared()
        try await ServiceHarness.with(.sqlite, configure: { $0.maxUploadBytes = 1 << 20 }) { h, client in
            try await deployModel(h, client)
            func upload(_ kind: String, _ body: Data, type: String, query: String = "", key: String? = nil) async throws -> TestResponse {
                try await client.execute(uri: "/api/v1/products/bottle/datasets/\(kind)/batch\(query)", method: .post,
                                         headers: auth(key ?? h.expert, [.contentType: type]), body: buffer(body))
            }
            func count(_ kind: String) async throws -> Int {
                (object(try await client.execute(uri: "/api/v1/products/bottle/datasets?kind=\(kind)", method: .get,
                                                 headers: auth(h.operator)))["items"] as! [Any]).count
            }

            // A browser's drag and drop: two images, a form field and a text file.
            let boundary = "----patchcore\(UUID().uuidString)"
            let form = Self.multipart([("files", "part 1.png", fixture.good[0]), ("files", "part-2.png", fixture.good[1]),
                                       ("note", nil, Data("hello".utf8)), ("files", "notes.txt", Data("x".utf8))], boundary: boundary)
            let r1 = try await upload("good", form, type: "multipart/form-data; boundary=\(boundary)")
            #expect(r1.status == .created, "\(text(r1))")
            let body1 = object(r1)
            #expect((body1["items"] as? [[String: Any]])?.map { $0["origin_ref"] as? String } == ["part 1.png", "part-2.png"])
            #expect(body1["skipped"] as? [String] == ["notes.txt"])
            #expect(try await count("good") == 2)
            #expect(try await upload("good", form, type: "multipart/form-data; boundary=\(boundary)", key: h.operator).status == .forbidden)

            // A zipped MVTec tree: defects labelled by folder, masks from ground_truth paired by name.
            let mvtec = try Self.zip([
                ("test/crack/000.png", fixture.defects[0]), ("test/crack/001.png", fixture.defects[1]),
                ("test/good/000.png", fixture.good[2]),
                ("ground_truth/crack/000_mask.png", try Self.mask(like: fixture.defects[0])),
                ("__MACOSX/test/crack/._000.png", Data("apple".utf8)), ("README.txt", Data("readme".utf8)),
            ])
            let r2 = try await upload("defect", mvtec, type: "application/zip")
            #expect(r2.status == .created, "\(text(r2))")
            let items = object(r2)["items"] as? [[String: Any]] ?? []
            #expect(items.map { $0["label"] as? String } == ["crack", "crack", "good"])
            #expect(items.map { $0["mask_blob"] is String } == [true, false, false])
            #expect((object(r2)["skipped"] as? [String])?.sorted() == ["README.txt", "__MACOSX/test/crack/._000.png"])
            #expect(try await count("defect") == 3)

            // All or nothing: one corrupt image, a mask of the wrong size, a mask on a good image, an orphan mask.
            let png = fixture.good[3]
            let refusals: [(String, Data, String, HTTPResponse.Status, String)] = [
                ("corrupt", try Self.zip([("a.png", png), ("b.png", png.prefix(png.count / 2))]), "good", .unprocessableContent, "'b.png'"),
                ("mask size", try Self.zip([("a.png", png), ("a_mask.png", try Self.mask(like: png, width: 3))]), "defect",
                 .unprocessableContent, "the mask of 'a.png'"),
                ("mask on good", try Self.zip([("a.png", png), ("a_mask.png", try Self.mask(like: png))]), "good",
                 .unprocessableContent, "masks go with defect images"),
                ("orphan mask", try Self.zip([("a.png", png), ("z_mask.png", try Self.mask(like: png))]), "defect",
                 .unprocessableContent, "no image named 'z'"),
                ("nothing", try Self.zip([("a.txt", Data("a".utf8))]), "good", .unprocessableContent, "no .png"),
                // 4 MiB of zeros deflate to a few KB: refused by its declared size before it is inflated.
                ("bomb", try Self.zip([("big.png", Data(count: 4 << 20))]), "good", .contentTooLarge, "'big.png' is 4194304 bytes"),
                ("truncated zip", try Self.zip([("a.png", png)]).prefix(100), "good", .unprocessableContent, "zip"),
                ("not a zip", Data("PK but no".utf8), "good", .unprocessableContent, "zip"),
                ("random bytes", Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) }), "good", .unprocessableContent,
                 "not a zip archive"),
            ]
            for (name, body, kind, status, words) in refusals {
                let r = try await upload(kind, body, type: "application/zip")
                #expect(r.status == status, "\(name): \(r.status) \(text(r))")
                #expect(text(r).contains(words), "\(name): \(text(r))")
            }
            #expect(try await count("good") == 2)
            #expect(try await count("defect") == 3)
            // A byte >= 0x80 in a part's header name traps multipart-kit 4.7.1 (found by FuzzServiceRequest): a 400,
            // and the server stays up. UTF-8 in a header value (a file name) is fine.
            let utf8Name = Self.multipart([("files", "Prüfteil 1.png", fixture.good[0])], boundary: boundary)
            #expect(DatasetBatch.headerNamesAreASCII(utf8Name, boundary: boundary))
            for header in ["Cont\u{e9}nt-Type: image/png", "X-\u{1F600}: y", "\u{80}"] {
                let evil = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\n\(header)\r\n\r\n".utf8)
                    + fixture.good[0] + Data("\r\n--\(boundary)--\r\n".utf8)
                #expect(!DatasetBatch.headerNamesAreASCII(evil, boundary: boundary), "\(header)")
                let r = try await upload("good", evil, type: "multipart/form-data; boundary=\(boundary)")
                #expect(r.status == .badRequest && text(r).contains("non-ASCII"), "\(header): \(r.status) \(text(r))")
            }
            // The header block of a second part inside the first one's headers is checked too; a CR without LF ends it.
            let nested = Data("--\(boundary)\r\nA: 1\r\n--\(boundary)\r\nB\u{e9}: 2\r\n\r\n".utf8)
            #expect(!DatasetBatch.headerNamesAreASCII(nested, boundary: boundary))
            #expect(DatasetBatch.headerNamesAreASCII(Data("--\(boundary)\r\nA: 1\rB\u{e9}: 2\r\n\r\n".utf8), boundary: boundary))
            let noBoundary = try await upload("good", form, type: "multipart/form-data")
            #expect(noBoundary.status == .badRequest && text(noBoundary).contains("boundary"))
            let longBoundary = try await upload("good", form, type: "multipart/form-data; boundary=\(String(repeating: "b", count: 71))")
            #expect(longBoundary.status == .badRequest && text(longBoundary).contains("at most 70"), "\(text(longBoundary))")
            #expect(try await upload("good", form, type: "text/plain").status == .unsupportedMediaType)
            #expect(try await upload("synthetic", mvtec, type: "application/zip").status == .badRequest)
            // The server is still up.
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
        }
    }
}

/// A malformed request body's error names the field as the client wrote it (snake_case), not the Swift property.
@Test func decodingErrorsNameTheFieldAsSent() throws {
    for (body, field) in [(#"{"defect_margin": "x"}"#, "'defect_margin' should be Int"),
                          (#"{"normal_from_defects": "yes"}"#, "'normal_from_defects' should be Bool"),
                          (#"{"taps": [1]}"#, "'taps.[0]' should be String")] {
        do {
            _ = try JSONDecoder.snakeCase.decode(FitJobParams.self, from: Data(body.utf8))
            Issue.record("\(body) decoded")
        } catch let error as DecodingError {
            let text = ErrorMiddleware.describe(error)
            #expect(text.contains(field), "\(body): \(text)")
        }
    }
}
