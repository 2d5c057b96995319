import Foundation

extension InspectionStore {
    /// Commits one inspection, with a pending delivery for each of its product's webhooks in the same transaction
    /// (so a committed inspection is never missing from a webhook, however the process ends); the caller answers
    /// the client only after this returns.
    public func recordInspection(_ new: NewInspection) async throws -> Inspection {
        guard new.score.isFinite, new.normalizedScore.isFinite, new.threshold.isFinite, new.latencyMs.isFinite else {
            throw StoreError.invalid(field: "score", problem: "an inspection's numbers must be finite")
        }
        return try await db.transaction { tx in
            let now = Clock.nowMilliseconds()
            let row = try await tx.queryOne("""
                INSERT INTO inspections (product_id, model_version_id, image_blob, heatmap_blob, overlay_blob, score,
                    normalized_score, decision, threshold, latency_ms, source, created_ms)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *
                """, new.productId, new.modelVersionId, new.imageBlob, new.heatmapBlob, new.overlayBlob, new.score,
                new.normalizedScore, new.decision.rawValue, new.threshold, new.latencyMs, new.source, now)
            let inspection = try Inspection(row: row!)
            try await tx.query("""
                INSERT INTO webhook_deliveries (webhook_id, inspection_id, state, next_attempt_ms, created_ms)
                SELECT id, ?, 'pending', ?, ? FROM webhooks WHERE product_id = ? AND removed_ms IS NULL
                """, inspection.id, now, now, new.productId)
            return inspection
        }
    }

    public func inspection(id: Int64) async throws -> Inspection {
        guard let row = try await db.queryOne("SELECT * FROM inspections WHERE id = ?", id) else {
            throw StoreError.notFound(kind: "inspection", key: String(id))
        }
        return try Inspection(row: row)
    }

    /// Newest first; `filter.before` continues from a previous page's `nextCursor`.
    public func inspections(_ filter: InspectionFilter) async throws -> Page<Inspection> {
        let limit = max(1, min(filter.limit, 500))
        var w = WhereClause()
        if let v = filter.productId { w.add("product_id = ?", .integer(v)) }
        if let v = filter.fromMs { w.add("created_ms >= ?", .integer(v)) }
        if let v = filter.toMs { w.add("created_ms < ?", .integer(v)) }
        if let v = filter.decision { w.add("decision = ?", .text(v.rawValue)) }
        if let v = filter.minScore { w.add("score >= ?", .double(v)) }
        if let v = filter.maxScore { w.add("score <= ?", .double(v)) }
        if let v = filter.reviewed { w.add(v ? "review_id IS NOT NULL" : "review_id IS NULL") }
        if let v = filter.before { w.add("id < ?", .integer(v)) }
        // One row more than asked tells whether another page exists.
        let rows = try await db.query("SELECT * FROM inspections \(w.sql) ORDER BY id DESC LIMIT \(limit + 1)", w.binds)
        let items = try rows.prefix(limit).map(Inspection.init(row:))
        return Page(items: items, nextCursor: rows.count > limit ? items.last?.id : nil)
    }

    /// A product's inspections with an id above `afterId`, oldest first, plus any with a lower id committed
    /// within `recentMs` that is not in `seen`: concurrent PostgreSQL transactions can commit a lower id after a
    /// higher one has been read. For live views that follow a product.
    public func inspections(productId: Int64, after afterId: Int64, recentMs: Int64 = 10_000,
                            seen: Set<Int64> = [], limit: Int = 200) async throws -> [Inspection] {
        let since = Clock.nowMilliseconds() - recentMs
        let late = try await db.query("""
            SELECT id FROM inspections WHERE product_id = ? AND id <= ? AND created_ms >= ?
            """, [.integer(productId), .integer(afterId), .integer(since)])
            .map { try $0.int("id") }.filter { !seen.contains($0) }.prefix(100)
        var found: [Inspection] = []
        if !late.isEmpty {
            found = try await db.query("SELECT * FROM inspections WHERE id IN (\(late.map { _ in "?" }.joined(separator: ", ")))",
                                       late.map { .integer($0) }).map(Inspection.init(row:))
        }
        found += try await db.query("""
            SELECT * FROM inspections WHERE product_id = ? AND id > ? ORDER BY id LIMIT \(max(1, min(limit, 1000)))
            """, [.integer(productId), .integer(afterId)]).map(Inspection.init(row:))
        return found.sorted { $0.id < $1.id }
    }

    /// The id of the product's newest inspection, 0 when none.
    public func latestInspectionId(productId: Int64) async throws -> Int64 {
        try await db.queryOne("SELECT COALESCE(MAX(id), 0) AS n FROM inspections WHERE product_id = ?", productId)?.int("n") ?? 0
    }

    public func inspectionCount(productId: Int64? = nil) async throws -> Int {
        var w = WhereClause()
        if let productId { w.add("product_id = ?", .integer(productId)) }
        return Int(try await db.query("SELECT COUNT(*) AS n FROM inspections \(w.sql)", w.binds).first?.int("n") ?? 0)
    }

    /// A product's inspections and NG decisions at or after `fromMs`, and the newest id among them (0 if none), so
    /// a page that adds streamed inspections to these counts adds only those with a larger id.
    public func inspectionCounts(productId: Int64, fromMs: Int64) async throws -> (parts: Int, ng: Int, lastId: Int64) {
        let row = try await db.queryOne("""
            SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN decision = 'anomalous' THEN 1 ELSE 0 END), 0) AS ng,
                   COALESCE(MAX(id), 0) AS last_id
            FROM inspections WHERE product_id = ? AND created_ms >= ?
            """, productId, fromMs)
        return (Int(try row?.int("n") ?? 0), Int(try row?.int("ng") ?? 0), try row?.int("last_id") ?? 0)
    }

    // MARK: Reviews

    /// Records a verdict. It replaces the inspection's earlier review (undoing what that one added), and adds
    /// the image to the product's data: a false reject (an anomalous part found good) to the good set, a defect
    /// (confirmed or found by override) to the defect set with the mask when given. All in one transaction, audited.
    public func review(inspectionId: Int64, verdict: Verdict, maskBlob: String? = nil, reason: String = "",
                       reviewer: String) async throws -> Review {
        if maskBlob != nil, verdict == .good {
            throw StoreError.invalid(field: "mask", problem: "a mask goes with a defect verdict, not 'good'")
        }
        return try await db.transaction { tx in
            guard let row = try await tx.queryOne("SELECT * FROM inspections WHERE id = ?", inspectionId) else {
                throw StoreError.notFound(kind: "inspection", key: String(inspectionId))
            }
            let inspection = try Inspection(row: row)
            if maskBlob != nil, verdict == .confirm, inspection.decision == .ok {
                throw StoreError.invalid(field: "mask", problem: "confirming an ok part takes no mask")
            }
            let now = Clock.nowMilliseconds()
            if let previous = inspection.reviewId {
                try await Self.undo(tx, reviewId: previous, actor: reviewer, now: now)
            }
            let isDefect = verdict == .defect || (verdict == .confirm && inspection.decision == .anomalous)
            let isFalseReject = !isDefect && inspection.decision == .anomalous
            var itemId: Int64? = nil
            if isDefect || isFalseReject {
                let item = try await Self.insertItem(tx, productId: inspection.productId, NewDatasetItem(
                    kind: isDefect ? .defect : .good, imageBlob: inspection.imageBlob, maskBlob: maskBlob,
                    origin: "review", originRef: "inspection:\(inspectionId)"), actor: reviewer, now: now)
                itemId = item.id
            }
            let reviewRow = try await tx.queryOne("""
                INSERT INTO reviews (inspection_id, verdict, mask_blob, reason, reviewer, created_ms, dataset_item_id)
                VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *
                """, inspectionId, verdict.rawValue, maskBlob, reason, reviewer, now, itemId)
            let review = try Review(row: reviewRow!)
            try await tx.query("UPDATE inspections SET review_id = ? WHERE id = ?", review.id, inspectionId)
            try await Self.audit(tx, actor: reviewer, action: "review", entity: "inspection", id: inspectionId,
                                 detail: ["review_id": String(review.id), "verdict": verdict.rawValue,
                                          "decision": inspection.decision.rawValue,
                                          "dataset_item_id": itemId.map(String.init) ?? "none"])
            return review
        }
    }

    /// Undoes a review: the inspection counts as unreviewed and the dataset item it added is removed.
    public func undoReview(reviewId: Int64, actor: String) async throws -> Review {
        try await db.transaction { tx in
            let review = try await Self.undo(tx, reviewId: reviewId, actor: actor, now: Clock.nowMilliseconds())
            try await tx.query("UPDATE inspections SET review_id = NULL WHERE id = ? AND review_id = ?",
                               review.inspectionId, reviewId)
            return review
        }
    }

    /// Scores of a version's reviewed inspections, newest first, split by what the review found: a good part
    /// (confirmed OK or overridden to good) or a defective one (confirmed NG or overridden to defect).
    public func reviewedScores(modelVersionId: Int64, limit: Int = 10_000) async throws -> (good: [Double], defect: [Double]) {
        let rows = try await db.query("""
            SELECT i.score, i.decision, r.verdict FROM inspections i JOIN reviews r ON r.id = i.review_id
            WHERE i.model_version_id = ? ORDER BY i.id DESC LIMIT ?
            """, [.integer(modelVersionId), .integer(Int64(limit))])
        var good: [Double] = [], defect: [Double] = []
        for row in rows {
            let score = try row.double("score"), verdict = try row.text("verdict"), decision = try row.text("decision")
            if verdict == "defect" || (verdict == "confirm" && decision == "anomalous") { defect.append(score) } else { good.append(score) }
        }
        return (good, defect)
    }

    public func reviews(inspectionId: Int64) async throws -> [Review] {
        try await db.query("SELECT * FROM reviews WHERE inspection_id = ? ORDER BY id", [.integer(inspectionId)])
            .map(Review.init(row:))
    }

    @discardableResult
    static func undo(_ tx: any SQLExecutor, reviewId: Int64, actor: String, now: Int64) async throws -> Review {
        guard let row = try await tx.queryOne("SELECT * FROM reviews WHERE id = ?", reviewId) else {
            throw StoreError.notFound(kind: "review", key: String(reviewId))
        }
        let review = try Review(row: row)
        if review.undoneMs != nil { throw StoreError.conflict("review \(reviewId) is already undone") }
        let updated = try await tx.queryOne(
            "UPDATE reviews SET undone_ms = ?, undone_by = ? WHERE id = ? RETURNING *", now, actor, reviewId)
        if let item = review.datasetItemId {
            try await tx.query("UPDATE dataset_items SET removed_ms = ?, removed_by = ? WHERE id = ? AND removed_ms IS NULL",
                               now, actor, item)
        }
        try await audit(tx, actor: actor, action: "undo_review", entity: "inspection", id: review.inspectionId,
                        detail: ["review_id": String(reviewId), "dataset_item_id": review.datasetItemId.map(String.init) ?? "none"])
        return try Review(row: updated!)
    }

    // MARK: Datasets

    public func addDatasetItem(productId: Int64, _ new: NewDatasetItem, actor: String) async throws -> DatasetItem {
        try await db.transaction { tx in
            guard try await tx.queryOne("SELECT id FROM products WHERE id = ?", productId) != nil else {
                throw StoreError.notFound(kind: "product", key: String(productId))
            }
            return try await Self.insertItem(tx, productId: productId, new, actor: actor, now: Clock.nowMilliseconds())
        }
    }

    /// Adds several items in one transaction: all of them or, on any error, none.
    public func addDatasetItems(productId: Int64, _ new: [NewDatasetItem], actor: String) async throws -> [DatasetItem] {
        try await db.transaction { tx in
            guard try await tx.queryOne("SELECT id FROM products WHERE id = ?", productId) != nil else {
                throw StoreError.notFound(kind: "product", key: String(productId))
            }
            let now = Clock.nowMilliseconds()
            var items: [DatasetItem] = []
            for item in new { items.append(try await Self.insertItem(tx, productId: productId, item, actor: actor, now: now)) }
            return items
        }
    }

    static func insertItem(_ tx: any SQLExecutor, productId: Int64, _ new: NewDatasetItem, actor: String,
                           now: Int64) async throws -> DatasetItem {
        let row = try await tx.queryOne("""
            INSERT INTO dataset_items (product_id, kind, image_blob, mask_blob, label, origin, origin_ref, verdict,
                details, created_ms, created_by)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *
            """, productId, new.kind.rawValue, new.imageBlob, new.maskBlob, new.label, new.origin, new.originRef,
            new.verdict.rawValue, new.details, now, actor)
        let item = try DatasetItem(row: row!)
        try await audit(tx, actor: actor, action: "add", entity: "dataset_item", id: item.id,
                        detail: ["product_id": String(productId), "kind": new.kind.rawValue, "origin": new.origin])
        return item
    }

    public func datasetItem(id: Int64) async throws -> DatasetItem {
        guard let row = try await db.queryOne("SELECT * FROM dataset_items WHERE id = ?", id) else {
            throw StoreError.notFound(kind: "dataset item", key: String(id))
        }
        return try DatasetItem(row: row)
    }

    public func datasetItems(productId: Int64, kind: DatasetKind? = nil, includeRemoved: Bool = false,
                             verdict: SampleVerdict? = nil) async throws -> [DatasetItem] {
        var w = WhereClause()
        w.add("product_id = ?", .integer(productId))
        if let kind { w.add("kind = ?", .text(kind.rawValue)) }
        if let verdict { w.add("verdict = ?", .text(verdict.rawValue)) }
        if !includeRemoved { w.add("removed_ms IS NULL") }
        return try await db.query("SELECT * FROM dataset_items \(w.sql) ORDER BY id", w.binds).map(DatasetItem.init(row:))
    }

    /// Removes an item from its set (kept in the database, so `restoreDatasetItem` undoes it).
    public func removeDatasetItem(id: Int64, actor: String) async throws -> DatasetItem {
        try await changeItem(id: id, actor: actor, action: "remove",
                             sql: "UPDATE dataset_items SET removed_ms = ?, removed_by = ? WHERE id = ? RETURNING *",
                             binds: [.integer(Clock.nowMilliseconds()), .text(actor)])
    }

    public func restoreDatasetItem(id: Int64, actor: String) async throws -> DatasetItem {
        try await changeItem(id: id, actor: actor, action: "restore",
                             sql: "UPDATE dataset_items SET removed_ms = NULL, removed_by = NULL WHERE id = ? RETURNING *",
                             binds: [])
    }

    /// The expert's accept / reject of a synthetic sample.
    public func setSampleVerdict(id: Int64, verdict: SampleVerdict, actor: String) async throws -> DatasetItem {
        try await changeItem(id: id, actor: actor, action: "verdict_\(verdict.rawValue)",
                             sql: "UPDATE dataset_items SET verdict = ? WHERE id = ? RETURNING *",
                             binds: [.text(verdict.rawValue)])
    }

    private func changeItem(id: Int64, actor: String, action: String, sql: String,
                            binds: [SQLValue]) async throws -> DatasetItem {
        try await db.transaction { tx in
            guard let row = try await tx.query(sql, binds + [.integer(id)]).first else {
                throw StoreError.notFound(kind: "dataset item", key: String(id))
            }
            let item = try DatasetItem(row: row)
            try await Self.audit(tx, actor: actor, action: action, entity: "dataset_item", id: id,
                                 detail: ["product_id": String(item.productId), "kind": item.kind.rawValue])
            return item
        }
    }
}
