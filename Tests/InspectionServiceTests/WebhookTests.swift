import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InspectionService
import InspectionStore
import NIOCore
import StoreTestSupport
import Testing

/// A real HTTP server on loopback that receives webhook calls: it refuses the first attempt of each delivery
/// with 503 and accepts the next, and keeps what it accepted.
actor WebhookReceiver {
    struct Call: Sendable {
        let delivery: String
        let event: String
        let contentType: String
        let signature: String
        let raw: Data
        let body: [String: String]
    }

    private(set) var port: Int?
    private(set) var accepted: [Call] = []
    private(set) var refused: [String] = []
    private var task: Task<Void, any Error>?

    func setPort(_ p: Int) { port = p }

    func receive(_ call: Call) -> HTTPResponse.Status {
        if !refused.contains(call.delivery) {
            refused.append(call.delivery)
            return .serviceUnavailable
        }
        accepted.append(call)
        return .ok
    }

    func start() async throws -> Int {
        let router = Router()
        router.post("/hook") { [self] request, _ -> Response in
            var request = request
            let data = try await request.collectBody(upTo: 1 << 20)
            let json = (try? JSONSerialization.jsonObject(with: Data(data.readableBytesView))) as? [String: Any] ?? [:]
            let call = Call(delivery: request.headers[HTTPField.Name("X-PatchCore-Delivery")!] ?? "",
                            event: request.headers[HTTPField.Name("X-PatchCore-Event")!] ?? "",
                            contentType: request.headers[.contentType] ?? "",
                            signature: request.headers[HTTPField.Name("X-PatchCore-Signature")!] ?? "",
                            raw: Data(data.readableBytesView), body: json.mapValues { "\($0)" })
            return Response(status: await receive(call))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { [self] channel in await setPort(channel.localAddress?.port ?? 0) })
        task = Task { try await app.runService(gracefulShutdownSignals: []) }
        let deadline = ContinuousClock.now + .seconds(10)
        while port == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        guard let port else { throw TestDatabaseError("the webhook receiver did not start") }
        return port
    }

    func stop() { task?.cancel() }
}

/// Webhooks end to end: each inspection is POSTed to the product's URLs as the inspect route's JSON, a refused
/// attempt is retried, an unreachable receiver is given up after the configured attempts, and every attempt is in
/// the store.
@Suite(.serialized) struct WebhookTests {
    /// A receiver's check: `t=<seconds>,v1=<hex>` with v1 the HMAC-SHA256 of "<t>." + body, t within 5 minutes.
    static func signatureIsValid(_ header: String, body: Data, secret: String) -> Bool {
        let parts = Dictionary(header.split(separator: ",").compactMap { item -> (String, String)? in
            let kv = item.split(separator: "=", maxSplits: 1)
            return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
        }, uniquingKeysWith: { a, _ in a })
        guard let t = parts["t"], let at = Double(t), abs(Date().timeIntervalSince1970 - at) < 300,
              let v1 = parts["v1"] else { return false }
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(t).".utf8) + body, using: SymmetricKey(data: Data(secret.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined() == v1
    }

    func eventually(_ what: String, within seconds: Double = 60, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out after \(seconds) s waiting for \(what)")
    }

    @Test(arguments: Backend.allCases)
    func inspectionsReachTheirWebhooksWithRetries(_ backend: Backend) async throws {
        let fixture = try ServiceFixture.shared()
        let receiver = WebhookReceiver()
        let port = try await receiver.start()
        defer { Task { await receiver.stop() } }
        try await ServiceHarness.with(backend, configure: {
            $0.webhookPollSeconds = 0.05
            $0.webhookRetrySeconds = 0.05
            $0.webhookMaxAttempts = 3
            // An unreachable receiver holds its attempt until this timeout (the client retries the connection within it).
            $0.webhookTimeoutSeconds = 2
        }) { h, client in
            try await deployModel(h, client)
            let add = { (url: String) async throws -> TestResponse in
                try await client.execute(uri: "/api/v1/products/bottle/webhooks", method: .post,
                                         headers: jsonHeaders(h.admin), body: buffer(#"{"url":"\#(url)"}"#))
            }
            // Refused: not http(s), no host; and below the admin role.
            #expect(try await add("ftp://127.0.0.1/hook").status == .badRequest)
            #expect(try await add("http:///hook").status == .badRequest)
            #expect(try await client.execute(uri: "/api/v1/products/bottle/webhooks", method: .post,
                                             headers: jsonHeaders(h.expert), body: buffer(#"{"url":"http://127.0.0.1/"}"#)).status == .forbidden)
            let good = try await add("http://127.0.0.1:\(port)/hook")
            #expect(good.status == .created, "\(text(good))")
            // Nothing listens on port 1: every attempt fails to connect.
            let dead = try await add("http://127.0.0.1:1/hook")
            let goodId = object(good)["id"] as! Int, deadId = object(dead)["id"] as! Int

            var ids: [Int] = []
            for image in [fixture.good[0], fixture.defects[0], fixture.good[1]] {
                let r = try await client.execute(uri: "/api/v1/products/bottle/inspect", method: .post,
                                                 headers: imageHeaders(h.operator), body: buffer(image))
                #expect(r.status == .ok)
                ids.append(object(r)["id"] as! Int)
            }
            let store = h.server.store
            try await eventually("three deliveries to each webhook settled") {
                let a = try await store.deliveries(webhookId: Int64(goodId))
                let b = try await store.deliveries(webhookId: Int64(deadId))
                return a.count == 3 && a.allSatisfy { $0.state == .delivered }
                    && b.count == 3 && b.allSatisfy { $0.state == .failed }
            }
            // Each inspection arrived once accepted, after one refused attempt, as the inspect route's JSON.
            let accepted = await receiver.accepted
            #expect(accepted.map { Int($0.body["id"] ?? "") ?? -1 }.sorted() == ids.sorted())
            #expect(accepted.allSatisfy { $0.event == "inspection" && $0.contentType == "application/json" })
            #expect(accepted.allSatisfy { $0.body["product"] == "bottle" && $0.body["decision"] != nil
                                          && $0.body["heatmap_url"]?.hasPrefix("/api/v1/blobs/") == true })
            #expect(Set(accepted.map(\.delivery)).count == 3)
            // Signed: the secret is in the add answer only, and each body's HMAC under it is in the header.
            let secret = try #require(object(good)["signing_secret"] as? String)
            #expect(object(good)["signed"] as? Bool == true)
            for call in accepted {
                #expect(Self.signatureIsValid(call.signature, body: call.raw, secret: secret), "\(call.signature)")
                #expect(!Self.signatureIsValid(call.signature, body: call.raw + Data(" ".utf8), secret: secret))
                #expect(!Self.signatureIsValid(call.signature, body: call.raw, secret: secret + "0"))
            }
            let listed = try await client.execute(uri: "/api/v1/products/bottle/webhooks", method: .get, headers: auth(h.admin))
            #expect(!text(listed).contains(secret) && !text(listed).contains("signing_secret"))
            let delivered = try await store.deliveries(webhookId: Int64(goodId))
            #expect(delivered.allSatisfy { $0.attempts == 2 && $0.lastStatus == 200 && $0.finishedMs != nil })
            // The unreachable one: given up after 3 attempts, with the connection error kept.
            let failed = try await client.execute(uri: "/api/v1/webhooks/\(deadId)/deliveries?state=failed",
                                                  method: .get, headers: auth(h.admin))
            #expect(failed.status == .ok)
            let failures = object(failed)["items"] as! [[String: Any]]
            #expect(failures.count == 3)
            #expect(failures.allSatisfy { $0["attempts"] as? Int == 3 && $0["last_status"] == nil
                                          && !(($0["last_error"] as? String) ?? "").isEmpty })
            // The metrics count the attempts by outcome.
            let metrics = text(try await client.execute(uri: "/metrics", method: .get))
            #expect(metrics.contains(#"patchcore_webhook_attempts_total{outcome="delivered"} 3"#), "\(metrics.suffix(600))")
            #expect(metrics.contains(#"patchcore_webhook_attempts_total{outcome="failed"} 3"#))

            // A removed webhook gets nothing more; removing it twice is a conflict; both are audited.
            #expect(try await client.execute(uri: "/api/v1/webhooks/\(deadId)", method: .delete, headers: auth(h.admin)).status == .ok)
            #expect(try await client.execute(uri: "/api/v1/webhooks/\(deadId)", method: .delete, headers: auth(h.admin)).status == .conflict)
            #expect(try await client.execute(uri: "/api/v1/webhooks/999", method: .delete, headers: auth(h.admin)).status == .notFound)
            let r = try await client.execute(uri: "/api/v1/products/bottle/inspect", method: .post,
                                             headers: imageHeaders(h.operator), body: buffer(fixture.good[2]))
            #expect(r.status == .ok)
            try await eventually("the fourth inspection delivered") {
                try await store.deliveries(webhookId: Int64(goodId), state: .delivered).count == 4
            }
            #expect(try await store.deliveries(webhookId: Int64(deadId)).count == 3)
            let hooks = object(try await client.execute(uri: "/api/v1/products/bottle/webhooks", method: .get,
                                                        headers: auth(h.admin)))["items"] as! [[String: Any]]
            #expect(hooks.count == 2 && hooks.filter { $0["removed_ms"] != nil }.count == 1)
            let audit = try await store.auditLog(entity: "webhook")
            #expect(audit.map(\.action).sorted() == ["add", "add", "remove"])
        }
    }
}
