import Foundation

extension InspectionStore {
    // MARK: Webhooks

    /// `http` or `https` with a host, at most 2048 characters.
    public static func validateWebhookURL(_ text: String) throws {
        guard text.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty else {
            throw StoreError.invalid(field: "url", problem: "'\(text.prefix(80))' is not an http(s) URL with a host")
        }
    }

    /// Adds a webhook with a new signing secret (256 random bits). Unlike API keys the secret is stored as it is:
    /// every delivery is signed with it, so a hash would not do; it is shown once, by the route that adds it.
    public func addWebhook(productId: Int64, url: String, actor: String) async throws -> Webhook {
        try Self.validateWebhookURL(url)
        var generator = SystemRandomNumberGenerator()
        let secret = "whsec_" + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        return try await db.transaction { tx in
            guard try await tx.queryOne("SELECT id FROM products WHERE id = ?", productId) != nil else {
                throw StoreError.notFound(kind: "product", key: String(productId))
            }
            let row = try await tx.queryOne("""
                INSERT INTO webhooks (product_id, url, created_ms, created_by, signing_secret) VALUES (?, ?, ?, ?, ?)
                RETURNING *
                """, productId, url, Clock.nowMilliseconds(), actor, secret)
            let hook = try Webhook(row: row!)
            try await Self.audit(tx, actor: actor, action: "add", entity: "webhook", id: hook.id,
                                 detail: ["product_id": String(productId), "url": url])
            return hook
        }
    }

    public func webhook(id: Int64) async throws -> Webhook {
        guard let row = try await db.queryOne("SELECT * FROM webhooks WHERE id = ?", id) else {
            throw StoreError.notFound(kind: "webhook", key: String(id))
        }
        return try Webhook(row: row)
    }

    /// The product's webhooks, removed ones included (they keep their delivery history).
    public func webhooks(productId: Int64) async throws -> [Webhook] {
        try await db.query("SELECT * FROM webhooks WHERE product_id = ? ORDER BY id", [.integer(productId)])
            .map(Webhook.init(row:))
    }

    /// Stops new deliveries to the webhook; pending ones are abandoned as failed.
    public func removeWebhook(id: Int64, actor: String) async throws -> Webhook {
        try await db.transaction { tx in
            let now = Clock.nowMilliseconds()
            guard let row = try await tx.queryOne("""
                UPDATE webhooks SET removed_ms = ?, removed_by = ? WHERE id = ? AND removed_ms IS NULL RETURNING *
                """, now, actor, id) else {
                guard try await tx.queryOne("SELECT id FROM webhooks WHERE id = ?", id) != nil else {
                    throw StoreError.notFound(kind: "webhook", key: String(id))
                }
                throw StoreError.conflict("webhook \(id) is already removed")
            }
            try await tx.query("""
                UPDATE webhook_deliveries SET state = 'failed', last_error = 'webhook removed', finished_ms = ?,
                    lease_owner = NULL, lease_expires_ms = NULL
                WHERE webhook_id = ? AND state = 'pending'
                """, now, id)
            try await Self.audit(tx, actor: actor, action: "remove", entity: "webhook", id: id, detail: [:])
            return try Webhook(row: row)
        }
    }

    public func deliveries(webhookId: Int64, state: DeliveryState? = nil, limit: Int = 100) async throws -> [WebhookDelivery] {
        var w = WhereClause()
        w.add("webhook_id = ?", .integer(webhookId))
        if let state { w.add("state = ?", .text(state.rawValue)) }
        return try await db.query("SELECT * FROM webhook_deliveries \(w.sql) ORDER BY id DESC LIMIT \(max(1, min(limit, 1000)))",
                                  w.binds).map(WebhookDelivery.init(row:))
    }

    /// Takes up to `limit` pending deliveries that are due and not held by a live sender, for `owner` until
    /// `leaseMs` from now. Replicas on one PostgreSQL skip each other's locked rows, so each delivery has one
    /// sender at a time; one whose sender died is due again once its lease expires.
    public func claimDeliveries(owner: String, leaseMs: Int64, limit: Int) async throws -> [WebhookDelivery] {
        let now = Clock.nowMilliseconds()
        let lock = db.dialect == .postgres ? "FOR UPDATE SKIP LOCKED" : ""
        return try await db.transaction { tx in
            try await tx.query("""
                UPDATE webhook_deliveries SET lease_owner = ?, lease_expires_ms = ?
                WHERE id IN (SELECT id FROM webhook_deliveries
                             WHERE state = 'pending' AND next_attempt_ms <= ?
                                   AND (lease_expires_ms IS NULL OR lease_expires_ms < ?)
                             ORDER BY id LIMIT \(max(1, min(limit, 1000))) \(lock))
                RETURNING *
                """, [.text(owner), .integer(now + leaseMs), .integer(now), .integer(now)])
                .map(WebhookDelivery.init(row:)).sorted { $0.id < $1.id }
        }
    }

    /// The outcome of one attempt by the delivery's holder: delivered, or retried at `retryAtMs` (nil: given up,
    /// failed). False when `owner` no longer holds it.
    @discardableResult
    public func recordDeliveryAttempt(id: Int64, owner: String, delivered: Bool, status: Int?, error: String?,
                                      retryAtMs: Int64?) async throws -> Bool {
        let now = Clock.nowMilliseconds()
        let state: DeliveryState = delivered ? .delivered : (retryAtMs == nil ? .failed : .pending)
        return try await !db.query("""
            UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, last_status = ?, last_error = ?,
                next_attempt_ms = ?, finished_ms = ?, lease_owner = NULL, lease_expires_ms = NULL
            WHERE id = ? AND lease_owner = ? AND state = 'pending' RETURNING id
            """, [.text(state.rawValue), status.map { .integer(Int64($0)) } ?? .null, error.map { .text(String($0.prefix(500))) } ?? .null,
                  .integer(retryAtMs ?? now), state == .pending ? .null : .integer(now), .integer(id), .text(owner)]).isEmpty
    }
}
