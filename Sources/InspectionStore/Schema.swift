import Foundation

/// The versioned schema, one list of migrations for both engines. A migration is never edited once released: a
/// change is a new entry. `{ID}` becomes the engine's auto-increment primary key; every other type name means the
/// same on both (SQLite gives BIGINT integer and DOUBLE PRECISION real affinity).
/// Times are integer milliseconds since 1970 (UTC), JSON documents are text, blobs are SHA-256 names in `BlobStore`.
enum Schema {
    static let migrations: [[String]] = [
        // 1: products, model versions, inspections, reviews, datasets, jobs, audit log, API keys.
        [
            """
            CREATE TABLE products (
                id {ID}, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL DEFAULT '',
                active_model_id BIGINT, created_ms BIGINT NOT NULL)
            """,
            """
            CREATE TABLE model_versions (
                id {ID}, product_id BIGINT NOT NULL REFERENCES products(id), version BIGINT NOT NULL,
                model_blob TEXT NOT NULL, backbone TEXT NOT NULL, config TEXT NOT NULL, metrics TEXT,
                threshold DOUBLE PRECISION NOT NULL, threshold_provenance TEXT NOT NULL,
                created_ms BIGINT NOT NULL, created_by TEXT NOT NULL,
                activated_ms BIGINT, activated_by TEXT,
                UNIQUE (product_id, version))
            """,
            """
            CREATE TABLE inspections (
                id {ID}, product_id BIGINT NOT NULL REFERENCES products(id),
                model_version_id BIGINT NOT NULL REFERENCES model_versions(id),
                image_blob TEXT NOT NULL, heatmap_blob TEXT, overlay_blob TEXT,
                score DOUBLE PRECISION NOT NULL, normalized_score DOUBLE PRECISION NOT NULL,
                decision TEXT NOT NULL CHECK (decision IN ('ok', 'anomalous')),
                threshold DOUBLE PRECISION NOT NULL, latency_ms DOUBLE PRECISION NOT NULL,
                source TEXT NOT NULL, created_ms BIGINT NOT NULL, review_id BIGINT)
            """,
            "CREATE INDEX inspections_by_product ON inspections (product_id, id)",
            "CREATE INDEX inspections_by_time ON inspections (created_ms)",
            """
            CREATE TABLE reviews (
                id {ID}, inspection_id BIGINT NOT NULL REFERENCES inspections(id),
                verdict TEXT NOT NULL CHECK (verdict IN ('confirm', 'good', 'defect')),
                mask_blob TEXT, reason TEXT NOT NULL DEFAULT '', reviewer TEXT NOT NULL,
                created_ms BIGINT NOT NULL, undone_ms BIGINT, undone_by TEXT, dataset_item_id BIGINT)
            """,
            "CREATE INDEX reviews_by_inspection ON reviews (inspection_id)",
            """
            CREATE TABLE dataset_items (
                id {ID}, product_id BIGINT NOT NULL REFERENCES products(id),
                kind TEXT NOT NULL CHECK (kind IN ('good', 'defect', 'synthetic')),
                image_blob TEXT NOT NULL, mask_blob TEXT, label TEXT NOT NULL DEFAULT '',
                origin TEXT NOT NULL, origin_ref TEXT,
                verdict TEXT NOT NULL DEFAULT 'accepted' CHECK (verdict IN ('pending', 'accepted', 'rejected')),
                created_ms BIGINT NOT NULL, created_by TEXT NOT NULL, removed_ms BIGINT, removed_by TEXT)
            """,
            "CREATE INDEX dataset_items_by_product ON dataset_items (product_id, kind, id)",
            """
            CREATE TABLE jobs (
                id {ID}, kind TEXT NOT NULL, product_id BIGINT REFERENCES products(id), params TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
                stage TEXT NOT NULL DEFAULT '', done BIGINT NOT NULL DEFAULT 0, total BIGINT NOT NULL DEFAULT 0,
                log TEXT NOT NULL DEFAULT '', result TEXT, error TEXT, cancel_requested BIGINT NOT NULL DEFAULT 0,
                attempts BIGINT NOT NULL DEFAULT 0, lease_owner TEXT, lease_expires_ms BIGINT,
                created_ms BIGINT NOT NULL, created_by TEXT NOT NULL, started_ms BIGINT, finished_ms BIGINT)
            """,
            "CREATE INDEX jobs_by_state ON jobs (state, id)",
            """
            CREATE TABLE audit_log (
                id {ID}, at_ms BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
                entity TEXT NOT NULL, entity_id TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '{}')
            """,
            """
            CREATE TABLE api_keys (
                id {ID}, name TEXT NOT NULL UNIQUE,
                role TEXT NOT NULL CHECK (role IN ('operator', 'expert', 'admin')),
                key_hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
                created_ms BIGINT NOT NULL, created_by TEXT NOT NULL, revoked_ms BIGINT)
            """,
        ],
        // 2: webhooks per product and their deliveries (an outbox written with each inspection); training items.
        [
            """
            CREATE TABLE webhooks (
                id {ID}, product_id BIGINT NOT NULL REFERENCES products(id), url TEXT NOT NULL,
                created_ms BIGINT NOT NULL, created_by TEXT NOT NULL, removed_ms BIGINT, removed_by TEXT)
            """,
            "CREATE INDEX webhooks_by_product ON webhooks (product_id)",
            """
            CREATE TABLE webhook_deliveries (
                id {ID}, webhook_id BIGINT NOT NULL REFERENCES webhooks(id),
                inspection_id BIGINT NOT NULL REFERENCES inspections(id),
                state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
                attempts BIGINT NOT NULL DEFAULT 0, next_attempt_ms BIGINT NOT NULL,
                last_status BIGINT, last_error TEXT, lease_owner TEXT, lease_expires_ms BIGINT,
                created_ms BIGINT NOT NULL, finished_ms BIGINT)
            """,
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_ms)",
            "CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id)",
            // The good dataset items a fit job trained a version on (JSON array of ids), so its evaluation can
            // leave them out; null for uploaded model files.
            "ALTER TABLE model_versions ADD COLUMN train_items TEXT",
        ],
        // 3: how a synthetic sample was made (generator, method, seed, prompt, parameters) for the expert's review.
        [
            "ALTER TABLE dataset_items ADD COLUMN details TEXT",
        ],
        // 4: a secret per webhook that signs its deliveries (null for webhooks added before: sent unsigned).
        [
            "ALTER TABLE webhooks ADD COLUMN signing_secret TEXT",
        ],
        // 5: the expert's prompt library per product and defect class (diffusion settings saved for reuse).
        [
            """
            CREATE TABLE prompt_presets (
                id {ID}, product_id BIGINT NOT NULL REFERENCES products(id), defect_class TEXT NOT NULL,
                prompt TEXT NOT NULL, negative_prompt TEXT, steps BIGINT NOT NULL,
                guidance_scale DOUBLE PRECISION NOT NULL, strength DOUBLE PRECISION NOT NULL,
                padding_mask_crop BIGINT, seed BIGINT,
                created_ms BIGINT NOT NULL, created_by TEXT NOT NULL, removed_ms BIGINT, removed_by TEXT)
            """,
            "CREATE INDEX prompt_presets_by_product ON prompt_presets (product_id, defect_class, id)",
        ],
        // 6: a placement region per product, painted once by the expert (a mask blob; null: estimated per job).
        [
            "ALTER TABLE products ADD COLUMN placement_blob TEXT",
        ],
    ]

    static var latestVersion: Int { migrations.count }

    static func sql(_ statement: String, for dialect: SQLDialect) -> String {
        switch dialect {
        case .sqlite: return statement.replacingOccurrences(of: "{ID}", with: "INTEGER PRIMARY KEY")
        case .postgres:
            return statement.replacingOccurrences(of: "{ID}", with: "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        }
    }

    /// Brings the database to the latest version in one transaction per migration. Replicas starting together on
    /// one PostgreSQL serialise on an advisory lock; SQLite's `BEGIN IMMEDIATE` does the same.
    static func migrate(_ db: any SQLDriver) async throws {
        let dialect = db.dialect
        let location = db.location
        try await db.transaction { tx in
            if dialect == .postgres { try await tx.query("SELECT pg_advisory_xact_lock(727383001)") }
            try await tx.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)
                """)
            let current = try await tx.queryOne("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")?.int("v") ?? 0
            if current > latestVersion {
                throw StoreError.schemaTooNew(location: location, found: Int(current), known: latestVersion)
            }
            for version in Int(current)..<latestVersion {
                for statement in migrations[version] {
                    try await tx.query(sql(statement, for: dialect))
                }
                try await tx.query("INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)",
                                   version + 1, Clock.nowMilliseconds())
            }
        }
    }
}

enum Clock {
    static func nowMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}
