import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InspectionService
import InspectionStore
import StoreTestSupport
import Testing

/// The store going away and the process being stopped: nothing unrecorded is answered, nothing committed is lost.
@Suite(.serialized) struct StoreFailureTests {
    /// PostgreSQL stopped under a running service and started again: inspections are refused with 503 (never
    /// answered unrecorded), /readyz fails, and both recover by themselves once the server is back.
    @Test
    func aStoreOutageIsA503AndTheServiceRecoversByItself() async throws {
        let fixture = try ServiceFixture.shared()
        try await ServiceHarness.with(.postgres) { h, client in
            try await deployModel(h, client)
            func inspect() async throws -> TestResponse {
                try await client.execute(uri: "/api/v1/products/bottle/inspect", method: .post,
                                         headers: imageHeaders(h.operator), body: buffer(fixture.good[0]))
            }
            #expect(try await inspect().status == .ok)
            try TestDatabases.serverScript("pause")   // PostgreSQL stopped (fast shutdown), data kept
            var restarted = false
            defer { if !restarted { _ = try? TestDatabases.serverScript("start") } }
            let down = try await inspect()
            #expect(down.status == .serviceUnavailable, "\(down.status) \(text(down))")
            #expect(down.headers[.retryAfter] != nil)
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .serviceUnavailable)
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)   // the process is fine

            try TestDatabases.serverScript("start")
            restarted = true
            var status = HTTPResponse.Status.serviceUnavailable
            let back = ContinuousClock.now
            while status != .ok, ContinuousClock.now - back < .seconds(30) {
                status = try await inspect().status
                if status != .ok { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(status == .ok, "not recovered 30 s after PostgreSQL came back")
            print("store outage: first 200 \(ContinuousClock.now - back) after PostgreSQL was back")
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
            #expect(try await h.server.store.inspectionCount() == 2)   // the refused one was not recorded
        }
    }

    @Test func sigtermDuringABurstLosesNoCommittedInspection() async throws {
        let fixture = try ServiceFixture.shared()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sigterm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let setup = try await InspectionStore.open(databaseURL: nil, dataDirectory: folder)
        let key = try await setup.createKey(name: "admin", role: .admin, actor: "test").key
        await setup.close()
        let replica = try ScaleOutTests.Replica(["--data-dir", folder.path, "--port", "0", "--inference-workers", "2",
                                                 "--inference-queue", "64"], log: folder.appendingPathComponent("serve.log"))
        defer { replica.stop() }
        #expect(try await replica.request("POST", "/api/v1/products", key: key, body: Data(#"{"name":"bottle"}"#.utf8)).status == 201)
        #expect(try await replica.request("POST", "/api/v1/products/bottle/models", key: key, body: fixture.modelFile,
                                          type: "application/octet-stream").status == 201)
        #expect(try await replica.request("POST", "/api/v1/products/bottle/models/1/activate", key: key).status == 200)

        // 40 inspections in flight; SIGTERM once the first answers arrive.
        final class Answers: @unchecked Sendable {
            let lock = NSLock()
            var ids: [Int] = []
            var failures = 0
        }
        let answers = Answers()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask {
                    do {
                        let r = try await replica.request("POST", "/api/v1/products/bottle/inspect?source=burst-\(i)",
                                                          key: key, body: fixture.good[i % fixture.good.count], type: "image/png")
                        answers.lock.withLock {
                            if r.status == 200, let id = r.json["id"] as? Int { answers.ids.append(id) } else { answers.failures += 1 }
                        }
                    } catch {
                        answers.lock.withLock { answers.failures += 1 }   // refused once the listener closed
                    }
                }
            }
            group.addTask {
                while answers.lock.withLock({ answers.ids.count }) < 3 { try await Task.sleep(for: .milliseconds(10)) }
                replica.process.terminate()   // SIGTERM
            }
            try await group.waitForAll()
        }
        replica.process.waitUntilExit()
        #expect(replica.process.terminationReason == .exit && replica.process.terminationStatus == 0,
                "\((try? String(contentsOf: replica.log, encoding: .utf8)) ?? "")")
        // Every answered inspection is in the database, which is consistent; no blob is half-written.
        let store = try await InspectionStore.open(databaseURL: nil, dataDirectory: folder)
        for id in answers.ids { #expect(try await store.inspection(id: Int64(id)).source.hasPrefix("burst-")) }
        #expect(try await store.db.query("PRAGMA integrity_check", []).first?.values.values.first == .text("ok"))
        let stored = try await store.inspectionCount()
        #expect(stored >= answers.ids.count)
        await store.close()
        let leftovers = FileManager.default.enumerator(atPath: folder.appendingPathComponent("blobs").path)?
            .compactMap { $0 as? String }.filter { $0.hasSuffix(".tmp") } ?? []
        #expect(leftovers.isEmpty, "\(leftovers)")
        print("SIGTERM during a burst: \(answers.ids.count) answered, \(answers.failures) refused, \(stored) stored")
    }
}
