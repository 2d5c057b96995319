import Foundation

// The service's records as the store reads and writes them. JSON field names are snake_case (the REST API
// encodes these types directly); times are milliseconds since 1970, UTC.

/// What an API key may do. Each role includes the ones below it: operator < expert < admin.
public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    /// Inspect and review.
    case `operator`
    /// Also datasets, synthesis, fits and evaluations.
    case expert
    /// Also models, thresholds and keys.
    case admin

    private var rank: Int { Role.allCases.firstIndex(of: self)! }
    public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }
}

public struct Product: Codable, Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var description: String
    public var activeModelId: Int64?
    public var createdMs: Int64
    /// Where synthetic defects may go, painted by an expert (a mask blob, white = the part); nil: estimated from
    /// the good images' foreground for each job.
    public var placementBlob: String?

    init(row r: SQLRow) throws {
        id = try r.int("id"); name = try r.text("name"); description = try r.text("description")
        activeModelId = try r.optionalInt("active_model_id"); createdMs = try r.int("created_ms")
        placementBlob = try r.optionalText("placement_blob")
    }
}

/// One fitted model of a product: its file in the blob store and what it was made and measured with.
public struct ModelVersion: Codable, Sendable, Equatable {
    public var id: Int64
    public var productId: Int64
    /// 1, 2, ... per product.
    public var version: Int64
    /// SHA-256 of the model file in the blob store.
    public var modelBlob: String
    public var backbone: String
    /// The model's `PatchCoreConfig` as JSON.
    public var config: String
    /// Evaluation metrics as JSON (`image_auroc`, ...), when it was evaluated.
    public var metrics: String?
    public var threshold: Double
    public var thresholdProvenance: String
    public var createdMs: Int64
    public var createdBy: String
    public var activatedMs: Int64?
    public var activatedBy: String?
    /// The good dataset items a fit job trained it on (JSON array of ids); nil for an uploaded model file.
    public var trainItems: String?

    /// `trainItems` decoded (empty when none are known).
    public var trainItemIds: Set<Int64> {
        guard let text = trainItems, let ids = try? JSONDecoder().decode([Int64].self, from: Data(text.utf8)) else { return [] }
        return Set(ids)
    }

    init(row r: SQLRow) throws {
        trainItems = try r.optionalText("train_items")
        id = try r.int("id"); productId = try r.int("product_id"); version = try r.int("version")
        modelBlob = try r.text("model_blob"); backbone = try r.text("backbone"); config = try r.text("config")
        metrics = try r.optionalText("metrics"); threshold = try r.double("threshold")
        thresholdProvenance = try r.text("threshold_provenance"); createdMs = try r.int("created_ms")
        createdBy = try r.text("created_by"); activatedMs = try r.optionalInt("activated_ms")
        activatedBy = try r.optionalText("activated_by")
    }
}

/// A new model version before the store numbers it.
public struct NewModelVersion: Sendable {
    public var modelBlob: String
    public var backbone: String
    public var config: String
    public var metrics: String?
    public var threshold: Double
    public var thresholdProvenance: String
    public var trainItems: [Int64]?

    public init(modelBlob: String, backbone: String, config: String, metrics: String? = nil, threshold: Double,
                thresholdProvenance: String, trainItems: [Int64]? = nil) {
        self.modelBlob = modelBlob; self.backbone = backbone; self.config = config; self.metrics = metrics
        self.threshold = threshold; self.thresholdProvenance = thresholdProvenance; self.trainItems = trainItems
    }
}

public enum InspectionDecision: String, Codable, Sendable, CaseIterable { case ok, anomalous }

/// One inspected part: the image, the model version that scored it and the decision it got.
public struct Inspection: Codable, Sendable, Equatable {
    public var id: Int64
    public var productId: Int64
    public var modelVersionId: Int64
    public var imageBlob: String
    public var heatmapBlob: String?
    public var overlayBlob: String?
    public var score: Double
    public var normalizedScore: Double
    public var decision: InspectionDecision
    public var threshold: Double
    public var latencyMs: Double
    /// Who sent it: a camera id given by the client, `hot-folder:<dir>`, or `api`.
    public var source: String
    public var createdMs: Int64
    /// The review in force, if any (an undone review no longer counts).
    public var reviewId: Int64?

    init(row r: SQLRow) throws {
        id = try r.int("id"); productId = try r.int("product_id"); modelVersionId = try r.int("model_version_id")
        imageBlob = try r.text("image_blob"); heatmapBlob = try r.optionalText("heatmap_blob")
        overlayBlob = try r.optionalText("overlay_blob"); score = try r.double("score")
        normalizedScore = try r.double("normalized_score")
        let d = try r.text("decision")
        guard let decision = InspectionDecision(rawValue: d) else {
            throw StoreError.corruptRow(column: "decision", problem: "unknown value '\(d)'")
        }
        self.decision = decision
        threshold = try r.double("threshold"); latencyMs = try r.double("latency_ms"); source = try r.text("source")
        createdMs = try r.int("created_ms"); reviewId = try r.optionalInt("review_id")
    }
}

public struct NewInspection: Sendable {
    public var productId: Int64
    public var modelVersionId: Int64
    public var imageBlob: String
    public var heatmapBlob: String?
    public var overlayBlob: String?
    public var score: Double
    public var normalizedScore: Double
    public var decision: InspectionDecision
    public var threshold: Double
    public var latencyMs: Double
    public var source: String

    public init(productId: Int64, modelVersionId: Int64, imageBlob: String, heatmapBlob: String? = nil,
                overlayBlob: String? = nil, score: Double, normalizedScore: Double, decision: InspectionDecision,
                threshold: Double, latencyMs: Double, source: String) {
        self.productId = productId; self.modelVersionId = modelVersionId; self.imageBlob = imageBlob
        self.heatmapBlob = heatmapBlob; self.overlayBlob = overlayBlob; self.score = score
        self.normalizedScore = normalizedScore; self.decision = decision; self.threshold = threshold
        self.latencyMs = latencyMs; self.source = source
    }
}

/// Which inspections to list. Pages run from the newest back; `before` is the cursor (an inspection id).
public struct InspectionFilter: Sendable {
    public var productId: Int64?
    public var fromMs: Int64?
    public var toMs: Int64?
    public var decision: InspectionDecision?
    public var minScore: Double?
    public var maxScore: Double?
    public var reviewed: Bool?
    public var before: Int64?
    public var limit: Int

    public init(productId: Int64? = nil, fromMs: Int64? = nil, toMs: Int64? = nil, decision: InspectionDecision? = nil,
                minScore: Double? = nil, maxScore: Double? = nil, reviewed: Bool? = nil, before: Int64? = nil,
                limit: Int = 50) {
        self.productId = productId; self.fromMs = fromMs; self.toMs = toMs; self.decision = decision
        self.minScore = minScore; self.maxScore = maxScore; self.reviewed = reviewed; self.before = before
        self.limit = limit
    }
}

public struct Page<Item: Codable & Sendable>: Codable, Sendable {
    public var items: [Item]
    /// Pass as `before` for the next (older) page; nil on the last page.
    public var nextCursor: Int64?
}

/// An operator's or expert's verdict on an inspection.
public enum Verdict: String, Codable, Sendable, CaseIterable {
    /// The decision was right.
    case confirm
    /// The part is good (overrides an anomalous decision: a false reject).
    case good
    /// The part is defective (overrides an ok decision: an escape), optionally with a mask.
    case defect
}

public struct Review: Codable, Sendable, Equatable {
    public var id: Int64
    public var inspectionId: Int64
    public var verdict: Verdict
    public var maskBlob: String?
    public var reason: String
    public var reviewer: String
    public var createdMs: Int64
    public var undoneMs: Int64?
    public var undoneBy: String?
    /// The dataset item the review added (a false reject to the good set, a defect to the defect set).
    public var datasetItemId: Int64?

    init(row r: SQLRow) throws {
        id = try r.int("id"); inspectionId = try r.int("inspection_id")
        let v = try r.text("verdict")
        guard let verdict = Verdict(rawValue: v) else {
            throw StoreError.corruptRow(column: "verdict", problem: "unknown value '\(v)'")
        }
        self.verdict = verdict
        maskBlob = try r.optionalText("mask_blob"); reason = try r.text("reason"); reviewer = try r.text("reviewer")
        createdMs = try r.int("created_ms"); undoneMs = try r.optionalInt("undone_ms")
        undoneBy = try r.optionalText("undone_by"); datasetItemId = try r.optionalInt("dataset_item_id")
    }
}

public enum DatasetKind: String, Codable, Sendable, CaseIterable { case good, defect, synthetic }
public enum SampleVerdict: String, Codable, Sendable, CaseIterable { case pending, accepted, rejected }

/// An image of a product's data: a good image, a real defect (with its mask) or a synthetic defect awaiting or
/// having the expert's verdict.
public struct DatasetItem: Codable, Sendable, Equatable {
    public var id: Int64
    public var productId: Int64
    public var kind: DatasetKind
    public var imageBlob: String
    public var maskBlob: String?
    /// Defect type or free label ("crack", "scratch"), empty when none.
    public var label: String
    /// How it came: `upload`, `review`, `synthesis`.
    public var origin: String
    /// The inspection, review or job it came from.
    public var originRef: String?
    public var verdict: SampleVerdict
    /// A synthetic sample's making as JSON (generator, method, seed, prompt, parameters); nil for other items.
    public var details: String?
    public var createdMs: Int64
    public var createdBy: String
    public var removedMs: Int64?
    public var removedBy: String?

    init(row r: SQLRow) throws {
        id = try r.int("id"); productId = try r.int("product_id")
        let k = try r.text("kind"), v = try r.text("verdict")
        guard let kind = DatasetKind(rawValue: k) else { throw StoreError.corruptRow(column: "kind", problem: "unknown value '\(k)'") }
        guard let verdict = SampleVerdict(rawValue: v) else { throw StoreError.corruptRow(column: "verdict", problem: "unknown value '\(v)'") }
        self.kind = kind; self.verdict = verdict
        imageBlob = try r.text("image_blob"); maskBlob = try r.optionalText("mask_blob"); label = try r.text("label")
        origin = try r.text("origin"); originRef = try r.optionalText("origin_ref"); details = try r.optionalText("details")
        createdMs = try r.int("created_ms")
        createdBy = try r.text("created_by"); removedMs = try r.optionalInt("removed_ms")
        removedBy = try r.optionalText("removed_by")
    }
}

public struct NewDatasetItem: Sendable {
    public var kind: DatasetKind
    public var imageBlob: String
    public var maskBlob: String?
    public var label: String
    public var origin: String
    public var originRef: String?
    public var verdict: SampleVerdict
    public var details: String?

    public init(kind: DatasetKind, imageBlob: String, maskBlob: String? = nil, label: String = "", origin: String,
                originRef: String? = nil, verdict: SampleVerdict = .accepted, details: String? = nil) {
        self.kind = kind; self.imageBlob = imageBlob; self.maskBlob = maskBlob; self.label = label
        self.origin = origin; self.originRef = originRef; self.verdict = verdict; self.details = details
    }
}

public enum JobState: String, Codable, Sendable, CaseIterable { case queued, running, succeeded, failed, cancelled }

/// A fit, evaluation or synthesis run by a worker of some replica.
public struct Job: Codable, Sendable, Equatable {
    public var id: Int64
    public var kind: String
    public var productId: Int64?
    /// The job's parameters as JSON.
    public var params: String
    public var state: JobState
    public var stage: String
    public var done: Int64
    public var total: Int64
    public var log: String
    public var result: String?
    public var error: String?
    public var cancelRequested: Bool
    /// How many times a worker claimed it (more than one: a replica died and another took over).
    public var attempts: Int64
    public var leaseOwner: String?
    public var leaseExpiresMs: Int64?
    public var createdMs: Int64
    public var createdBy: String
    public var startedMs: Int64?
    public var finishedMs: Int64?

    init(row r: SQLRow) throws {
        id = try r.int("id"); kind = try r.text("kind"); productId = try r.optionalInt("product_id")
        params = try r.text("params")
        let s = try r.text("state")
        guard let state = JobState(rawValue: s) else { throw StoreError.corruptRow(column: "state", problem: "unknown value '\(s)'") }
        self.state = state
        stage = try r.text("stage"); done = try r.int("done"); total = try r.int("total"); log = try r.text("log")
        result = try r.optionalText("result"); error = try r.optionalText("error")
        cancelRequested = try r.bool("cancel_requested"); attempts = try r.int("attempts")
        leaseOwner = try r.optionalText("lease_owner"); leaseExpiresMs = try r.optionalInt("lease_expires_ms")
        createdMs = try r.int("created_ms"); createdBy = try r.text("created_by")
        startedMs = try r.optionalInt("started_ms"); finishedMs = try r.optionalInt("finished_ms")
    }
}

/// One change to something that decides parts: thresholds, active models, keys, datasets, reviews.
public struct AuditEntry: Codable, Sendable, Equatable {
    public var id: Int64
    public var atMs: Int64
    public var actor: String
    public var action: String
    public var entity: String
    public var entityId: String
    /// JSON with the values before and after.
    public var detail: String

    init(row r: SQLRow) throws {
        id = try r.int("id"); atMs = try r.int("at_ms"); actor = try r.text("actor"); action = try r.text("action")
        entity = try r.text("entity"); entityId = try r.text("entity_id"); detail = try r.text("detail")
    }
}

/// An API key as stored: never the key itself, only its SHA-256 and its first characters for recognition.
public struct APIKey: Codable, Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var role: Role
    /// The key's first 8 characters, shown in lists so a person can tell keys apart.
    public var prefix: String
    public var createdMs: Int64
    public var createdBy: String
    public var revokedMs: Int64?

    init(row r: SQLRow) throws {
        id = try r.int("id"); name = try r.text("name")
        let ro = try r.text("role")
        guard let role = Role(rawValue: ro) else { throw StoreError.corruptRow(column: "role", problem: "unknown value '\(ro)'") }
        self.role = role
        prefix = try r.text("prefix"); createdMs = try r.int("created_ms"); createdBy = try r.text("created_by")
        revokedMs = try r.optionalInt("revoked_ms")
    }
}

/// A URL that receives each inspection of a product as JSON (`POST`).
public struct Webhook: Codable, Sendable, Equatable {
    public var id: Int64
    public var productId: Int64
    public var url: String
    public var createdMs: Int64
    public var createdBy: String
    public var removedMs: Int64?
    public var removedBy: String?
    /// Whether deliveries carry an `X-PatchCore-Signature` (webhooks added before signing existed do not).
    public var signed: Bool
    /// The HMAC key of the signatures; never part of the record's JSON (the add route shows it once).
    public var signingSecret: String? = nil

    enum CodingKeys: String, CodingKey { case id, productId, url, createdMs, createdBy, removedMs, removedBy, signed }

    init(row r: SQLRow) throws {
        id = try r.int("id"); productId = try r.int("product_id"); url = try r.text("url")
        createdMs = try r.int("created_ms"); createdBy = try r.text("created_by")
        removedMs = try r.optionalInt("removed_ms"); removedBy = try r.optionalText("removed_by")
        signingSecret = try r.optionalText("signing_secret")
        signed = signingSecret != nil
    }
}

public enum DeliveryState: String, Codable, Sendable, CaseIterable { case pending, delivered, failed }

/// One inspection sent (or still to be sent) to one webhook: attempts so far, the last answer, when it is due.
public struct WebhookDelivery: Codable, Sendable, Equatable {
    public var id: Int64
    public var webhookId: Int64
    public var inspectionId: Int64
    public var state: DeliveryState
    public var attempts: Int64
    public var nextAttemptMs: Int64
    /// The receiver's HTTP status of the last attempt (nil: no answer).
    public var lastStatus: Int64?
    public var lastError: String?
    public var leaseOwner: String?
    public var leaseExpiresMs: Int64?
    public var createdMs: Int64
    public var finishedMs: Int64?

    init(row r: SQLRow) throws {
        id = try r.int("id"); webhookId = try r.int("webhook_id"); inspectionId = try r.int("inspection_id")
        let s = try r.text("state")
        guard let state = DeliveryState(rawValue: s) else { throw StoreError.corruptRow(column: "state", problem: "unknown value '\(s)'") }
        self.state = state
        attempts = try r.int("attempts"); nextAttemptMs = try r.int("next_attempt_ms")
        lastStatus = try r.optionalInt("last_status"); lastError = try r.optionalText("last_error")
        leaseOwner = try r.optionalText("lease_owner"); leaseExpiresMs = try r.optionalInt("lease_expires_ms")
        createdMs = try r.int("created_ms"); finishedMs = try r.optionalInt("finished_ms")
    }
}

/// A diffusion prompt the expert saved for a defect class of a product, with the settings it worked with, so the
/// studio can reuse it instead of retyping it per job.
public struct PromptPreset: Codable, Sendable, Equatable {
    public var id: Int64
    public var productId: Int64
    public var defectClass: String
    public var prompt: String
    public var negativePrompt: String?
    public var steps: Int64
    public var guidanceScale: Double
    public var strength: Double
    public var paddingMaskCrop: Int64?
    public var seed: Int64?
    public var createdMs: Int64
    public var createdBy: String
    public var removedMs: Int64?
    public var removedBy: String?

    init(row r: SQLRow) throws {
        id = try r.int("id"); productId = try r.int("product_id"); defectClass = try r.text("defect_class")
        prompt = try r.text("prompt"); negativePrompt = try r.optionalText("negative_prompt")
        steps = try r.int("steps"); guidanceScale = try r.double("guidance_scale"); strength = try r.double("strength")
        paddingMaskCrop = try r.optionalInt("padding_mask_crop"); seed = try r.optionalInt("seed")
        createdMs = try r.int("created_ms"); createdBy = try r.text("created_by")
        removedMs = try r.optionalInt("removed_ms"); removedBy = try r.optionalText("removed_by")
    }
}

/// What a client sends to save a prompt preset; the defaults are those of a synthesize job.
public struct NewPromptPreset: Codable, Sendable, Equatable {
    public var defectClass: String
    public var prompt: String
    public var negativePrompt: String?
    public var steps: Int64?
    public var guidanceScale: Double?
    public var strength: Double?
    public var paddingMaskCrop: Int64?
    public var seed: Int64?

    public init(defectClass: String, prompt: String, negativePrompt: String? = nil, steps: Int64? = nil,
                guidanceScale: Double? = nil, strength: Double? = nil, paddingMaskCrop: Int64? = nil, seed: Int64? = nil) {
        self.defectClass = defectClass; self.prompt = prompt; self.negativePrompt = negativePrompt; self.steps = steps
        self.guidanceScale = guidanceScale; self.strength = strength; self.paddingMaskCrop = paddingMaskCrop; self.seed = seed
    }

    /// The ranges a synthesize job accepts, so a saved preset always makes a valid job.
    public func validate() throws {
        func bad(_ field: String, _ problem: String) -> StoreError { .invalid(field: field, problem: problem) }
        guard (1...64).contains(defectClass.count), PromptText.isPrintable(defectClass) else {
            throw bad("defect_class", "1-64 printable characters")
        }
        try PromptText.validate(prompt, field: "prompt")
        if let negativePrompt { try PromptText.validate(negativePrompt, field: "negative_prompt") }
        if let steps, !(1...1000).contains(steps) { throw bad("steps", "must be in 1...1000, got \(steps)") }
        if let guidanceScale, !(guidanceScale.isFinite && (0...100).contains(guidanceScale)) {
            throw bad("guidance_scale", "must be in 0...100, got \(guidanceScale)")
        }
        if let strength, !(strength.isFinite && strength > 0 && strength <= 1) {
            throw bad("strength", "must be in (0, 1], got \(strength)")
        }
        if let paddingMaskCrop, !(0...PromptText.maxPaddingMaskCrop).contains(paddingMaskCrop) {
            throw bad("padding_mask_crop", "must be in 0...\(PromptText.maxPaddingMaskCrop) pixels, got \(paddingMaskCrop)")
        }
        if let seed, seed < 0 { throw bad("seed", "must be 0 or more, got \(seed)") }
    }
}

/// The rules for text that reaches the diffusion model's tokenizer, shared by presets and synthesize jobs.
public enum PromptText {
    public static let maxLength = 1000
    /// Pixels of context kept around the mask when the pipeline crops to it (diffusers' `padding_mask_crop`).
    public static let maxPaddingMaskCrop: Int64 = 4096

    public static func isPrintable(_ text: String) -> Bool {
        !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
    }

    public static func validate(_ text: String, field: String) throws {
        guard (1...maxLength).contains(text.count), isPrintable(text) else {
            throw StoreError.invalid(field: field, problem: "must be 1...\(maxLength) characters without control characters")
        }
    }
}
