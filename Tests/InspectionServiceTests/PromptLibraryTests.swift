import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InspectionService
import InspectionStore
import StoreTestSupport
import Testing

/// The expert's prompt library: presets saved per product and defect class through the API, on both engines, with
/// their ranges checked like a synthesize job's, removal that keeps them for the audit log, and the expert role.
@Suite(.serialized) struct PromptLibraryTests {
    @Test(arguments: Backend.allCases)
    func presetsAreSavedListedRemovedAndRestored(_ backend: Backend) async throws {
        try await ServiceHarness.with(backend) { h, client in
            _ = try await client.execute(uri: "/api/v1/products", method: .post, headers: jsonHeaders(h.admin),
                                         body: buffer(#"{"name":"bottle"}"#))
            let uri = "/api/v1/products/bottle/prompts"
            func add(_ json: String, key: String? = nil) async throws -> TestResponse {
                try await client.execute(uri: uri, method: .post, headers: jsonHeaders(key ?? h.expert), body: buffer(json))
            }
            // Text a page must show as text, kept byte for byte.
            let hostile = #"a crack <img src=x onerror=alert(1)> \"quoted\" & 'single'"#
            let scratch = try await add("""
                {"defect_class":"scratch","prompt":"\(hostile)","negative_prompt":"blurry","steps":40,
                 "guidance_scale":9.5,"strength":0.8,"padding_mask_crop":32,"seed":7}
                """)
            #expect(scratch.status == .created, "\(text(scratch))")
            let saved = object(scratch)
            #expect(saved["prompt"] as? String == #"a crack <img src=x onerror=alert(1)> "quoted" & 'single'"#)
            #expect(saved["negative_prompt"] as? String == "blurry")
            #expect(saved["steps"] as? Int == 40 && saved["guidance_scale"] as? Double == 9.5 && saved["strength"] as? Double == 0.8)
            #expect(saved["padding_mask_crop"] as? Int == 32 && saved["seed"] as? Int == 7 && saved["created_by"] as? String == "expert")
            // Left out: a synthesize job's defaults.
            let dent = object(try await add(#"{"defect_class":"dent","prompt":"a shallow dent"}"#))
            #expect(dent["steps"] as? Int == 30 && dent["guidance_scale"] as? Double == 7.5 && dent["strength"] as? Double == 1.0)
            #expect(dent["padding_mask_crop"] == nil && dent["seed"] == nil && dent["negative_prompt"] == nil)
            _ = try await add(#"{"defect_class":"scratch","prompt":"a long thin scratch"}"#)

            // Out of range: a 400 naming the field.
            for (json, field) in [(#"{"defect_class":"","prompt":"x"}"#, "defect_class"),
                                  (#"{"defect_class":"a","prompt":""}"#, "prompt"),
                                  (#"{"defect_class":"a","prompt":"bell \u0007"}"#, "prompt"),
                                  (#"{"defect_class":"a","prompt":"x","negative_prompt":"\u0085"}"#, "negative_prompt"),
                                  (#"{"defect_class":"a","prompt":"x","steps":0}"#, "steps"),
                                  (#"{"defect_class":"a","prompt":"x","guidance_scale":101}"#, "guidance_scale"),
                                  (#"{"defect_class":"a","prompt":"x","strength":0}"#, "strength"),
                                  (#"{"defect_class":"a","prompt":"x","padding_mask_crop":-1}"#, "padding_mask_crop"),
                                  (#"{"defect_class":"a","prompt":"x","seed":-5}"#, "seed")] {
                let r = try await add(json)
                #expect(r.status == .badRequest && text(r).contains(field), "\(json): \(r.status) \(text(r))")
            }
            #expect(try await add(#"{"defect_class":"a","prompt":"x"}"#, key: h.operator).status == .forbidden)
            #expect(try await client.execute(uri: uri, method: .get, headers: auth(h.operator)).status == .forbidden)
            #expect(try await client.execute(uri: "/api/v1/products/nope/prompts", method: .get, headers: auth(h.expert)).status == .notFound)

            func list(_ query: String = "") async throws -> [[String: Any]] {
                let r = try await client.execute(uri: uri + query, method: .get, headers: auth(h.expert))
                #expect(r.status == .ok)
                return object(r)["items"] as? [[String: Any]] ?? []
            }
            // By defect class, then oldest first.
            #expect(try await list().map { $0["defect_class"] as! String } == ["dent", "scratch", "scratch"])
            #expect(try await list("?defect_class=scratch").map { $0["prompt"] as! String }
                    == [saved["prompt"] as! String, "a long thin scratch"])

            let id = saved["id"] as! Int
            let removed = try await client.execute(uri: "/api/v1/prompts/\(id)", method: .delete, headers: auth(h.expert))
            #expect(removed.status == .ok && object(removed)["removed_by"] as? String == "expert")
            #expect(try await client.execute(uri: "/api/v1/prompts/\(id)", method: .delete, headers: auth(h.expert)).status == .conflict)
            #expect(try await list("?defect_class=scratch").count == 1)
            #expect(try await list("?include_removed=true").count == 3)
            let restored = try await client.execute(uri: "/api/v1/prompts/\(id)/restore", method: .post, headers: auth(h.expert))
            #expect(restored.status == .ok && object(restored)["removed_ms"] == nil)
            #expect(try await list("?defect_class=scratch").count == 2)
            #expect(try await client.execute(uri: "/api/v1/prompts/99999", method: .delete, headers: auth(h.expert)).status == .notFound)

            let audit = try await h.server.store.auditLog(entity: "prompt_preset", entityId: String(id))
            #expect(audit.map(\.action).sorted() == ["add", "remove", "restore"])
        }
    }

    @Test(arguments: Backend.allCases)
    func synthesizeJobsCheckThePaddingCrop(_ backend: Backend) async throws {
        try await ServiceHarness.with(backend) { h, client in
            _ = try await client.execute(uri: "/api/v1/products", method: .post, headers: jsonHeaders(h.admin),
                                         body: buffer(#"{"name":"bottle"}"#))
            // The crop belongs to the diffusion generator; a classical job that asks for it is told so.
            let r = try await client.execute(uri: "/api/v1/products/bottle/jobs/synthesize", method: .post,
                                             headers: jsonHeaders(h.expert),
                                             body: buffer(#"{"generator":"classical","count":2,"padding_mask_crop":16}"#))
            #expect(r.status == .badRequest && text(r).contains("padding_mask_crop"), "\(text(r))")
        }
    }
}
