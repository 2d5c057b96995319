import Foundation
import HTTPTypes
import Hummingbird
import ImageIO
import HummingbirdTesting
import InspectionService
import InspectionStore
import PatchCore
import StoreTestSupport
import Testing

/// The service through a real HTTP server on loopback, on SQLite and on a real PostgreSQL.
@Suite(.serialized) struct InspectionServiceTests {
    @Test(arguments: Backend.allCases) func inspectReviewAndAuditThroughTheAPI(_ backend: Backend) async throws {
        let fixture = try ServiceFixture.shared()
        try await ServiceHarness.with(backend) { h, client in
            // No model yet: 409 naming the product.
            _ = try await client.execute(uri: "/api/v1/products", method: .post, headers: jsonHeaders(h.admin),
                                         body: buffer(#"{"name":"bottle"}"#))
            let early = try await client.execute(uri: "/api/v1/products/bottle/inspect", method: .post,
                                                 headers: imageHeaders(h.operator), body: buffer(fixture.good[0]))
            #expect(early.status == .conflict && text(early).contains("bottle"))
            let version = try await deployModel(h, client, product: "bottle")
            #expect(version["version"] as? Int == 1 && version["activated_by"] as? String == "admin")

            // A good and a defective part, committed before the answer.
            let good = try await client.execute(uri: "/api/v1/products/bottle/inspect?source=cam-7", method: .post,
                                                headers: imageHeaders(h.operator), body: buffer(fixture.good[0]))
            #expect(good.status == .ok, "\(text(good))")
            let g = object(good)
            #expect(g["decision"] as? String == "ok" && g["source"] as? String == "cam-7" && g["model_version"] as? Int == 1)
            let bad = try await client.execute(uri: "/api/v1/products/bottle/inspect", method: .post,
                                               headers: auth(h.operator, [.contentType: "image/png", HTTPField.Name("X-Source")!: "cam-8"]),
                                               body: buffer(fixture.defects[0]))
            let b = object(bad)
            #expect(b["decision"] as? String == "anomalous", "\(text(bad))")
            #expect((b["score"] as! Double) > (g["score"] as! Double))
            let id = b["id"] as! Int
            #expect(try await h.server.store.inspection(id: Int64(id)).source == "cam-8")

            // The stored image is the uploaded one; the overlay is a PNG.
            let image = try await client.execute(uri: b["image_url"] as! String, method: .get, headers: auth(h.operator))
            #expect(image.status == .ok && Data(image.body.readableBytesView) == fixture.defects[0])
            let overlay = try await client.execute(uri: b["overlay_url"] as! String, method: .get, headers: auth(h.operator))
            #expect(overlay.headers[.contentType] == "image/png")

            // Lists by filter.
            let flagged = object(try await client.execute(uri: "/api/v1/inspections?product=bottle&decision=anomalous",
                                                          method: .get, headers: auth(h.operator)))
            #expect((flagged["items"] as? [[String: Any]])?.map { $0["id"] as! Int } == [id])
            let page = object(try await client.execute(uri: "/api/v1/inspections?limit=1", method: .get, headers: auth(h.operator)))
            #expect((page["items"] as? [Any])?.count == 1 && page["next_cursor"] as? Int == id)

            // Counts for a shift or the last hour: both parts since 0, none from a later time; the newest id counted.
            let all = object(try await client.execute(uri: "/api/v1/products/bottle/counts?from_ms=0", method: .get,
                                                      headers: auth(h.operator)))
            #expect(all["parts"] as? Int == 2 && all["ng"] as? Int == 1 && all["last_id"] as? Int == id)
            let later = (g["created_ms"] as? Int ?? 0) + 3_600_000
            let none = object(try await client.execute(uri: "/api/v1/products/bottle/counts?from_ms=\(later)", method: .get,
                                                       headers: auth(h.operator)))
            #expect(none["parts"] as? Int == 0 && none["ng"] as? Int == 0 && none["last_id"] as? Int == 0)
            #expect(try await client.execute(uri: "/api/v1/products/bottle/counts?from_ms=soon", method: .get,
                                             headers: auth(h.operator)).status == .badRequest)

            // An operator overrides the defect to good: the image joins the good set; undo takes it out again.
            let review = try await client.execute(uri: "/api/v1/inspections/\(id)/review", method: .post,
                                                  headers: jsonHeaders(h.operator),
                                                  body: buffer(#"{"verdict":"good","reason":"dust on the lens"}"#))
            #expect(review.status == .created, "\(text(review))")
            let goods = object(try await client.execute(uri: "/api/v1/products/bottle/datasets?kind=good", method: .get,
                                                        headers: auth(h.operator)))
            #expect((goods["items"] as? [[String: Any]])?.first?["origin_ref"] as? String == "inspection:\(id)")
            let reviewId = object(review)["id"] as! Int
            let undo = try await client.execute(uri: "/api/v1/reviews/\(reviewId)/undo", method: .post, headers: auth(h.operator))
            #expect(undo.status == .ok && object(undo)["undone_by"] as? String == "operator")
            #expect(try await h.server.store.datasetItems(productId: 1, kind: .good).isEmpty)

            // Threshold by false-reject rate, audited; the next inspection uses it.
            let threshold = try await client.execute(uri: "/api/v1/products/bottle/models/1/threshold", method: .post,
                                                     headers: jsonHeaders(h.admin), body: buffer(#"{"threshold": 1000.5}"#))
            #expect(threshold.status == .ok && object(threshold)["threshold"] as? Double == 1000.5)
            let again = object(try await client.execute(uri: "/api/v1/products/bottle/inspect", method: .post,
                                                        headers: imageHeaders(h.operator), body: buffer(fixture.defects[0])))
            #expect(again["threshold"] as? Double == 1000.5 && again["decision"] as? String == "ok")
            let frr = try await client.execute(uri: "/api/v1/products/bottle/models/1/threshold", method: .post,
                                               headers: jsonHeaders(h.admin), body: buffer(#"{"false_reject_rate": 0.5}"#))
            #expect(frr.status == .ok, "\(text(frr))")
            #expect((object(frr)["threshold_provenance"] as? String)?.contains("false_reject_rate 0.5") == true)
            let audit = object(try await client.execute(uri: "/api/v1/audit?entity=model_version", method: .get,
                                                        headers: auth(h.admin)))
            #expect((audit["items"] as? [[String: Any]])?.filter { $0["action"] as? String == "set_threshold" }.count == 2)
        }
    }

    @Test func approximateSearchIsASiteChoiceAndProbingEveryListScoresExactly() async throws {
        let fixture = try ServiceFixture.shared()
        let parts = [fixture.good[0], fixture.defects[0]]
        @Sendable func scores(_ search: SearchMethod) async throws -> [Double] {
            try await ServiceHarness.with(.sqlite, configure: { $0.search = search }) { h, client in
                _ = try await client.execute(uri: "/api/v1/products", method: .post, headers: jsonHeaders(h.admin),
                                             body: buffer(#"{"name":"bottle"}"#))
                _ = try await deployModel(h, client, product: "bottle")
                var out: [Double] = []
                for part in parts {
                    let r = try await client.execute(uri: "/api/v1/products/bottle/inspect", method: .post,
                                                     headers: imageHeaders(h.operator), body: buffer(part))
                    #expect(r.status == .ok, "\(search): \(text(r))")
                    out.append(try #require(object(r)["score"] as? Double))
                }
                return out
            }
        }
        let exact = try await scores(.exact)
        // Every list probed: the exact neighbours, so the exact scores; one probe of a few lists still inspects.
        #expect(try await scores(.invertedFile(lists: 4, probes: 4)) == exact)
        let one = try await scores(.invertedFile(lists: 16, probes: 1))
        #expect(one.count == 2 && one.allSatisfy { $0.isFinite && $0 > 0 })
    }

    @Test func everyRouteChecksItsRoleAndTheDocumentMatchesTheRouter() async throws {
        try await ServiceHarness.with(.sqlite) { h, client in
            let doc = object(try await client.execute(uri: "/api/v1/openapi.json", method: .get))
            #expect(doc["openapi"] as? String == "3.1.0")
            let paths = doc["paths"] as! [String: [String: [String: Any]]]
            var operations: [(method: String, path: String, role: String?)] = []
            for (path, methods) in paths {
                for (method, op) in methods { operations.append((method, path, op["x-required-role"] as? String)) }
            }
            #expect(operations.count >= 25)
            let keys: [String: String] = ["operator": h.operator, "expert": h.expert, "admin": h.admin]
            let ranks = ["operator": 0, "expert": 1, "admin": 2]
            for op in operations {
                let uri = op.path.replacingOccurrences(of: "{product}", with: "nope").replacingOccurrences(of: "{id}", with: "999")
                    .replacingOccurrences(of: "{version}", with: "9").replacingOccurrences(of: "{kind}", with: "good")
                    .replacingOccurrences(of: "{name}", with: "nobody").replacingOccurrences(of: "{sha256}", with: String(repeating: "0", count: 64))
                let method = HTTPRequest.Method(op.method.uppercased())!
                // Every documented route exists (no 404 from the router for a missing route: 404 bodies name the record).
                let anonymous = try await client.execute(uri: uri, method: method)
                guard let role = op.role else {
                    #expect(anonymous.status != .notFound, "\(op.method) \(op.path)")
                    continue
                }
                #expect(anonymous.status == .unauthorized, "\(op.method) \(op.path) without a key")
                let wrong = try await client.execute(uri: uri, method: method, headers: auth("pc_not-a-key"))
                #expect(wrong.status == .unauthorized, "\(op.method) \(op.path) with an unknown key")
                for (name, key) in keys {
                    let r = try await client.execute(uri: uri, method: method, headers: auth(key))
                    if ranks[name]! < ranks[role]! {
                        #expect(r.status == .forbidden, "\(op.method) \(op.path) as \(name)")
                    } else {
                        #expect(r.status != .forbidden && r.status != .unauthorized, "\(op.method) \(op.path) as \(name)")
                    }
                }
            }
            // A route that is not in the document does not exist.
            let missing = try await client.execute(uri: "/api/v1/nothing-here", method: .get, headers: auth(h.admin))
            #expect(missing.status == .notFound)
        }
    }

    @Test func badInputGetsA4xxNamingTheProblemAndTheServerStaysUp() async throws {
        let fixture = try ServiceFixture.shared()
        try await ServiceHarness.with(.sqlite, configure: { $0.maxUploadBytes = 64 << 10 }) { h, client in
            try await deployModel(h, client)
            func inspect(_ body: Data, type: String = "image/png") async throws -> TestResponse {
                try await client.execute(uri: "/api/v1/products/bottle/inspect", method: .post,
                                         headers: auth(h.operator, [.contentType: type]), body: buffer(body))
            }
            let png = fixture.good[0]
            let cases: [(String, TestResponse, HTTPResponse.Status, String)] = [
                ("not an image", try await inspect(Data("hello".utf8)), .unsupportedMediaType, "not a PNG or JPEG"),
                ("truncated PNG", try await inspect(png.prefix(png.count / 2)), .unprocessableContent, "upload"),
                ("empty", try await inspect(Data()), .badRequest, "empty"),
                ("too large", try await inspect(Data(count: 65 << 10)), .contentTooLarge, "larger than 65536 bytes (--max-upload-mb)"),
                ("wrong type", try await inspect(png, type: "text/html"), .unsupportedMediaType, "Content-Type"),
                ("1 x 1,000,000 PNG", try await inspect(Self.hugeGreyPNG()), .contentTooLarge, "pixels"),
            ]
            for (name, r, status, words) in cases {
                #expect(r.status == status, "\(name): \(r.status) \(text(r))")
                #expect(text(r).contains(words), "\(name): \(text(r))")
            }
            let json = try await client.execute(uri: "/api/v1/inspections/1/review", method: .post,
                                                headers: jsonHeaders(h.operator), body: buffer(#"{"verdict": 3}"#))
            #expect(json.status == .badRequest && text(json).contains("verdict"), "\(text(json))")
            let verdict = try await client.execute(uri: "/api/v1/inspections/1/review", method: .post,
                                                   headers: jsonHeaders(h.operator), body: buffer(#"{"verdict":"maybe"}"#))
            #expect(verdict.status == .badRequest, "\(text(verdict))")
            let query = try await client.execute(uri: "/api/v1/inspections?limit=abc", method: .get, headers: auth(h.operator))
            #expect(query.status == .badRequest && text(query).contains("limit"))
            let unknown = try await client.execute(uri: "/api/v1/products/tile/inspect", method: .post,
                                                   headers: imageHeaders(h.operator), body: buffer(png))
            #expect(unknown.status == .notFound && text(unknown).contains("tile"))
            let traversal = try await client.execute(uri: "/api/v1/blobs/..%2F..%2Fpatchcore.sqlite", method: .get, headers: auth(h.operator))
            #expect(traversal.status == .badRequest)
            let badModel = try await client.execute(uri: "/api/v1/products/bottle/models", method: .post,
                                                    headers: auth(h.admin, [.contentType: "application/octet-stream"]),
                                                    body: buffer(Data("not a model".utf8)))
            #expect(badModel.status == .unprocessableContent || badModel.status == .badRequest, "\(text(badModel))")
            // Still up and scoring.
            let ok = try await inspect(png)
            #expect(ok.status == .ok)
            #expect(try await h.server.store.inspectionCount() == 1)
        }
    }

    /// Found by schemathesis: a file that is no model was kept as a blob and its error named the server's path; a
    /// stale key on a public route was a 401; a key could revoke itself; a label could hold control characters;
    /// a method a path lacks was a 404.
    @Test func refusalsKeepNothingAndShowNoServerPaths() async throws {
        let fixture = try ServiceFixture.shared()
        try await ServiceHarness.with(.sqlite) { h, client in
            try await deployModel(h, client)
            let blobs = h.server.blobs.root
            func count() throws -> Int {
                (FileManager.default.enumerator(atPath: blobs.path)?.allObjects as? [String] ?? [])
                    .filter { $0.split(separator: "/").last?.count == 64 }.count
            }
            let before = try count()
            let notAModel = try await client.execute(uri: "/api/v1/products/bottle/models", method: .post,
                                                     headers: auth(h.admin, [.contentType: "application/octet-stream"]),
                                                     body: buffer(fixture.good[1]))
            #expect(notAModel.status == .unprocessableContent)
            #expect(!text(notAModel).contains(blobs.path) && !text(notAModel).contains("/blobs/"), "\(text(notAModel))")
            #expect(text(notAModel).contains("the uploaded model file"), "\(text(notAModel))")
            #expect(try count() == before)
            #expect(try await client.execute(uri: "/healthz", method: .get, headers: auth("pc_stale")).status == .ok)
            #expect(try await client.execute(uri: "/api/v1/products", method: .get, headers: auth("pc_stale")).status == .unauthorized)
            #expect(try await client.execute(uri: "/api/v1/keys/admin", method: .delete, headers: auth(h.admin)).status == .conflict)
            let control = try await client.execute(uri: "/api/v1/products/bottle/datasets/good?label=a%01b", method: .post,
                                                   headers: imageHeaders(h.expert), body: buffer(fixture.good[0]))
            #expect(control.status == .badRequest && text(control).contains("label"))
            let wrongMethod = try await client.execute(uri: "/api/v1/keys", method: .put, headers: auth(h.admin))
            #expect(wrongMethod.status == .methodNotAllowed)
            #expect(wrongMethod.headers[.allow] == "GET, POST")
        }
    }

    @Test func aFullQueueIsAnswered503WithRetryAfter() async throws {
        let fixture = try ServiceFixture.shared()
        try await ServiceHarness.with(.sqlite, configure: { $0.inferenceWorkers = 1; $0.inferenceQueue = 1 }) { h, client in
            try await deployModel(h, client)
            let statuses = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        let r = try await client.execute(uri: "/api/v1/products/bottle/inspect", method: .post,
                                                         headers: imageHeaders(h.operator), body: buffer(fixture.good[1]))
                        return (r.status, r.headers[.retryAfter])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let ok = statuses.filter { $0.0 == .ok }.count
            let refused = statuses.filter { $0.0 == .serviceUnavailable }
            #expect(ok + refused.count == 12, "\(statuses)")
            #expect(ok >= 2 && !refused.isEmpty, "\(statuses)")
            #expect(refused.allSatisfy { $0.1 == "1" })
            #expect(try await h.server.store.inspectionCount() == ok)
            let metrics = text(try await client.execute(uri: "/metrics", method: .get))
            #expect(metrics.contains("patchcore_inspections_refused_overload_total \(refused.count)"), "\(metrics)")
        }
    }

    /// A valid 1 x 1,000,000 grey PNG (a few KB): the reliability issue's decompression bomb.
    static func hugeGreyPNG() -> Data {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("huge-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: root) }
        let image = Image(width: 1, height: 1_000_000, channels: 1, pixels: [UInt8](repeating: 128, count: 1_000_000))
        try! ImageFile.writePNG(image, to: root)
        return try! Data(contentsOf: root)
    }
}
