import Crypto
import Foundation
import Logging

/// The service's records, on SQLite (one file, the default) or PostgreSQL (several replicas). Every operation is
/// written once in SQL both engines run (`SQLDriver`); each change that decides parts (active model, threshold,
/// datasets, reviews, keys) writes its audit entry in the same transaction.
public final class InspectionStore: Sendable {
    public let db: any SQLDriver

    /// Migrates the database to the latest schema.
    public init(driver: any SQLDriver) async throws {
        db = driver
        try await Schema.migrate(driver)
    }

    /// `databaseURL` nil: `DIR/patchcore.sqlite`; else a `postgres://` URL.
    public static func open(databaseURL: String?, dataDirectory: URL,
                            logger: Logger = Logger(label: "patchcore.store")) async throws -> InspectionStore {
        let driver: any SQLDriver
        if let url = databaseURL {
            driver = try await PostgresDriver.connect(url: url, logger: logger)
        } else {
            driver = try await SQLiteDriver.open(path: dataDirectory.appendingPathComponent("patchcore.sqlite").path,
                                                 logger: logger)
        }
        do {
            return try await InspectionStore(driver: driver)
        } catch {
            await driver.close()
            throw error
        }
    }

    public var schemaVersion: Int { Schema.latestVersion }

    /// Throws `StoreError.unavailable` when the database does not answer (`/readyz`).
    public func ping() async throws { _ = try await db.query("SELECT 1 AS one", []) }

    public func close() async { await db.close() }

    // MARK: Products

    /// Product names appear in URLs and folder names: 1-64 of letters, digits, `-`, `_`, `.`, not starting with `.`.
    public static func validateName(_ name: String, field: String) throws {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard (1...64).contains(name.count), !name.hasPrefix("."),
              name.unicodeScalars.allSatisfy(allowed.contains) else {
            throw StoreError.invalid(field: field, problem: "'\(name)' must be 1-64 letters, digits, '-', '_' or '.', not starting with '.'")
        }
    }

    public func createProduct(name: String, description: String = "", actor: String) async throws -> Product {
        try Self.validateName(name, field: "name")
        return try await db.transaction { tx in
            if try await tx.queryOne("SELECT id FROM products WHERE name = ?", name) != nil {
                throw StoreError.conflict("a product named '\(name)' exists")
            }
            let row = try await tx.queryOne(
                "INSERT INTO products (name, description, created_ms) VALUES (?, ?, ?) RETURNING *",
                name, description, Clock.nowMilliseconds())
            let product = try Product(row: row!)
            try await Self.audit(tx, actor: actor, action: "create", entity: "product", id: product.id,
                                 detail: ["name": name])
            return product
        }
    }

    public func product(named name: String) async throws -> Product {
        guard let row = try await db.queryOne("SELECT * FROM products WHERE name = ?", name) else {
            throw StoreError.notFound(kind: "product", key: name)
        }
        return try Product(row: row)
    }

    public func product(id: Int64) async throws -> Product {
        guard let row = try await db.queryOne("SELECT * FROM products WHERE id = ?", id) else {
            throw StoreError.notFound(kind: "product", key: String(id))
        }
        return try Product(row: row)
    }

    /// Sets (a stored mask blob) or clears (nil) the product's painted placement region; audited.
    public func setPlacement(productId: Int64, maskBlob: String?, actor: String) async throws -> Product {
        try await db.transaction { tx in
            guard let row = try await tx.queryOne("UPDATE products SET placement_blob = ? WHERE id = ? RETURNING *",
                                                  maskBlob, productId) else {
                throw StoreError.notFound(kind: "product", key: String(productId))
            }
            try await Self.audit(tx, actor: actor, action: maskBlob == nil ? "clear_placement" : "set_placement",
                                 entity: "product", id: productId, detail: maskBlob.map { ["mask_blob": $0] } ?? [:])
            return try Product(row: row)
        }
    }

    public func products() async throws -> [Product] {
        try await db.query("SELECT * FROM products ORDER BY name", []).map(Product.init(row:))
    }

    // MARK: Model versions

    /// Numbers the new version one above the product's last.
    public func addModelVersion(productId: Int64, _ new: NewModelVersion, actor: String) async throws -> ModelVersion {
        try await db.transaction { tx in
            guard try await tx.queryOne("SELECT id FROM products WHERE id = ?", productId) != nil else {
                throw StoreError.notFound(kind: "product", key: String(productId))
            }
            let next = try await tx.queryOne(
                "SELECT COALESCE(MAX(version), 0) + 1 AS v FROM model_versions WHERE product_id = ?", productId)!.int("v")
            let row = try await tx.queryOne("""
                INSERT INTO model_versions (product_id, version, model_blob, backbone, config, metrics, threshold,
                    threshold_provenance, created_ms, created_by, train_items)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *
                """, productId, next, new.modelBlob, new.backbone, new.config, new.metrics, new.threshold,
                new.thresholdProvenance, Clock.nowMilliseconds(), actor,
                try new.trainItems.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) })
            let version = try ModelVersion(row: row!)
            try await Self.audit(tx, actor: actor, action: "add", entity: "model_version", id: version.id,
                                 detail: ["product_id": String(productId), "version": String(next),
                                          "model_blob": new.modelBlob])
            return version
        }
    }

    public func modelVersion(id: Int64) async throws -> ModelVersion {
        guard let row = try await db.queryOne("SELECT * FROM model_versions WHERE id = ?", id) else {
            throw StoreError.notFound(kind: "model version", key: String(id))
        }
        return try ModelVersion(row: row)
    }

    public func modelVersions(productId: Int64) async throws -> [ModelVersion] {
        try await db.query("SELECT * FROM model_versions WHERE product_id = ? ORDER BY version", [.integer(productId)])
            .map(ModelVersion.init(row:))
    }

    public func activeModelVersion(productId: Int64) async throws -> ModelVersion? {
        try await db.queryOne("""
            SELECT m.* FROM model_versions m JOIN products p ON p.active_model_id = m.id WHERE p.id = ?
            """, productId).map(ModelVersion.init(row:))
    }

    /// Makes a version the one that inspects its product (activation and rollback alike), audited with the one it
    /// replaces.
    public func activate(modelVersionId: Int64, actor: String) async throws -> ModelVersion {
        try await db.transaction { tx in
            guard let row = try await tx.queryOne("SELECT * FROM model_versions WHERE id = ?", modelVersionId) else {
                throw StoreError.notFound(kind: "model version", key: String(modelVersionId))
            }
            let version = try ModelVersion(row: row)
            let previous = try await tx.queryOne("SELECT active_model_id FROM products WHERE id = ?",
                                                 version.productId)?.optionalInt("active_model_id")
            let now = Clock.nowMilliseconds()
            try await tx.query("UPDATE products SET active_model_id = ? WHERE id = ?", modelVersionId, version.productId)
            let updated = try await tx.queryOne(
                "UPDATE model_versions SET activated_ms = ?, activated_by = ? WHERE id = ? RETURNING *",
                now, actor, modelVersionId)
            try await Self.audit(tx, actor: actor, action: "activate", entity: "product", id: version.productId,
                                 detail: ["model_version_id": String(modelVersionId), "version": String(version.version),
                                          "previous_model_version_id": previous.map(String.init) ?? "none"])
            return try ModelVersion(row: updated!)
        }
    }

    /// Changes a version's threshold (by value, or one computed for a target false-reject rate by the caller),
    /// audited with the old and new values.
    public func setThreshold(modelVersionId: Int64, threshold: Double, provenance: String,
                             actor: String) async throws -> ModelVersion {
        guard threshold.isFinite else { throw StoreError.invalid(field: "threshold", problem: "must be a finite number") }
        return try await db.transaction { tx in
            guard let row = try await tx.queryOne("SELECT * FROM model_versions WHERE id = ?", modelVersionId) else {
                throw StoreError.notFound(kind: "model version", key: String(modelVersionId))
            }
            let old = try ModelVersion(row: row)
            let updated = try await tx.queryOne(
                "UPDATE model_versions SET threshold = ?, threshold_provenance = ? WHERE id = ? RETURNING *",
                threshold, provenance, modelVersionId)
            try await Self.audit(tx, actor: actor, action: "set_threshold", entity: "model_version", id: modelVersionId,
                                 detail: ["from": String(old.threshold), "to": String(threshold),
                                          "provenance": provenance])
            return try ModelVersion(row: updated!)
        }
    }

    /// Stores a version's evaluation metrics (JSON), audited.
    public func setMetrics(modelVersionId: Int64, metrics: String, actor: String) async throws -> ModelVersion {
        try await db.transaction { tx in
            guard let row = try await tx.queryOne("UPDATE model_versions SET metrics = ? WHERE id = ? RETURNING *",
                                                  metrics, modelVersionId) else {
                throw StoreError.notFound(kind: "model version", key: String(modelVersionId))
            }
            try await Self.audit(tx, actor: actor, action: "set_metrics", entity: "model_version", id: modelVersionId,
                                 detail: [:])
            return try ModelVersion(row: row)
        }
    }

    // MARK: Audit

    public func auditLog(entity: String? = nil, entityId: String? = nil, limit: Int = 100) async throws -> [AuditEntry] {
        var query = WhereClause()
        if let entity { query.add("entity = ?", .text(entity)) }
        if let entityId { query.add("entity_id = ?", .text(entityId)) }
        return try await db.query("SELECT * FROM audit_log \(query.sql) ORDER BY id DESC LIMIT \(max(1, min(limit, 1000)))",
                                  query.binds)
            .map(AuditEntry.init(row:))
    }

    static func audit(_ tx: any SQLExecutor, actor: String, action: String, entity: String, id: Int64,
                      detail: [String: String]) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(detail), as: UTF8.self)
        try await tx.query("""
            INSERT INTO audit_log (at_ms, actor, action, entity, entity_id, detail) VALUES (?, ?, ?, ?, ?, ?)
            """, Clock.nowMilliseconds(), actor, action, entity, String(id), json)
    }
}
