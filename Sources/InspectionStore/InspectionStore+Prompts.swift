import Foundation

extension InspectionStore {
    // MARK: Prompt library

    /// Saves a prompt preset for one of the product's defect classes (audited).
    public func addPromptPreset(productId: Int64, _ new: NewPromptPreset, actor: String) async throws -> PromptPreset {
        try new.validate()
        return try await db.transaction { tx in
            guard try await tx.queryOne("SELECT id FROM products WHERE id = ?", productId) != nil else {
                throw StoreError.notFound(kind: "product", key: String(productId))
            }
            let row = try await tx.queryOne("""
                INSERT INTO prompt_presets (product_id, defect_class, prompt, negative_prompt, steps, guidance_scale,
                                            strength, padding_mask_crop, seed, created_ms, created_by)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *
                """, productId, new.defectClass, new.prompt, new.negativePrompt, new.steps ?? 30, new.guidanceScale ?? 7.5,
                new.strength ?? 1.0, new.paddingMaskCrop, new.seed, Clock.nowMilliseconds(), actor)
            let preset = try PromptPreset(row: row!)
            try await Self.audit(tx, actor: actor, action: "add", entity: "prompt_preset", id: preset.id,
                                 detail: ["product_id": String(productId), "defect_class": new.defectClass])
            return preset
        }
    }

    /// The product's saved presets by defect class, then oldest first; removed ones only when asked.
    public func promptPresets(productId: Int64, defectClass: String? = nil, includeRemoved: Bool = false) async throws -> [PromptPreset] {
        var w = WhereClause()
        w.add("product_id = ?", .integer(productId))
        if let defectClass { w.add("defect_class = ?", .text(defectClass)) }
        if !includeRemoved { w.add("removed_ms IS NULL") }
        return try await db.query("SELECT * FROM prompt_presets \(w.sql) ORDER BY defect_class, id", w.binds)
            .map(PromptPreset.init(row:))
    }

    public func promptPreset(id: Int64) async throws -> PromptPreset {
        guard let row = try await db.queryOne("SELECT * FROM prompt_presets WHERE id = ?", id) else {
            throw StoreError.notFound(kind: "prompt preset", key: String(id))
        }
        return try PromptPreset(row: row)
    }

    /// Removes a preset from the library (kept, marked removed, so the audit log can still name it); undone by
    /// `restorePromptPreset`.
    public func removePromptPreset(id: Int64, actor: String) async throws -> PromptPreset {
        try await setPromptPresetRemoved(id: id, removed: true, actor: actor)
    }

    public func restorePromptPreset(id: Int64, actor: String) async throws -> PromptPreset {
        try await setPromptPresetRemoved(id: id, removed: false, actor: actor)
    }

    private func setPromptPresetRemoved(id: Int64, removed: Bool, actor: String) async throws -> PromptPreset {
        try await db.transaction { tx in
            let row = removed
                ? try await tx.queryOne("""
                    UPDATE prompt_presets SET removed_ms = ?, removed_by = ? WHERE id = ? AND removed_ms IS NULL RETURNING *
                    """, Clock.nowMilliseconds(), actor, id)
                : try await tx.queryOne("""
                    UPDATE prompt_presets SET removed_ms = NULL, removed_by = NULL WHERE id = ? AND removed_ms IS NOT NULL RETURNING *
                    """, id)
            guard let row else {
                guard try await tx.queryOne("SELECT id FROM prompt_presets WHERE id = ?", id) != nil else {
                    throw StoreError.notFound(kind: "prompt preset", key: String(id))
                }
                throw StoreError.conflict("prompt preset \(id) is \(removed ? "already removed" : "not removed")")
            }
            try await Self.audit(tx, actor: actor, action: removed ? "remove" : "restore", entity: "prompt_preset", id: id, detail: [:])
            return try PromptPreset(row: row)
        }
    }
}
