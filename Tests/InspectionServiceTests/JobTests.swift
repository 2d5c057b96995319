import Evaluation
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ImageIO
import InspectionService
import InspectionStore
import StoreTestSupport
import Testing

/// Fit jobs through the API: datasets uploaded, a fit queued, run by the server's job worker, its model version
/// activated and used by the next inspection; cancellation.
@Suite(.serialized) struct JobTests {
    static func waitForJob(_ client: any TestClientProtocol, _ key: String, _ id: Int,
                           until states: Set<String>, within seconds: Double = 180) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            let job = object(try await client.execute(uri: "/api/v1/jobs/\(id)", method: .get, headers: auth(key)))
            if let state = job["state"] as? String, states.contains(state) { return job }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("job \(id) did not reach \(states) within \(seconds) s")
        return [:]
    }

    @Test func aFitJobAddsAndActivatesAVersionThatInspects() async throws {
        let fixture = try ServiceFixture.shared()
        // A feature memory of 4 KiB: the fit's bank is built chunk by chunk (the job's result says in how many).
        try await ServiceHarness.with(.sqlite, configure: { $0.jobPollSeconds = 0.1; $0.fitFeatureMemory = 1 << 12 }) { h, client in
            try await deployModel(h, client)
            // Too few good images: the job fails with a message that says so.
            let early = object(try await client.execute(uri: "/api/v1/products/bottle/jobs/fit", method: .post,
                                                        headers: jsonHeaders(h.expert), body: buffer("{}")))
            let failed = try await Self.waitForJob(client, h.expert, early["id"] as! Int, until: ["failed"])
            #expect((failed["error"] as? String)?.contains("at least 6") == true, "\(failed)")

            for image in fixture.good + fixture.good.prefix(4) {   // 8 uploads (duplicates are stored once as blobs)
                let r = try await client.execute(uri: "/api/v1/products/bottle/datasets/good", method: .post,
                                                 headers: imageHeaders(h.expert), body: buffer(image))
                #expect(r.status == .created)
            }
            let bad = try await client.execute(uri: "/api/v1/products/bottle/jobs/fit", method: .post,
                                               headers: jsonHeaders(h.expert), body: buffer(#"{"coreset_ratio": 7}"#))
            #expect(bad.status == .badRequest && text(bad).contains("coreset"), "\(text(bad))")
            let badSize = try await client.execute(uri: "/api/v1/products/bottle/jobs/fit", method: .post,
                                                   headers: jsonHeaders(h.expert), body: buffer(#"{"size": "10x9000"}"#))
            #expect(badSize.status == .badRequest && text(badSize).contains("size"), "\(text(badSize))")
            for (body, says) in [(#"{"geometry": "native:9"}"#, "native scale"), (#"{"geometry": "fisheye"}"#, "short-side:N"),
                                 (#"{"geometry": "short-side:20"}"#, "short side"), (#"{"size": "96x80", "geometry": "native"}"#, "not both")] {
                let r = try await client.execute(uri: "/api/v1/products/bottle/jobs/fit", method: .post,
                                                 headers: jsonHeaders(h.expert), body: buffer(body))
                #expect(r.status == .badRequest && text(r).contains("geometry") && text(r).contains(says), "\(body): \(text(r))")
            }
            for (body, says) in [(#"{"tile": "big"}"#, "WxH"), (#"{"tile": "100x64"}"#, "multiples of 32"),
                                 (#"{"tile": "64x64", "tile_overlap": 40}"#, "overlap"), (#"{"tile_overlap": 64}"#, "needs tile")] {
                let r = try await client.execute(uri: "/api/v1/products/bottle/jobs/fit", method: .post,
                                                 headers: jsonHeaders(h.expert), body: buffer(body))
                #expect(r.status == .badRequest && text(r).contains("tile") && text(r).contains(says), "\(body): \(text(r))")
            }
            // A tap the backbone lacks: the job fails naming the valid ones.
            let unknownTap = object(try await client.execute(uri: "/api/v1/products/bottle/jobs/fit", method: .post,
                                                             headers: jsonHeaders(h.expert), body: buffer(#"{"taps": ["layer9"]}"#)))
            let tapFailed = try await Self.waitForJob(client, h.expert, unknownTap["id"] as! Int, until: ["failed"])
            #expect((tapFailed["error"] as? String)?.contains("layer9") == true
                    && (tapFailed["error"] as? String)?.contains("valid taps") == true, "\(tapFailed)")
            let operatorTry = try await client.execute(uri: "/api/v1/products/bottle/jobs/fit", method: .post,
                                                       headers: jsonHeaders(h.operator), body: buffer("{}"))
            #expect(operatorTry.status == .forbidden)

            let started = try await client.execute(uri: "/api/v1/products/bottle/jobs/fit", method: .post,
                                                   headers: jsonHeaders(h.expert),
                                                   body: buffer(#"{"coreset_ratio": 0.1, "activate": true, "geometry": "short-side:80", "taps": ["features.13"], "tile": "64x64", "tile_overlap": 32}"#))
            #expect(started.status == .created, "\(text(started))")
            let job = try await Self.waitForJob(client, h.expert, object(started)["id"] as! Int, until: ["succeeded", "failed"])
            #expect(job["state"] as? String == "succeeded", "\(job)")
            #expect((job["result"] as? String)?.contains("\"version\":2") == true, "\(job)")
            let fitResult = try JSONSerialization.jsonObject(with: Data(((job["result"] as? String) ?? "{}").utf8)) as? [String: Any]
            #expect((fitResult?["bank_chunks"] as? Int ?? 0) > 1, "\(job)")
            #expect(job["total"] as? Int ?? 0 > 0)
            let fitted = object(try await client.execute(uri: "/api/v1/products/bottle/models", method: .get, headers: auth(h.operator)))
            let config = try #require((fitted["items"] as? [[String: Any]])?.first { $0["version"] as? Int == 2 }?["config"] as? String)
            #expect(config.contains(#""taps":["features.13"]"#) && config.contains(#""shortSide":{"side":80}"#)
                    && config.contains(#""overlap":32"#) && config.contains(#""width":64"#), "\(config)")
            let inspected = object(try await client.execute(uri: "/api/v1/products/bottle/inspect", method: .post,
                                                            headers: imageHeaders(h.operator), body: buffer(fixture.good[0])))
            #expect(inspected["model_version"] as? Int == 2, "\(inspected)")

            // Evaluation of version 2: refused while every good image was in its training set, then run on two new
            // good images and the defects (one with its mask); the metrics land on the version.
            let tooEarly = object(try await client.execute(uri: "/api/v1/products/bottle/models/2/evaluate", method: .post,
                                                           headers: auth(h.expert)))
            let refused = try await Self.waitForJob(client, h.expert, tooEarly["id"] as! Int, until: ["failed"])
            #expect((refused["error"] as? String)?.contains("not trained on (0)") == true, "\(refused)")
            for image in [fixture.good[0], fixture.good[3]] {
                _ = try await client.execute(uri: "/api/v1/products/bottle/datasets/good", method: .post,
                                             headers: imageHeaders(h.expert), body: buffer(image))
            }
            let zip = try DatasetBatchTests.zip([
                ("crack/a.png", fixture.defects[0]), ("crack/a_mask.png", try DatasetBatchTests.mask(like: fixture.defects[0])),
                ("crack/b.png", fixture.defects[1]), ("spot/c.png", fixture.defects[2]),
            ])
            let uploaded = try await client.execute(uri: "/api/v1/products/bottle/datasets/defect/batch", method: .post,
                                                    headers: auth(h.expert, [.contentType: "application/zip"]), body: buffer(zip))
            #expect(uploaded.status == .created, "\(text(uploaded))")
            #expect(try await client.execute(uri: "/api/v1/products/bottle/models/2/evaluate", method: .post,
                                             headers: auth(h.operator)).status == .forbidden)
            let evaluation = object(try await client.execute(uri: "/api/v1/products/bottle/models/2/evaluate", method: .post,
                                                             headers: auth(h.expert)))
            let evaluated = try await Self.waitForJob(client, h.expert, evaluation["id"] as! Int, until: ["succeeded", "failed"])
            #expect(evaluated["state"] as? String == "succeeded", "\(evaluated)")
            let versions = object(try await client.execute(uri: "/api/v1/products/bottle/models", method: .get,
                                                           headers: auth(h.operator)))["items"] as! [[String: Any]]
            let v2 = try #require(versions.first { $0["version"] as? Int == 2 })
            let metrics = try JSONSerialization.jsonObject(with: Data(((v2["metrics"] as? String) ?? "{}").utf8)) as! [String: Any]
            #expect(metrics["n_good"] as? Int == 2 && metrics["n_defect"] as? Int == 3 && metrics["n_defect_with_mask"] as? Int == 1, "\(metrics)")
            #expect(metrics["n_test_images"] as? Int == 5)
            let auroc = try #require(metrics["image_auroc"] as? Double)
            #expect(auroc >= 0 && auroc <= 1)
            #expect(metrics["pixel_auroc"] is Double)   // from the one mask
            #expect((metrics["image_auroc_per_defect_type"] as? [String: Double])?.keys.sorted() == ["crack", "spot"], "\(metrics)")
            #expect((metrics["pixel_auroc_per_defect_type"] as? [String: Double])?.count == 1, "\(metrics)")   // the masked type only
            #expect((v2["train_items"] as? String)?.hasPrefix("[") == true)
            // Each image's score and the curves, for the Models page: they agree with the metrics stored beside them.
            let images = try #require(metrics["images"] as? [[String: Any]])
            #expect(images.count == 5 && images.filter { $0["defect"] as? Bool == true }.count == 3)
            #expect(images.allSatisfy { ($0["image_blob"] as? String)?.count == 64 && $0["dataset_item_id"] is Int })
            // The worst cases (here every image: 2 good, 3 defects, under 6 per side) carry a heatmap overlay: the
            // image at its width with the map drawn on it and the legend band beneath.
            for entry in images {
                let overlay = try #require(entry["overlay_blob"] as? String, "\(entry)")
                #expect(overlay != entry["image_blob"] as? String)
                let bytes = { (sha: String) async throws -> Data in
                    Data(try await client.execute(uri: "/api/v1/blobs/\(sha)", method: .get, headers: auth(h.operator)).body.readableBytesView)
                }
                let (drawn, original) = (try ImageFile.decode(try await bytes(overlay), file: "overlay"),
                                         try ImageFile.decode(try await bytes(entry["image_blob"] as! String), file: "image"))
                #expect(drawn.width == original.width && drawn.height > original.height, "\(drawn.width)x\(drawn.height)")
            }
            let scores = images.map { Float($0["score"] as! Double) }, labels = images.map { $0["defect"] as! Bool }
            #expect(try Metrics.auroc(scores: scores, labels: labels) == auroc)
            let roc = try #require(metrics["roc"] as? [String: [Double]])
            #expect(roc["fpr"]?.first == 0 && roc["fpr"]?.last == 1 && roc["tpr"]?.count == roc["fpr"]?.count)
            let pr = try #require(metrics["pr"] as? [String: [Double]])
            #expect(pr["recall"]?.last == 1 && pr["precision"]?.count == pr["recall"]?.count)
        }
    }

    /// A plain version and the dual one rebuilt after it are compared on the same images: with `common_with`, each
    /// is evaluated on the good and defect images neither was trained on (the dual one trains on defects too).
    @Test func twoVersionsCompareOnTheImagesNeitherWasTrainedOn() async throws {
        let fixture = try ServiceFixture.shared()
        try await ServiceHarness.with(.sqlite, configure: { $0.jobPollSeconds = 0.1 }) { h, client in
            _ = try await client.execute(uri: "/api/v1/products", method: .post, headers: jsonHeaders(h.admin),
                                         body: buffer(#"{"name":"bottle"}"#))
            func upload(_ images: [Data]) async throws {
                for image in images {
                    _ = try await client.execute(uri: "/api/v1/products/bottle/datasets/good", method: .post,
                                                 headers: imageHeaders(h.expert), body: buffer(image))
                }
            }
            func run(_ path: String, _ body: String) async throws -> [String: Any] {
                let started = try await client.execute(uri: "/api/v1/products/bottle/\(path)", method: .post,
                                                       headers: jsonHeaders(h.expert), body: buffer(body))
                #expect(started.status == .created, "\(path): \(text(started))")
                return try await Self.waitForJob(client, h.expert, object(started)["id"] as! Int, until: ["succeeded", "failed"])
            }
            func metrics(_ version: Int) async throws -> [String: Any] {
                let versions = object(try await client.execute(uri: "/api/v1/products/bottle/models", method: .get,
                                                               headers: auth(h.operator)))["items"] as! [[String: Any]]
                let json = versions.first { $0["version"] as? Int == version }?["metrics"] as? String ?? "{}"
                return try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] ?? [:]
            }
            let fit = #"{"coreset_ratio": 0.1, "size": "96x80", "taps": ["features.13"]"#
            try await upload(fixture.good + fixture.good.prefix(2))                  // 6: v1's training set
            let zip = try DatasetBatchTests.zip([
                ("crack/a.png", fixture.defects[0]), ("crack/a_mask.png", try DatasetBatchTests.mask(like: fixture.defects[0])),
            ])
            _ = try await client.execute(uri: "/api/v1/products/bottle/datasets/defect/batch", method: .post,
                                         headers: auth(h.expert, [.contentType: "application/zip"]), body: buffer(zip))
            #expect(try await run("jobs/fit", fit + "}")["state"] as? String == "succeeded")
            try await upload([fixture.good[2], fixture.good[3]])                    // v2 trains on these too
            #expect(try await run("jobs/fit", fit + #", "positives": true}"#)["state"] as? String == "succeeded")  // + defect a
            // Before anything new: v2 left nothing out, so the comparison says what to upload.
            let none = try await run("models/1/evaluate", #"{"common_with": 2}"#)
            #expect((none["error"] as? String)?.contains("neither v1 nor v2 was trained on (0)") == true, "\(none)")
            try await upload([fixture.good[0], fixture.good[1]])
            let more = try DatasetBatchTests.zip([("crack/b.png", fixture.defects[1]), ("spot/c.png", fixture.defects[2])])
            _ = try await client.execute(uri: "/api/v1/products/bottle/datasets/defect/batch", method: .post,
                                         headers: auth(h.expert, [.contentType: "application/zip"]), body: buffer(more))

            // Alone, v1 is measured on 4 good images and 3 defects, v2 on 2 and 2.
            #expect(try await run("models/1/evaluate", "")["state"] as? String == "succeeded")
            let alone = try await metrics(1)
            #expect(alone["n_good"] as? Int == 4 && alone["n_defect"] as? Int == 3 && alone["common_with"] == nil, "\(alone)")
            // Together, both on the same 2 + 2.
            #expect(try await run("models/1/evaluate", #"{"common_with": 2}"#)["state"] as? String == "succeeded")
            #expect(try await run("models/2/evaluate", #"{"common_with": 1}"#)["state"] as? String == "succeeded")
            let (m1, m2) = (try await metrics(1), try await metrics(2))
            for (m, other) in [(m1, 2), (m2, 1)] {
                #expect(m["n_good"] as? Int == 2 && m["n_defect"] as? Int == 2 && m["common_with"] as? Int == other, "\(m)")
            }
            let ids = { (m: [String: Any]) in Set((m["images"] as? [[String: Any]] ?? []).compactMap { $0["dataset_item_id"] as? Int }) }
            #expect(ids(m1) == ids(m2) && ids(m1).count == 4)

            let refusals = [("models/2/evaluate", #"{"common_with": 2}"#, HTTPResponse.Status.badRequest),
                            ("models/2/evaluate", #"{"common_with": 9}"#, .notFound),
                            ("models/2/evaluate", #"{"common_with": "one"}"#, .badRequest)]
            for (path, body, status) in refusals {
                let r = try await client.execute(uri: "/api/v1/products/bottle/\(path)", method: .post, headers: jsonHeaders(h.expert),
                                                 body: buffer(body))
                #expect(r.status == status, "\(body): \(r.status) \(text(r))")
            }

            // The normal areas of the accepted defects with masks (only a has one) join v3's bank, and count as
            // trained on; a margin without the option, or out of range, is refused before a job starts.
            let areas = try await run("jobs/fit", fit + #", "normal_from_defects": true, "defect_margin": 1}"#)
            #expect(areas["state"] as? String == "succeeded", "\(areas)")
            let result = try JSONSerialization.jsonObject(with: Data(((areas["result"] as? String) ?? "{}").utf8)) as? [String: Any]
            #expect(result?["normal_area_images"] as? Int == 1, "\(areas)")
            let versions = object(try await client.execute(uri: "/api/v1/products/bottle/models", method: .get,
                                                           headers: auth(h.operator)))["items"] as! [[String: Any]]
            func trained(_ version: Int) throws -> Set<Int> {
                let text = versions.first { $0["version"] as? Int == version }?["train_items"] as? String ?? "[]"
                return Set(try JSONDecoder().decode([Int].self, from: Data(text.utf8)))
            }
            // v2 = the 8 good images then + defect a (its positive); v3 = all 10 good images + defect a's normal areas.
            let (v2, v3) = (try trained(2), try trained(3))
            #expect(v2.isSubset(of: v3) && v3.count == 11, "v2 \(v2), v3 \(v3)")
            for body in [#"{"defect_margin": 2}"#, #"{"normal_from_defects": true, "defect_margin": 65}"#] {
                let r = try await client.execute(uri: "/api/v1/products/bottle/jobs/fit", method: .post, headers: jsonHeaders(h.expert),
                                                 body: buffer(body))
                #expect(r.status == .badRequest && text(r).contains("defect_margin"), "\(body): \(r.status) \(text(r))")
            }
        }
    }

    @Test func aQueuedJobCancelsAtOnceAndAnEndedOneRefuses() async throws {
        try await ServiceHarness.with(.sqlite, configure: { $0.jobWorkers = 0 }) { h, client in
            _ = try await client.execute(uri: "/api/v1/products", method: .post, headers: jsonHeaders(h.admin),
                                         body: buffer(#"{"name":"bottle"}"#))
            let job = object(try await client.execute(uri: "/api/v1/products/bottle/jobs/fit", method: .post,
                                                      headers: jsonHeaders(h.expert), body: buffer("{}")))
            #expect(job["state"] as? String == "queued")
            let cancelled = try await client.execute(uri: "/api/v1/jobs/\(job["id"] as! Int)/cancel", method: .post, headers: auth(h.expert))
            #expect(object(cancelled)["state"] as? String == "cancelled")
            let again = try await client.execute(uri: "/api/v1/jobs/\(job["id"] as! Int)/cancel", method: .post, headers: auth(h.expert))
            #expect(again.status == .conflict)
            let listed = object(try await client.execute(uri: "/api/v1/jobs?state=cancelled", method: .get, headers: auth(h.operator)))
            #expect((listed["items"] as? [Any])?.count == 1)
        }
    }
}
