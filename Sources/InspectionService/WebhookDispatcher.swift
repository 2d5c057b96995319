import AsyncHTTPClient
import Crypto
import Foundation
import InspectionStore
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Sends each inspection to its product's webhooks (`POST`, the same JSON the inspect route answers, with
/// `X-PatchCore-Event: inspection` and `X-PatchCore-Delivery: <id>` so a receiver can drop a repeat). Deliveries are
/// rows the store writes with the inspection; this service claims the due ones under a lease, and any 2xx ends
/// one. Anything else (another status, no connection, a timeout) is retried after 1, 2, 4, ... times
/// `webhookRetrySeconds` (at most 5 minutes apart) until `webhookMaxAttempts`, then the delivery is failed. A
/// replica that dies mid-send loses its lease and the delivery is sent again by whoever claims it next, so a
/// receiver sees each inspection at least once.
///
/// Each delivery of a signed webhook carries `X-PatchCore-Signature: t=<unix seconds>,v1=<hex>`, the HMAC-SHA256
/// of `"<t>." + body` under the webhook's secret, so a receiver can check the sender and refuse old replays (the
/// scheme Stripe and GitHub use: timestamp inside the MAC, hex digest, a version tag for later schemes).
struct WebhookDispatcher: Service {
    let store: InspectionStore
    let owner: String
    let pollSeconds: Double
    let retrySeconds: Double
    let maxAttempts: Int
    let timeoutSeconds: Double
    let metrics: ServiceMetrics
    let logger: Logger

    static let batch = 16

    func run() async throws {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow   // a receiver that moved is a failed delivery, not a hop
        configuration.timeout = .init(connect: .seconds(5), read: .milliseconds(Int64(timeoutSeconds * 1000)))
        try await HTTPClient.withHTTPClient(configuration: configuration) { client in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                var claimed = 0
                do {
                    let due = try await store.claimDeliveries(owner: owner, leaseMs: Int64((timeoutSeconds + 10) * 1000),
                                                              limit: Self.batch)
                    claimed = due.count
                    await withTaskGroup(of: Void.self) { group in
                        for delivery in due { group.addTask { await send(delivery, client: client) } }
                    }
                } catch {
                    logger.warning("webhook claim failed: \(error)")
                }
                if claimed == Self.batch { continue }   // more may be due
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int(pollSeconds * 1000))) }
                } catch {
                    return
                }
            }
        }
    }

    /// `t=<at>,v1=<hex HMAC-SHA256 of "<at>." + body>`.
    static func signature(body: Data, secret: String, at: Int64) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(at).".utf8) + body, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(at),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// The delay before attempt `attempt + 1`, after `attempt` failures.
    static func backoff(afterAttempt attempt: Int64, base: Double) -> Double {
        min(base * pow(2, Double(max(0, attempt - 1))), 300)
    }

    func send(_ delivery: WebhookDelivery, client: HTTPClient) async {
        var status: Int? = nil
        var failure: String? = nil
        do {
            let hook = try await store.webhook(id: delivery.webhookId)
            let inspection = try await store.inspection(id: delivery.inspectionId)
            let product = try await store.product(id: inspection.productId)
            let version = try await store.modelVersion(id: inspection.modelVersionId)
            let body = try JSONEncoder.snakeCase.encode(Inspector.result(inspection, product: product, version: version))
            var request = HTTPClientRequest(url: hook.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "patchcore-serve")
            request.headers.add(name: "X-PatchCore-Event", value: "inspection")
            request.headers.add(name: "X-PatchCore-Delivery", value: String(delivery.id))
            if let secret = hook.signingSecret {
                request.headers.add(name: "X-PatchCore-Signature",
                                    value: Self.signature(body: body, secret: secret, at: Int64(Date().timeIntervalSince1970)))
            }
            request.body = .bytes(ByteBuffer(data: body))
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeoutSeconds * 1000)))
            status = Int(response.status.code)
            _ = try? await response.body.collect(upTo: 64 << 10)   // read and drop: the connection can be reused
            if !(200..<300).contains(response.status.code) { failure = "the receiver answered \(response.status)" }
        } catch {
            failure = "\(error)"
        }
        let attempt = delivery.attempts + 1
        let delivered = failure == nil
        let retryAt: Int64? = delivered || attempt >= Int64(maxAttempts) ? nil
            : Int64((Date().timeIntervalSince1970 + Self.backoff(afterAttempt: attempt, base: retrySeconds)) * 1000)
        metrics.webhookAttempt(outcome: delivered ? "delivered" : (retryAt == nil ? "failed" : "retry"))
        if !delivered {
            logger.info("webhook \(delivery.webhookId) delivery \(delivery.id) attempt \(attempt): \(failure ?? "")")
        }
        do {
            try await store.recordDeliveryAttempt(id: delivery.id, owner: owner, delivered: delivered, status: status,
                                                  error: failure, retryAtMs: retryAt)
        } catch {
            logger.warning("webhook delivery \(delivery.id): recording the attempt failed: \(error)")
        }
    }
}
