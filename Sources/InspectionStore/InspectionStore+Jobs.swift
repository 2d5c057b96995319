import Crypto
import Foundation

extension InspectionStore {
    // MARK: Jobs

    public func enqueueJob(kind: String, productId: Int64?, params: String, actor: String) async throws -> Job {
        try await db.transaction { tx in
            let row = try await tx.queryOne("""
                INSERT INTO jobs (kind, product_id, params, state, created_ms, created_by)
                VALUES (?, ?, ?, 'queued', ?, ?) RETURNING *
                """, kind, productId, params, Clock.nowMilliseconds(), actor)
            let job = try Job(row: row!)
            try await Self.audit(tx, actor: actor, action: "enqueue", entity: "job", id: job.id,
                                 detail: ["kind": kind, "product_id": productId.map(String.init) ?? "none"])
            return job
        }
    }

    /// Takes the oldest queued job, or a running one whose worker's lease expired (its replica died), for `owner`
    /// until `leaseMs` from now. On PostgreSQL the candidate row is locked with `FOR UPDATE SKIP LOCKED`, so
    /// replicas claiming at once each get a different job; SQLite has one writer, so its claims are serial.
    public func claimJob(owner: String, leaseMs: Int64, kinds: [String]? = nil) async throws -> Job? {
        let now = Clock.nowMilliseconds()
        var candidates = WhereClause()
        candidates.add("(state = 'queued' OR (state = 'running' AND lease_expires_ms < ?))", .integer(now))
        candidates.add("cancel_requested = 0")
        if let kinds, !kinds.isEmpty {
            candidates.add("kind IN (\(kinds.map { _ in "?" }.joined(separator: ", ")))")
        }
        let kindBinds = (kinds ?? []).map { SQLValue.text($0) }
        let lock = db.dialect == .postgres ? "FOR UPDATE SKIP LOCKED" : ""
        let sql = """
            UPDATE jobs SET state = 'running', lease_owner = ?, lease_expires_ms = ?, attempts = attempts + 1,
                started_ms = COALESCE(started_ms, ?)
            WHERE id = (SELECT id FROM jobs \(candidates.sql) ORDER BY id LIMIT 1 \(lock))
            RETURNING *
            """
        let binds: [SQLValue] = [.text(owner), .integer(now + leaseMs), .integer(now)] + candidates.binds + kindBinds
        return try await db.transaction { tx in try await tx.query(sql, binds).first.map(Job.init(row:)) }
    }

    /// Extends the lease; false when `owner` no longer holds the job (it expired and another worker took it, or
    /// the job ended), in which case the worker must stop working on it.
    public func renewLease(jobId: Int64, owner: String, leaseMs: Int64) async throws -> Bool {
        try await !db.query("""
            UPDATE jobs SET lease_expires_ms = ? WHERE id = ? AND lease_owner = ? AND state = 'running' RETURNING id
            """, Clock.nowMilliseconds() + leaseMs, jobId, owner).isEmpty
    }

    /// Progress of a job `owner` holds; a log line is appended when given. False when the lease is lost.
    @discardableResult
    public func updateJob(jobId: Int64, owner: String, stage: String, done: Int64, total: Int64,
                          logLine: String? = nil) async throws -> Bool {
        let line = logLine.map { $0 + "\n" } ?? ""
        return try await !db.query("""
            UPDATE jobs SET stage = ?, done = ?, total = ?, log = log || ? WHERE id = ? AND lease_owner = ? AND state = 'running'
            RETURNING id
            """, stage, done, total, line, jobId, owner).isEmpty
    }

    /// Ends a job `owner` holds: succeeded with a result, failed with an error, or cancelled.
    @discardableResult
    public func finishJob(jobId: Int64, owner: String, state: JobState, result: String? = nil,
                          error: String? = nil) async throws -> Job? {
        precondition(state != .queued && state != .running, "finishJob takes an end state")
        return try await db.transaction { tx in
            let row = try await tx.queryOne("""
                UPDATE jobs SET state = ?, result = ?, error = ?, finished_ms = ?, lease_owner = NULL,
                    lease_expires_ms = NULL
                WHERE id = ? AND lease_owner = ? AND state = 'running' RETURNING *
                """, state.rawValue, result, error, Clock.nowMilliseconds(), jobId, owner)
            guard let row else { return nil }
            let job = try Job(row: row)
            try await Self.audit(tx, actor: owner, action: "finish_\(state.rawValue)", entity: "job", id: jobId,
                                 detail: ["kind": job.kind, "attempts": String(job.attempts)])
            return job
        }
    }

    /// Asks a job to stop: a queued one is cancelled now, a running one when its worker next looks.
    public func requestCancel(jobId: Int64, actor: String) async throws -> Job {
        try await db.transaction { tx in
            guard let row = try await tx.queryOne("SELECT * FROM jobs WHERE id = ?", jobId) else {
                throw StoreError.notFound(kind: "job", key: String(jobId))
            }
            var job = try Job(row: row)
            switch job.state {
            case .succeeded, .failed, .cancelled:
                throw StoreError.conflict("job \(jobId) has already ended (\(job.state.rawValue))")
            case .queued:
                job = try Job(row: try await tx.queryOne("""
                    UPDATE jobs SET state = 'cancelled', cancel_requested = 1, finished_ms = ? WHERE id = ? RETURNING *
                    """, Clock.nowMilliseconds(), jobId)!)
            case .running:
                job = try Job(row: try await tx.queryOne(
                    "UPDATE jobs SET cancel_requested = 1 WHERE id = ? RETURNING *", jobId)!)
            }
            try await Self.audit(tx, actor: actor, action: "cancel", entity: "job", id: jobId,
                                 detail: ["state": job.state.rawValue])
            return job
        }
    }

    public func job(id: Int64) async throws -> Job {
        guard let row = try await db.queryOne("SELECT * FROM jobs WHERE id = ?", id) else {
            throw StoreError.notFound(kind: "job", key: String(id))
        }
        return try Job(row: row)
    }

    public func jobs(state: JobState? = nil, productId: Int64? = nil, limit: Int = 100) async throws -> [Job] {
        var w = WhereClause()
        if let state { w.add("state = ?", .text(state.rawValue)) }
        if let productId { w.add("product_id = ?", .integer(productId)) }
        return try await db.query("SELECT * FROM jobs \(w.sql) ORDER BY id DESC LIMIT \(max(1, min(limit, 1000)))",
                                  w.binds).map(Job.init(row:))
    }

    // MARK: API keys

    /// Makes a key and returns it once; only its SHA-256 is stored. Keys are 256 random bits, so a plain SHA-256
    /// (not a slow password hash) is what makes a stolen database useless for signing in.
    public func createKey(name: String, role: Role, actor: String) async throws -> (key: String, record: APIKey) {
        try Self.validateName(name, field: "name")
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let key = "pc_" + bytes.map { String(format: "%02x", $0) }.joined()
        let hash = Self.keyHash(key)
        let record: APIKey = try await db.transaction { tx in
            if try await tx.queryOne("SELECT id FROM api_keys WHERE name = ?", name) != nil {
                throw StoreError.conflict("a key named '\(name)' exists")
            }
            let row = try await tx.queryOne("""
                INSERT INTO api_keys (name, role, key_hash, prefix, created_ms, created_by)
                VALUES (?, ?, ?, ?, ?, ?) RETURNING *
                """, name, role.rawValue, hash, String(key.prefix(8)), Clock.nowMilliseconds(), actor)
            let record = try APIKey(row: row!)
            try await Self.audit(tx, actor: actor, action: "create", entity: "api_key", id: record.id,
                                 detail: ["name": name, "role": role.rawValue])
            return record
        }
        return (key, record)
    }

    /// The live key with this secret, or nil.
    public func authenticate(key: String) async throws -> APIKey? {
        guard key.count <= 200 else { return nil }
        return try await db.queryOne("SELECT * FROM api_keys WHERE key_hash = ? AND revoked_ms IS NULL",
                                     Self.keyHash(key)).map(APIKey.init(row:))
    }

    public func keys() async throws -> [APIKey] {
        try await db.query("SELECT * FROM api_keys ORDER BY id", []).map(APIKey.init(row:))
    }

    public func revokeKey(name: String, actor: String) async throws -> APIKey {
        try await db.transaction { tx in
            guard let row = try await tx.queryOne(
                "UPDATE api_keys SET revoked_ms = ? WHERE name = ? AND revoked_ms IS NULL RETURNING *",
                Clock.nowMilliseconds(), name) else {
                throw StoreError.notFound(kind: "live key", key: name)
            }
            let record = try APIKey(row: row)
            try await Self.audit(tx, actor: actor, action: "revoke", entity: "api_key", id: record.id,
                                 detail: ["name": name])
            return record
        }
    }

    static func keyHash(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
