import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ImageIO
import InspectionService
import InspectionStore
import StoreTestSupport
import Testing

/// Synthesize jobs through the API: classical samples from the product's own data (both engines) and diffusion ones
/// from the tiny random SD inpainting folder of the Inpainting tests; each sample waits, pending, for the expert's
/// verdict, and accepted ones feed a PatchCoreDual fit.
@Suite(.serialized) struct SynthesizeJobTests {
    static let sdTiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("InpaintingTests/Fixtures/sd_tiny")

    static func start(_ h: ServiceHarness, _ client: any TestClientProtocol, _ body: String, key: String? = nil) async throws -> TestResponse {
        try await client.execute(uri: "/api/v1/products/bottle/jobs/synthesize", method: .post,
                                 headers: jsonHeaders(key ?? h.expert), body: buffer(body))
    }

    static func items(_ h: ServiceHarness, _ client: any TestClientProtocol, _ query: String) async throws -> [[String: Any]] {
        object(try await client.execute(uri: "/api/v1/products/bottle/datasets?\(query)", method: .get,
                                        headers: auth(h.operator)))["items"] as? [[String: Any]] ?? []
    }

    /// The product, its good images and one defect with a mask (in a zip, as an expert would upload them).
    static func uploadData(_ h: ServiceHarness, _ client: any TestClientProtocol, goodCopies: Int = 1) async throws {
        let fixture = try ServiceFixture.shared()
        for _ in 0..<goodCopies {
            for image in fixture.good {
                let r = try await client.execute(uri: "/api/v1/products/bottle/datasets/good", method: .post,
                                                 headers: imageHeaders(h.expert), body: buffer(image))
                #expect(r.status == .created)
            }
        }
        let zip = try DatasetBatchTests.zip([
            ("crack/a.png", fixture.defects[0]), ("crack/a_mask.png", try DatasetBatchTests.mask(like: fixture.defects[0])),
        ])
        let r = try await client.execute(uri: "/api/v1/products/bottle/datasets/defect/batch", method: .post,
                                         headers: auth(h.expert, [.contentType: "application/zip"]), body: buffer(zip))
        #expect(r.status == .created, "\(text(r))")
    }

    @Test(arguments: Backend.allCases)
    func classicalSamplesWaitForTheExpertAndAcceptedOnesFeedADualFit(_ backend: Backend) async throws {
        try await ServiceHarness.with(backend, configure: { $0.jobPollSeconds = 0.1 }) { h, client in
            _ = try await client.execute(uri: "/api/v1/products", method: .post, headers: jsonHeaders(h.admin),
                                         body: buffer(#"{"name":"bottle"}"#))
            // Nothing to paint into yet: the job fails and says why.
            let early = object(try await Self.start(h, client, #"{"generator":"classical","count":2}"#))
            let failed = try await JobTests.waitForJob(client, h.expert, early["id"] as! Int, until: ["failed"])
            #expect((failed["error"] as? String)?.contains("no good images") == true, "\(failed)")

            // A client's mistakes are 4xx that name the field, before any job exists.
            for (body, status, words) in [
                (#"{"generator":"gan","count":2}"#, HTTPResponse.Status.badRequest, "generator"),
                (#"{"generator":"classical","count":0}"#, .badRequest, "count"),
                (#"{"generator":"classical","count":5000}"#, .badRequest, "count"),
                (#"{"generator":"classical","count":2,"methods":["smudge"]}"#, .badRequest, "smudge"),
                (#"{"generator":"classical","count":2,"prompts":["a crack"]}"#, .badRequest, "prompts"),
                (#"{"generator":"diffusion","count":2,"prompts":["a crack"]}"#, .conflict, "--diffusers"),
                (#"{"generator":"classical"}"#, .badRequest, "count"),
                (#"{"generator":"classical","count":2,"seed":-1}"#, .badRequest, "out of its field's range"),
                (#"{"generator":"classical","count":1e30}"#, .badRequest, "out of its field's range"),
                (#"{"generator":"classical","count":2,"label":"\#(String(repeating: "x", count: 65))"}"#, .badRequest, "label"),
            ] {
                let r = try await Self.start(h, client, body)
                #expect(r.status == status && text(r).contains(words), "\(body): \(r.status) \(text(r))")
            }
            #expect(try await Self.start(h, client, #"{"generator":"classical","count":2}"#, key: h.operator).status == .forbidden)

            try await Self.uploadData(h, client, goodCopies: 2)
            let started = try await Self.start(h, client, #"{"generator":"classical","count":4,"seed":3,"label":"synthetic crack"}"#)
            #expect(started.status == .created, "\(text(started))")
            let job = try await JobTests.waitForJob(client, h.expert, object(started)["id"] as! Int, until: ["succeeded", "failed"])
            #expect(job["state"] as? String == "succeeded", "\(job)")
            #expect((job["result"] as? String)?.contains("\"made\":4") == true, "\(job)")
            #expect(job["done"] as? Int == 4 && job["total"] as? Int == 4, "\(job)")

            let pending = try await Self.items(h, client, "kind=synthetic&verdict=pending")
            #expect(pending.count == 4)
            let goodIds = Set(try await Self.items(h, client, "kind=good").map { $0["id"] as! Int })
            let dataDir = h.server.configuration.dataDirectory.path
            for item in pending {
                #expect(item["origin"] as? String == "synthesis" && item["label"] as? String == "synthetic crack")
                #expect((item["origin_ref"] as? String)?.hasPrefix("job:\(job["id"] as! Int)/classical_") == true)
                let details = try JSONSerialization.jsonObject(with: Data((item["details"] as! String).utf8)) as! [String: Any]
                #expect(details["generator"] as? String == "classical" && details["method"] is String, "\(details)")
                // Sources are named as dataset items, never as the server's files.
                let source = try #require(details["source_image"] as? String)
                #expect(goodIds.contains(Int(source.split(separator: " ").last ?? "") ?? -1), "\(source)")
                #expect(!(item["details"] as! String).contains(dataDir))
                // The sample and its mask are served, at the good image's size.
                let image = try await client.execute(uri: "/api/v1/blobs/\(item["image_blob"] as! String)", method: .get, headers: auth(h.operator))
                let mask = try await client.execute(uri: "/api/v1/blobs/\(item["mask_blob"] as! String)", method: .get, headers: auth(h.operator))
                let decoded = try ImageFile.decode(Data(image.body.readableBytesView), file: "sample")
                let decodedMask = try ImageFile.decode(Data(mask.body.readableBytesView), file: "mask")
                #expect(decoded.width == decodedMask.width && decoded.height == decodedMask.height && decodedMask.channels == 1)
                #expect(decodedMask.pixels.contains(255), "a sample's mask marks its defect")
            }

            // Verdicts: only on synthetic samples, by an expert, audited, undoable with `pending`.
            let accept = pending[0]["id"] as! Int, reject = pending[1]["id"] as! Int
            func verdict(_ id: Int, _ body: String, key: String? = nil) async throws -> TestResponse {
                try await client.execute(uri: "/api/v1/datasets/\(id)/verdict", method: .post, headers: jsonHeaders(key ?? h.expert),
                                         body: buffer(body))
            }
            #expect(object(try await verdict(accept, #"{"verdict":"accepted"}"#))["verdict"] as? String == "accepted")
            #expect(object(try await verdict(reject, #"{"verdict":"rejected"}"#))["verdict"] as? String == "rejected")
            #expect(try await verdict(accept, #"{"verdict":"accepted"}"#, key: h.operator).status == .forbidden)
            #expect(try await verdict(accept, #"{"verdict":"maybe"}"#).status == .badRequest)
            #expect(try await verdict(goodIds.min()!, #"{"verdict":"accepted"}"#).status == .conflict)
            #expect(try await verdict(999_999, #"{"verdict":"accepted"}"#).status == .notFound)
            let undone = pending[2]["id"] as! Int
            _ = try await verdict(undone, #"{"verdict":"accepted"}"#)
            #expect(object(try await verdict(undone, #"{"verdict":"pending"}"#))["verdict"] as? String == "pending")
            #expect(try await Self.items(h, client, "kind=synthetic&verdict=accepted").map { $0["id"] as! Int } == [accept])
            #expect(try await Self.items(h, client, "kind=synthetic&verdict=pending").count == 2)
            let audit = object(try await client.execute(uri: "/api/v1/audit?entity=dataset_item&entity_id=\(reject)", method: .get,
                                                        headers: auth(h.admin)))["items"] as? [[String: Any]] ?? []
            #expect(audit.contains { $0["action"] as? String == "verdict_rejected" && $0["actor"] as? String == "expert" }, "\(audit)")

            // A dual fit: the accepted sample and the real defect with its mask build the positive bank; the
            // rejected and pending samples do not.
            let fit = object(try await client.execute(uri: "/api/v1/products/bottle/jobs/fit", method: .post, headers: jsonHeaders(h.expert),
                                                      body: buffer(#"{"coreset_ratio":0.1,"positives":true}"#)))
            let fitted = try await JobTests.waitForJob(client, h.expert, fit["id"] as! Int, until: ["succeeded", "failed"])
            #expect(fitted["state"] as? String == "succeeded", "\(fitted)")
            #expect((fitted["result"] as? String)?.contains("\"positives\":2") == true, "\(fitted)")
        }
    }

    /// A job taken over from a replica that died makes only the samples it had not stored, under the same ids.
    /// The expert's placement: a mask painted on one good image; every sample is that image with its defect inside
    /// the painted region, named as painted there.
    @Test func aPaintedMaskPutsEveryDefectWhereItWasPainted() async throws {
        try await ServiceHarness.with(.sqlite, configure: { $0.jobPollSeconds = 0.1 }) { h, client in
            _ = try await client.execute(uri: "/api/v1/products", method: .post, headers: jsonHeaders(h.admin),
                                         body: buffer(#"{"name":"bottle"}"#))
            try await Self.uploadData(h, client)
            let good = try #require(try await Self.items(h, client, "kind=good").last)
            let goodId = good["id"] as! Int
            let blob = try await client.execute(uri: "/api/v1/blobs/\(good["image_blob"] as! String)", method: .get, headers: auth(h.operator))
            let image = try ImageFile.decode(Data(blob.body.readableBytesView), file: "good")
            let (w, h0) = (image.width, image.height)
            var painted = [UInt8](repeating: 0, count: w * h0)
            for y in (h0 / 2)..<(3 * h0 / 4) { for x in (w / 2)..<(3 * w / 4) { painted[y * w + x] = 255 } }
            let mask = try ImageFile.encodePNG(Image(width: w, height: h0, channels: 1, pixels: painted), name: "painted").base64EncodedString()
            let defect = try #require(try await Self.items(h, client, "kind=defect").first)["id"] as! Int
            let small = try ImageFile.encodePNG(Image(width: 8, height: 8, channels: 1, pixels: [UInt8](repeating: 255, count: 64)), name: "small").base64EncodedString()
            for (body, status, words) in [
                (#"{"generator":"classical","count":2,"good_item_id":\#(goodId)}"#, HTTPResponse.Status.badRequest, "mask_base64"),
                (#"{"generator":"classical","count":2,"mask_base64":"\#(mask)"}"#, .badRequest, "good_item_id"),
                (#"{"generator":"classical","count":2,"good_item_id":\#(defect),"mask_base64":"\#(mask)"}"#, .badRequest, "not a good image"),
                (#"{"generator":"classical","count":2,"good_item_id":999999,"mask_base64":"\#(mask)"}"#, .notFound, "999999"),
                (#"{"generator":"classical","count":2,"good_item_id":\#(goodId),"mask_base64":"\#(small)"}"#, .unprocessableContent, "8x8"),
                (#"{"generator":"classical","count":2,"good_item_id":\#(goodId),"mask_base64":"\#(mask)","methods":["cut_paste"]}"#, .badRequest, "cut_paste"),
                (#"{"generator":"classical","count":2,"mask_blob":"\#(good["image_blob"] as! String)"}"#, .badRequest, "mask_blob"),
            ] {
                let r = try await Self.start(h, client, body)
                #expect(r.status == status && text(r).contains(words), "\(body.prefix(90)): \(r.status) \(text(r))")
            }
            let started = try await Self.start(h, client, #"{"generator":"classical","count":4,"seed":5,"good_item_id":\#(goodId),"mask_base64":"\#(mask)"}"#)
            #expect(started.status == .created, "\(text(started))")
            let job = try await JobTests.waitForJob(client, h.expert, object(started)["id"] as! Int, until: ["succeeded", "failed"])
            #expect(job["state"] as? String == "succeeded", "\(job)")
            let params = try #require(job["params"] as? String)
            #expect(params.contains("mask_blob") && !params.contains("mask_base64"), "the job keeps the stored mask, not its base64: \(params)")
            let samples = try await Self.items(h, client, "kind=synthetic")
            #expect(samples.count == 4)
            for item in samples {
                let details = try JSONSerialization.jsonObject(with: Data((item["details"] as! String).utf8)) as! [String: Any]
                #expect(details["source_image"] as? String == "dataset item \(goodId)", "\(details)")
                #expect(details["method"] as? String != "cut_paste")
                let sampleMask = try await client.execute(uri: "/api/v1/blobs/\(item["mask_blob"] as! String)", method: .get, headers: auth(h.operator))
                let m = try ImageFile.decode(Data(sampleMask.body.readableBytesView), file: "sample mask")
                #expect(m.width == w && m.height == h0)
                let inside = m.pixels.indices.filter { m.pixels[$0] > 127 }
                #expect(!inside.isEmpty && inside.allSatisfy { painted[$0] == 255 }, "every defect pixel lies in the painted mask")
            }
        }
    }

    @Test func aJobTakenOverSkipsTheSamplesAlreadyStored() async throws {
        try await ServiceHarness.with(.postgres, configure: { $0.jobWorkers = 0 }) { h, client in
            _ = try await client.execute(uri: "/api/v1/products", method: .post, headers: jsonHeaders(h.admin),
                                         body: buffer(#"{"name":"bottle"}"#))
            try await Self.uploadData(h, client)
            let id = object(try await Self.start(h, client, #"{"generator":"classical","count":3,"seed":1}"#))["id"] as! Int
            // What the dead replica had stored: sample 1 of the job.
            let product = try await h.server.store.product(named: "bottle")
            let good = try #require(try await h.server.store.datasetItems(productId: product.id, kind: .good).first)
            _ = try await h.server.store.addDatasetItem(productId: product.id, NewDatasetItem(
                kind: .synthetic, imageBlob: good.imageBlob, maskBlob: good.imageBlob, origin: "synthesis",
                originRef: "job:\(id)/classical_000001", verdict: .pending), actor: "job:\(id)")
            var configuration = h.server.configuration
            configuration.jobWorkers = 1
            configuration.jobPollSeconds = 0.1
            let replica = try await InspectionServer(configuration: configuration)
            let job = try await replica.application().test(.ahc(.http)) { _ in
                try await JobTests.waitForJob(client, h.expert, id, until: ["succeeded", "failed"])
            }
            await replica.store.close()
            #expect(job["state"] as? String == "succeeded", "\(job)")
            #expect((job["result"] as? String)?.contains(#""already_stored":1,"made":2"#) == true, "\(job)")
            let refs = try await Self.items(h, client, "kind=synthetic").compactMap { $0["origin_ref"] as? String }.sorted()
            #expect(refs == (0..<3).map { "job:\(id)/classical_00000\($0)" }, "\(refs)")
        }
    }

    /// The product's placement region, painted once: read back, used by every classical job (each sample's defect at
    /// least 90 % inside it), forgotten again; refused when empty, not an image, or sent by an operator.
    @Test(arguments: Backend.allCases)
    func aPlacementRegionPaintedForTheProductKeepsClassicalDefectsInside(_ backend: Backend) async throws {
        try await ServiceHarness.with(backend, configure: { $0.jobPollSeconds = 0.1 }) { h, client in
            _ = try await client.execute(uri: "/api/v1/products", method: .post, headers: jsonHeaders(h.admin),
                                         body: buffer(#"{"name":"bottle"}"#))
            let uri = "/api/v1/products/bottle/placement"
            func get() async throws -> [String: Any] {
                let r = try await client.execute(uri: uri, method: .get, headers: auth(h.operator))
                #expect(r.status == .ok, "\(text(r))")
                return object(r)
            }
            func put(_ base64: String, key: String? = nil) async throws -> TestResponse {
                try await client.execute(uri: uri, method: .put, headers: jsonHeaders(key ?? h.expert),
                                         body: buffer(#"{"mask_base64":"\#(base64)"}"#))
            }
            let empty = try await get()
            #expect(empty["source"] as? String == "none" && empty["mask_blob"] == nil, "\(empty)")
            try await Self.uploadData(h, client)
            let estimated = try await get()
            #expect(["estimated", "none"].contains(estimated["source"] as? String ?? ""), "\(estimated)")

            // The left half of the frame, painted at 64 x 64 (regions meet images of any size by nearest lookup).
            let side = 64
            let leftHalf = Image(width: side, height: side, channels: 1,
                                 pixels: (0..<side * side).map { $0 % side < side / 2 ? 255 : 0 })
            let black = Image(width: side, height: side, channels: 1, pixels: [UInt8](repeating: 0, count: side * side))
            #expect(try await put(ImageFile.encodePNG(leftHalf, name: "m").base64EncodedString(), key: h.operator).status == .forbidden)
            let notBase64 = try await put("@@@@")
            #expect(notBase64.status == .badRequest && text(notBase64).contains("mask_base64"), "\(text(notBase64))")
            let blank = try await put(ImageFile.encodePNG(black, name: "m").base64EncodedString())
            #expect(blank.status == .badRequest && text(blank).contains("empty"), "\(text(blank))")
            let notImage = try await put(Data("not an image".utf8).base64EncodedString())
            #expect((400..<500).contains(Int(notImage.status.code)) && text(notImage).contains("mask_base64"), "\(text(notImage))")
            let painted = try await put(ImageFile.encodePNG(leftHalf, name: "m").base64EncodedString())
            #expect(painted.status == .ok, "\(text(painted))")
            #expect(object(painted)["source"] as? String == "painted")
            let sha = try #require(object(painted)["mask_blob"] as? String)
            #expect(try await get()["mask_blob"] as? String == sha)
            let product = object(try await client.execute(uri: "/api/v1/products/bottle", method: .get, headers: auth(h.operator)))
            #expect(product["placement_blob"] as? String == sha)

            let started = object(try await Self.start(h, client, #"{"generator":"classical","count":6,"seed":3,"methods":["perlin_texture","perlin_intensity"]}"#))
            let job = try await JobTests.waitForJob(client, h.expert, started["id"] as! Int, until: ["succeeded", "failed"])
            #expect(job["state"] as? String == "succeeded", "\(job)")
            let samples = try await Self.items(h, client, "kind=synthetic")
            #expect(samples.count == 6)
            for item in samples {
                let blob = try await client.execute(uri: "/api/v1/blobs/\(item["mask_blob"] as! String)", method: .get, headers: auth(h.operator))
                let mask = try ImageFile.decode(Data(blob.body.readableBytesView), file: "sample mask")
                var inside = 0, total = 0
                for y in 0..<mask.height { for x in 0..<mask.width where mask.pixels[(y * mask.width + x) * mask.channels] > 127 {
                    total += 1
                    if x * side / mask.width < side / 2 { inside += 1 }
                } }
                #expect(total > 0 && Double(inside) >= 0.9 * Double(total), "sample \(item["id"]!): \(inside) of \(total) defect pixels in the region")
            }

            let cleared = try await client.execute(uri: uri, method: .delete, headers: auth(h.expert))
            #expect(cleared.status == .ok && object(cleared)["source"] as? String == estimated["source"] as? String, "\(text(cleared))")
            let audit = try await h.server.store.auditLog(entity: "product").map(\.action)
            #expect(audit.contains("set_placement") && audit.contains("clear_placement"), "\(audit)")
        }
    }

    @Test func diffusionSamplesComeFromTheConfiguredInpaintingFolder() async throws {
        try await ServiceHarness.with(.sqlite, configure: { $0.jobPollSeconds = 0.1; $0.diffusers = Self.sdTiny }) { h, client in
            _ = try await client.execute(uri: "/api/v1/products", method: .post, headers: jsonHeaders(h.admin),
                                         body: buffer(#"{"name":"bottle"}"#))
            let fixture = try ServiceFixture.shared()
            _ = try await client.execute(uri: "/api/v1/products/bottle/datasets/good", method: .post,
                                         headers: imageHeaders(h.expert), body: buffer(fixture.good[0]))
            let request = #"{"generator":"diffusion","count":2,"seed":5,"prompts":["a dark scratch"],"negative_prompt":"blur","steps":2}"#
            // Good images but no defect mask to paint into: the job says what to upload.
            let noMasks = object(try await Self.start(h, client, request))
            let refused = try await JobTests.waitForJob(client, h.expert, noMasks["id"] as! Int, until: ["failed"])
            #expect((refused["error"] as? String)?.contains("masks") == true, "\(refused)")
            #expect(try await Self.start(h, client, #"{"generator":"diffusion","count":2}"#).status == .badRequest)
            #expect(try await Self.start(h, client, #"{"generator":"diffusion","count":2,"prompts":["x"],"strength":0}"#).status == .badRequest)

            try await Self.uploadData(h, client)
            // With a padding crop: the model works on the mask's neighbourhood, recorded with each sample.
            let cropped = request.replacingOccurrences(of: #""steps":2"#, with: #""steps":2,"padding_mask_crop":4"#)
            let started = object(try await Self.start(h, client, cropped))
            let job = try await JobTests.waitForJob(client, h.expert, started["id"] as! Int, until: ["succeeded", "failed"])
            #expect(job["state"] as? String == "succeeded", "\(job)")
            let samples = try await Self.items(h, client, "kind=synthetic&verdict=pending")
            #expect(samples.count == 2)
            for item in samples {
                let details = try JSONSerialization.jsonObject(with: Data((item["details"] as! String).utf8)) as! [String: Any]
                #expect(details["generator"] as? String == "diffusion" && details["prompt"] as? String == "a dark scratch"
                        && details["negative_prompt"] as? String == "blur", "\(details)")
                #expect((details["source_mask"] as? String)?.hasPrefix("mask of dataset item") == true, "\(details)")
                let parameters = details["parameters"] as? [String: String] ?? [:]
                #expect(parameters["padding_mask_crop"] == "4" && parameters["crop_region"] != nil, "\(parameters)")
                #expect(!(item["details"] as! String).contains(h.server.configuration.dataDirectory.path))
            }
            // The scratch folder the library's writer used is gone once the samples are in the store.
            let scratch = h.server.configuration.dataDirectory.appendingPathComponent("synthesis/job-\(started["id"] as! Int)")
            #expect(!FileManager.default.fileExists(atPath: scratch.path))
        }
    }
}
