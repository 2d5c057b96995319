import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
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
        try await ServiceHarness.with(.sqlite, configure: { $0.jobPollSeconds = 0.1 }) { h, client in
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
            let operatorTry = try await client.execute(uri: "/api/v1/products/bottle/jobs/fit", method: .post,
                                                       headers: jsonHeaders(h.operator), body: buffer("{}"))
            #expect(operatorTry.status == .forbidden)

            let started = try await client.execute(uri: "/api/v1/products/bottle/jobs/fit", method: .post,
                                                   headers: jsonHeaders(h.expert),
                                                   body: buffer(#"{"coreset_ratio": 0.1, "activate": true}"#))
            #expect(started.status == .created, "\(text(started))")
            let job = try await Self.waitForJob(client, h.expert, object(started)["id"] as! Int, until: ["succeeded", "failed"])
            #expect(job["state"] as? String == "succeeded", "\(job)")
            #expect((job["result"] as? String)?.contains("\"version\":2") == true, "\(job)")
            #expect(job["total"] as? Int ?? 0 > 0)
            let inspected = object(try await client.execute(uri: "/api/v1/products/bottle/inspect", method: .post,
                                                            headers: imageHeaders(h.operator), body: buffer(fixture.good[0])))
            #expect(inspected["model_version"] as? Int == 2, "\(inspected)")
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
