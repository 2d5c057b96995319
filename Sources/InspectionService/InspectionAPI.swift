import Foundation
import HTTPTypes
import Hummingbird
import ImageIO
import InspectionStore
import Logging
import NIOCore
import NIOFoundationCompat
import PatchCore
import TensorCore

/// The REST API under `/api/v1`: one table of routes (`routes`), each checking its role, and their handlers.
struct InspectionAPI: Sendable {
    let configuration: ServiceConfiguration
    let store: InspectionStore
    let blobs: BlobStore
    let models: ActiveModels
    let gate: InferenceGate
    let metrics: ServiceMetrics

    var inspector: Inspector { Inspector(store: store, blobs: blobs, models: models, gate: gate, metrics: metrics) }

    var routes: [APIRoute] {
        [
            APIRoute(method: .get, path: "/healthz", role: nil, operationId: "health",
                     summary: "The process is up.", success: (200, "Health", "application/json"), handler: health),
            APIRoute(method: .get, path: "/readyz", role: nil, operationId: "ready",
                     summary: "The store answers and every active model is loaded (503 otherwise).",
                     success: (200, "Health", "application/json"), handler: ready),
            APIRoute(method: .get, path: "/api/v1/openapi.json", role: nil, operationId: "openapi",
                     summary: "This document.", success: (200, nil, "application/json"), handler: openAPI),
            APIRoute(method: .get, path: "/api/v1/me", role: .operator, operationId: "whoAmI",
                     summary: "The caller's key (name, role): what a client shows and offers.",
                     success: (200, "APIKey", "application/json"), handler: whoAmI),
            APIRoute(method: .get, path: "/api/v1/products", role: .operator, operationId: "listProducts",
                     summary: "Products (part types on a line).", success: (200, "ProductList", "application/json"),
                     handler: listProducts),
            APIRoute(method: .post, path: "/api/v1/products", role: .admin, operationId: "createProduct",
                     summary: "Adds a product.", body: (["application/json"], "NewProduct"),
                     success: (201, "Product", "application/json"), handler: createProduct),
            APIRoute(method: .get, path: "/api/v1/products/{product}", role: .operator, operationId: "getProduct",
                     summary: "One product.", success: (200, "Product", "application/json"), handler: getProduct),
            APIRoute(method: .post, path: "/api/v1/products/{product}/inspect", role: .operator, operationId: "inspect",
                     summary: "Scores one image (PNG or JPEG body); the inspection is committed before the answer.",
                     query: [("source", "text 1...128", "camera id or other origin, stored with the inspection")],
                     body: (["image/png", "image/jpeg", "application/octet-stream"], nil),
                     success: (200, "InspectionResult", "application/json"), handler: inspect),
            APIRoute(method: .get, path: "/api/v1/products/{product}/events", role: .operator, operationId: "productEvents",
                     summary: "The product's inspections as server-sent events as they are committed (by any replica): `event: inspection`, `id:` the inspection id, data as the inspect route answers. A reconnecting client's Last-Event-ID resumes after that inspection.",
                     success: (200, nil, "text/event-stream"), handler: productEvents),
            APIRoute(method: .get, path: "/api/v1/products/{product}/counts", role: .operator, operationId: "inspectionCounts",
                     summary: "How many inspections of the product, and how many NG, at or after from_ms (a shift, the last hour), with the newest id counted.",
                     query: [("from_ms", "integer", "at or after (ms since 1970); default 0")],
                     success: (200, "InspectionCounts", "application/json"), handler: inspectionCounts),
            APIRoute(method: .get, path: "/api/v1/products/{product}/models", role: .operator, operationId: "listModels",
                     summary: "The product's model versions with their metrics.",
                     success: (200, "ModelVersionList", "application/json"), handler: listModels),
            APIRoute(method: .post, path: "/api/v1/products/{product}/models", role: .admin, operationId: "uploadModel",
                     summary: "Adds a model version from a model file (`patchcore fit` output) in the body.",
                     body: (["application/octet-stream"], nil), success: (201, "ModelVersion", "application/json"),
                     handler: uploadModel),
            APIRoute(method: .post, path: "/api/v1/products/{product}/models/{version}/activate", role: .admin,
                     operationId: "activateModel",
                     summary: "Makes a version the one that inspects the product (also a rollback).",
                     success: (200, "ModelVersion", "application/json"), handler: activate),
            APIRoute(method: .post, path: "/api/v1/products/{product}/models/{version}/evaluate", role: .expert,
                     operationId: "startEvaluate",
                     summary: "Queues an evaluation of a version on the product's defect images and the good images it was not trained on (with `common_with`: that neither it nor the other version was trained on, so the two compare on the same images, as after a rebuild in the studio); the metrics (image/pixel AUROC, AUPRO, F1, AP, rates at its threshold) are stored on the version, with each image's score (`images`: dataset_item_id, image_blob, defect_type, defect, score) and the ROC (`roc`: fpr, tpr) and precision-recall (`pr`: recall, precision) curves.",
                     body: (["application/json"], "EvaluateRequest"), success: (201, "Job", "application/json"),
                     handler: startEvaluate),
            APIRoute(method: .post, path: "/api/v1/products/{product}/models/{version}/threshold", role: .admin,
                     operationId: "setThreshold",
                     summary: "Sets a version's threshold by value or by a target false-reject rate on its held-out good images.",
                     body: (["application/json"], "ThresholdRequest"), success: (200, "ModelVersion", "application/json"),
                     handler: setThreshold),
            APIRoute(method: .get, path: "/api/v1/products/{product}/models/{version}/calibration", role: .operator,
                     operationId: "getCalibration",
                     summary: "The scores that place a version's threshold: its held-out good images (from the fit) and its reviewed inspections (good and defective, newest 10,000), with the current threshold.",
                     success: (200, "Calibration", "application/json"), handler: calibration),
            APIRoute(method: .get, path: "/api/v1/inspections", role: .operator, operationId: "listInspections",
                     summary: "Inspections, newest first, by cursor.",
                     query: [("product", "string", "product name"), ("decision", "enum ok|anomalous", "the decision"),
                             ("from_ms", "integer", "at or after (ms since 1970)"), ("to_ms", "integer", "before"),
                             ("min_score", "number", "score at least"), ("max_score", "number", "score at most"),
                             ("reviewed", "boolean", "reviewed or not"), ("cursor", "integer 1...", "next_cursor of the previous page"),
                             ("limit", "integer 1...500", "default 50")],
                     success: (200, "InspectionPage", "application/json"), handler: listInspections),
            APIRoute(method: .get, path: "/api/v1/inspections/{id}", role: .operator, operationId: "getInspection",
                     summary: "One inspection.", success: (200, "Inspection", "application/json"), handler: getInspection),
            APIRoute(method: .get, path: "/api/v1/inspections/{id}/reviews", role: .operator, operationId: "listReviews",
                     summary: "The inspection's reviews, undone ones included.",
                     success: (200, "ReviewList", "application/json"), handler: listReviews),
            APIRoute(method: .post, path: "/api/v1/inspections/{id}/review", role: .operator, operationId: "review",
                     summary: "A verdict: confirm, good (false reject: adds the image to the good set) or defect (adds it, with the mask, to the defect set).",
                     body: (["application/json"], "ReviewRequest"), success: (201, "Review", "application/json"),
                     handler: review),
            APIRoute(method: .post, path: "/api/v1/reviews/{id}/undo", role: .operator, operationId: "undoReview",
                     summary: "Undoes a review and what it added to the datasets.",
                     success: (200, "Review", "application/json"), handler: undoReview),
            APIRoute(method: .get, path: "/api/v1/products/{product}/datasets", role: .operator, operationId: "listDataset",
                     summary: "The product's good, defect and synthetic images.",
                     query: [("kind", "enum good|defect|synthetic", "the set"), ("verdict", "enum pending|accepted|rejected", "a synthetic sample's verdict")],
                     success: (200, "DatasetItemList", "application/json"), handler: listDataset),
            APIRoute(method: .post, path: "/api/v1/products/{product}/datasets/{kind}", role: .expert,
                     operationId: "uploadDatasetImage", summary: "Adds one image (PNG or JPEG body) to the good or defect set.",
                     query: [("label", "text 0...64", "defect type")],
                     body: (["image/png", "image/jpeg", "application/octet-stream"], nil),
                     success: (201, "DatasetItem", "application/json"), handler: uploadDatasetImage),
            APIRoute(method: .post, path: "/api/v1/products/{product}/datasets/{kind}/batch", role: .expert,
                     operationId: "uploadDatasetBatch",
                     summary: "Adds many images at once, all or none: the files of a multipart/form-data body or the entries of a zip. `x_mask.png` is the mask of image `x` (defects); a defect's label is ?label= or its folder's name. Other files are skipped and listed.",
                     query: [("label", "text 0...64", "defect type for every image (default: each image's folder name)")],
                     body: (["multipart/form-data", "application/zip"], nil),
                     success: (201, "DatasetBatchResult", "application/json"), handler: uploadDatasetBatch),
            APIRoute(method: .delete, path: "/api/v1/datasets/{id}", role: .expert, operationId: "removeDatasetItem",
                     summary: "Removes an image from its set (undo: restore).",
                     success: (200, "DatasetItem", "application/json"), handler: removeDatasetItem),
            APIRoute(method: .post, path: "/api/v1/datasets/{id}/restore", role: .expert, operationId: "restoreDatasetItem",
                     summary: "Puts a removed image back.", success: (200, "DatasetItem", "application/json"),
                     handler: restoreDatasetItem),
            APIRoute(method: .post, path: "/api/v1/products/{product}/jobs/fit", role: .expert, operationId: "startFit",
                     summary: "Queues a fit on the product's good images; a job worker of some replica runs it and adds a model version.",
                     body: (["application/json"], "FitJobRequest"), success: (201, "Job", "application/json"),
                     handler: startFit),
            APIRoute(method: .post, path: "/api/v1/products/{product}/jobs/synthesize", role: .expert, operationId: "startSynthesize",
                     summary: "Queues synthetic defects: `classical` (cut-paste of the product's real defects, Perlin texture / intensity) or `diffusion` (the server's --diffusers inpainting model paints each prompt into the product's defect masks). Each sample joins the product's synthetic set as it is made, with the verdict `pending` until an expert accepts or rejects it.",
                     body: (["application/json"], "SynthesizeJobRequest"), success: (201, "Job", "application/json"),
                     handler: startSynthesize),
            APIRoute(method: .post, path: "/api/v1/datasets/{id}/verdict", role: .expert, operationId: "setSampleVerdict",
                     summary: "The expert's verdict on a synthetic sample: accepted samples feed positive banks (fit with `positives`), rejected ones never do; `pending` undoes a verdict.",
                     body: (["application/json"], "VerdictRequest"), success: (200, "DatasetItem", "application/json"),
                     handler: setSampleVerdict),
            APIRoute(method: .get, path: "/api/v1/products/{product}/placement", role: .operator, operationId: "getPlacement",
                     summary: "Where the product's classical synthetic defects may go: the region an expert painted (`painted`), else the good images' estimated foreground (`estimated`), else anywhere (`none`: a texture that fills the frame, or no good images). `mask_blob` is the region (white = the part).",
                     success: (200, "Placement", "application/json"), handler: getPlacement),
            APIRoute(method: .put, path: "/api/v1/products/{product}/placement", role: .expert, operationId: "setPlacement",
                     summary: "Paints the product's placement region once: `mask_base64`, a PNG or JPEG (white = the part; any size, it meets each image by nearest lookup) that every later classical synthesis job of the product respects; audited.",
                     body: (["application/json"], "NewPlacement"), success: (200, "Placement", "application/json"),
                     handler: setPlacement),
            APIRoute(method: .delete, path: "/api/v1/products/{product}/placement", role: .expert, operationId: "clearPlacement",
                     summary: "Forgets the painted region: jobs estimate it from the good images again; audited.",
                     success: (200, "Placement", "application/json"), handler: clearPlacement),
            APIRoute(method: .get, path: "/api/v1/products/{product}/prompts", role: .expert, operationId: "listPromptPresets",
                     summary: "The product's prompt library: diffusion prompts saved per defect class with the settings they worked with.",
                     query: [("defect_class", "string", "only this defect class"),
                             ("include_removed", "boolean", "removed presets too (default false)")],
                     success: (200, "PromptPresetList", "application/json"), handler: listPromptPresets),
            APIRoute(method: .post, path: "/api/v1/products/{product}/prompts", role: .expert, operationId: "addPromptPreset",
                     summary: "Saves a prompt (and its negative prompt, steps, guidance, strength, padding crop, seed) for a defect class; audited.",
                     body: (["application/json"], "NewPromptPreset"), success: (201, "PromptPreset", "application/json"),
                     handler: addPromptPreset),
            APIRoute(method: .delete, path: "/api/v1/prompts/{id}", role: .expert, operationId: "removePromptPreset",
                     summary: "Takes a preset out of the library (kept for the audit log; restore undoes it).",
                     success: (200, "PromptPreset", "application/json"), handler: removePromptPreset),
            APIRoute(method: .post, path: "/api/v1/prompts/{id}/restore", role: .expert, operationId: "restorePromptPreset",
                     summary: "Puts a removed preset back into the library.",
                     success: (200, "PromptPreset", "application/json"), handler: restorePromptPreset),
            APIRoute(method: .get, path: "/api/v1/jobs", role: .operator, operationId: "listJobs",
                     summary: "Jobs, newest first.",
                     query: [("state", "enum queued|running|succeeded|failed|cancelled", "job state"), ("product", "string", "product name")],
                     success: (200, "JobList", "application/json"), handler: listJobs),
            APIRoute(method: .get, path: "/api/v1/jobs/{id}", role: .operator, operationId: "getJob",
                     summary: "One job: state, stage, progress, log, result.", success: (200, "Job", "application/json"),
                     handler: getJob),
            APIRoute(method: .get, path: "/api/v1/jobs/{id}/events", role: .operator, operationId: "jobEvents",
                     summary: "The job as server-sent events: an `event: job` with the whole job each time its state, stage, progress or log changes, ending after its end state.",
                     success: (200, nil, "text/event-stream"), handler: jobEvents),
            APIRoute(method: .post, path: "/api/v1/jobs/{id}/cancel", role: .expert, operationId: "cancelJob",
                     summary: "Cancels a queued job now, a running one at its next step.",
                     success: (200, "Job", "application/json"), handler: cancelJob),
            APIRoute(method: .get, path: "/api/v1/products/{product}/webhooks", role: .admin, operationId: "listWebhooks",
                     summary: "The URLs each inspection of the product is POSTed to, removed ones included.",
                     success: (200, "WebhookList", "application/json"), handler: listWebhooks),
            APIRoute(method: .post, path: "/api/v1/products/{product}/webhooks", role: .admin, operationId: "addWebhook",
                     summary: "Adds a URL that receives every later inspection of the product as JSON (retried with backoff until a 2xx), signed with a secret shown only in this answer: X-PatchCore-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.\" + body>.",
                     body: (["application/json"], "NewWebhook"), success: (201, "CreatedWebhook", "application/json"),
                     handler: addWebhook),
            APIRoute(method: .delete, path: "/api/v1/webhooks/{id}", role: .admin, operationId: "removeWebhook",
                     summary: "Stops a webhook; its pending deliveries are failed.",
                     success: (200, "Webhook", "application/json"), handler: removeWebhook),
            APIRoute(method: .get, path: "/api/v1/webhooks/{id}/deliveries", role: .admin, operationId: "listDeliveries",
                     summary: "A webhook's deliveries, newest first: state, attempts, the receiver's last status or error.",
                     query: [("state", "enum pending|delivered|failed", "delivery state"), ("limit", "integer 1...1000", "default 100")],
                     success: (200, "DeliveryList", "application/json"), handler: listDeliveries),
            APIRoute(method: .get, path: "/api/v1/blobs/{sha256}", role: .operator, operationId: "getBlob",
                     summary: "A stored image, heatmap, mask or model file by its SHA-256.",
                     success: (200, nil, "application/octet-stream"), handler: getBlob),
            APIRoute(method: .get, path: "/api/v1/audit", role: .admin, operationId: "auditLog",
                     summary: "Changes to thresholds, active models, keys, datasets and reviews, newest first.",
                     query: [("entity", "string", "product, model_version, inspection, dataset_item, job, api_key"),
                             ("entity_id", "string", "the entity's id"), ("limit", "integer 1...1000", "default 100")],
                     success: (200, "AuditList", "application/json"), handler: auditLog),
            APIRoute(method: .get, path: "/api/v1/keys", role: .admin, operationId: "listKeys",
                     summary: "API keys (never the keys themselves).", success: (200, "KeyList", "application/json"),
                     handler: listKeys),
            APIRoute(method: .post, path: "/api/v1/keys", role: .admin, operationId: "createKey",
                     summary: "Makes a key; the answer is the only time it is shown.",
                     body: (["application/json"], "NewKey"), success: (201, "CreatedKey", "application/json"),
                     handler: createKey),
            APIRoute(method: .delete, path: "/api/v1/keys/{name}", role: .admin, operationId: "revokeKey",
                     summary: "Revokes a key.", success: (200, "APIKey", "application/json"), handler: revokeKey),
        ]
    }

    // MARK: Health

    @Sendable func health(_ request: Request, _ context: ServiceContext) async throws -> Response {
        try Health(status: "ok").response(.ok, request, context)
    }

    @Sendable func ready(_ request: Request, _ context: ServiceContext) async throws -> Response {
        do {
            try await store.ping()
        } catch {
            return try Health(status: "unavailable", store: "\(error)").response(.serviceUnavailable, request, context)
        }
        let missing = try await models.missing()
        guard missing.isEmpty else {
            return try Health(status: "loading", store: "ok", missingModels: missing).response(.serviceUnavailable, request, context)
        }
        return try Health(status: "ready", store: "ok").response(.ok, request, context)
    }

    @Sendable func openAPI(_ request: Request, _ context: ServiceContext) async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(data: OpenAPIDocument.json(routes: routes))))
    }

    @Sendable func whoAmI(_ request: Request, _ context: ServiceContext) async throws -> Response {
        try context.caller().response(.ok, request, context)
    }

    // MARK: Products and models

    @Sendable func listProducts(_ request: Request, _ context: ServiceContext) async throws -> Response {
        try ProductList(items: try await store.products()).response(.ok, request, context)
    }

    @Sendable func createProduct(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let body = try await RequestParts.json(request, context, as: NewProductRequest.self)
        let product = try await store.createProduct(name: body.name, description: body.description ?? "", actor: key.name)
        return try product.response(.created, request, context)
    }

    @Sendable func getProduct(_ request: Request, _ context: ServiceContext) async throws -> Response {
        try await productInPath(context).response(.ok, request, context)
    }

    func productInPath(_ context: ServiceContext) async throws -> Product {
        try await store.product(named: context.parameters.require("product"))
    }

    /// A version of the product in the path, by its number.
    func versionInPath(_ context: ServiceContext, of product: Product) async throws -> ModelVersion {
        let number = try RequestParts.id(context, "version")
        guard let v = try await store.modelVersions(productId: product.id).first(where: { $0.version == number }) else {
            throw StoreError.notFound(kind: "model version", key: "\(product.name) v\(number)")
        }
        return v
    }

    @Sendable func listModels(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let product = try await productInPath(context)
        return try ModelVersionList(items: try await store.modelVersions(productId: product.id)).response(.ok, request, context)
    }

    /// The body is a model file: it is read and checked (format, finite bank, backbone known and its weights
    /// present) exactly as `predict` would, before anything is stored.
    @Sendable func uploadModel(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let product = try await productInPath(context)
        let data = try await RequestParts.body(request, limit: configuration.maxModelUploadBytes, option: "--max-model-mb")
        guard !data.isEmpty else { throw HTTPError(.badRequest, message: "the body must be a model file (.safetensors from `patchcore fit`)") }
        let existed = blobs.contains(BlobStore.name(of: data))
        let name = try blobs.put(data)
        let file = try blobs.url(of: name)
        let weights = configuration.weights
        let model: PatchCoreModel
        do {
            model = try await Task.detached {
                try ActiveModels.scorer(file: file, threshold: nil, provenance: "", name: "upload", version: 0, weights: weights).model
            }.value
        } catch {
            // A file that is no model leaves nothing behind, and the answer never shows the server's paths.
            if !existed { try? FileManager.default.removeItem(at: file) }
            let http = ErrorMiddleware.httpError(error, logger: context.logger, hiding: nil)
            throw HTTPError(http.status, message: (http.body ?? "\(error)").replacingOccurrences(of: file.path, with: "the uploaded model file"))
        }
        let config = String(decoding: try JSONEncoder().encode(model.config), as: UTF8.self)
        let version = try await store.addModelVersion(productId: product.id, NewModelVersion(
            modelBlob: name, backbone: model.config.backbone, config: config, metrics: nil,
            threshold: Double(model.calibration.threshold), thresholdProvenance: model.calibration.provenance.description),
            actor: key.name)
        return try version.response(.created, request, context)
    }

    @Sendable func activate(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let product = try await productInPath(context)
        let version = try await versionInPath(context, of: product)
        // Loaded here first: a file that cannot be served is refused before it becomes active anywhere.
        try await models.load(version)
        let activated = try await store.activate(modelVersionId: version.id, actor: key.name)
        try await models.adopt(activated)
        return try activated.response(.ok, request, context)
    }

    @Sendable func calibration(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let product = try await productInPath(context)
        let version = try await versionInPath(context, of: product)
        let goodScores = try heldOutGoodScores(version)
        let reviewed = try await store.reviewedScores(modelVersionId: version.id)
        return try Calibration(version: version.version, threshold: version.threshold,
                               thresholdProvenance: version.thresholdProvenance,
                               heldOutGoodScores: goodScores,
                               reviewedGoodScores: reviewed.good, reviewedDefectScores: reviewed.defect)
            .response(.ok, request, context)
    }

    /// The held-out good scores a version's threshold was calibrated on, from its model file's header only (files
    /// older than held-out calibration have none).
    func heldOutGoodScores(_ version: ModelVersion) throws -> [Double] {
        try ModelFile.readInfo(try blobs.url(of: version.modelBlob)).info.thresholdCalibration?.goodScores.map(Double.init) ?? []
    }

    @Sendable func setThreshold(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let product = try await productInPath(context)
        let version = try await versionInPath(context, of: product)
        let body = try await RequestParts.json(request, context, as: ThresholdRequest.self)
        let threshold: Double, provenance: String
        switch (body.threshold, body.falseRejectRate) {
        case let (t?, nil):
            guard t.isFinite else { throw HTTPError(.badRequest, message: "field 'threshold' must be a finite number") }
            threshold = t; provenance = "set by \(key.name)"
        case let (nil, rate?):
            guard rate > 0, rate < 1 else { throw HTTPError(.badRequest, message: "field 'false_reject_rate' must be in (0, 1)") }
            let scores = try heldOutGoodScores(version).sorted()
            guard !scores.isEmpty else {
                throw HTTPError(.unprocessableContent, message: "model version \(version.version) holds no held-out good scores; set the threshold by value")
            }
            // The smallest threshold that rejects at most `rate` of the held-out good images (score >= t is anomalous).
            let allowed = Int((rate * Double(scores.count)).rounded(.down))
            threshold = allowed == 0 ? scores.last!.nextUp : scores[scores.count - allowed]
            provenance = "false_reject_rate \(rate) on \(scores.count) held-out good images, set by \(key.name)"
        default:
            throw HTTPError(.badRequest, message: "give exactly one of 'threshold' and 'false_reject_rate'")
        }
        let updated = try await store.setThreshold(modelVersionId: version.id, threshold: threshold, provenance: provenance,
                                                   actor: key.name)
        if product.activeModelId == updated.id { try await models.load(updated) }
        return try updated.response(.ok, request, context)
    }

    // MARK: Inspection

    @Sendable func inspect(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let started = ContinuousClock.now
        let product = try await productInPath(context)
        let source = try Self.source(request)
        if let type = request.headers[.contentType]?.lowercased(),
           !["image/png", "image/jpeg", "image/jpg", "application/octet-stream"].contains(where: type.hasPrefix) {
            throw HTTPError(.unsupportedMediaType, message: "send the image as the body with Content-Type image/png, image/jpeg or application/octet-stream (got \(type.prefix(60)))")
        }
        let data = try await RequestParts.body(request, limit: configuration.maxUploadBytes)
        guard !data.isEmpty else { throw HTTPError(.badRequest, message: "the body is empty; send a PNG or JPEG image") }
        return try await inspector.inspect(product: product, data: data, source: source, started: started)
            .response(.ok, request, context)
    }

    @Sendable func productEvents(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let product = try await productInPath(context)
        let store = self.store
        var start = EventStream.lastEventId(request) ?? 0
        if EventStream.lastEventId(request) == nil { start = try await store.latestInspectionId(productId: product.id) }
        struct Cursor {
            var last: Int64
            var seen: [Int64: Int64] = [:]          // id -> created_ms, for the late-commit window
            var versions: [Int64: ModelVersion] = [:]
        }
        // What the client has (up to `start`) counts as seen, so the late-commit window does not send it again.
        var initial = Cursor(last: start)
        for i in try await store.inspections(productId: product.id, after: start, limit: 1) where i.id <= start {
            initial.seen[i.id] = i.createdMs
        }
        let cursor = StreamState(initial)
        return EventStream.response {
            var c = cursor.value
            let found = try await store.inspections(productId: product.id, after: c.last, seen: Set(c.seen.keys))
            var events: [EventStream.Event] = []
            for inspection in found {
                if c.versions[inspection.modelVersionId] == nil {
                    c.versions[inspection.modelVersionId] = try await store.modelVersion(id: inspection.modelVersionId)
                }
                let result = Inspector.result(inspection, product: product, version: c.versions[inspection.modelVersionId]!)
                events.append(.init(id: inspection.id, name: "inspection", data: try JSONEncoder.compactSnakeCase.encode(result)))
                c.last = max(c.last, inspection.id)
                c.seen[inspection.id] = inspection.createdMs
            }
            let horizon = Int64(Date().timeIntervalSince1970 * 1000) - 20_000   // twice the store's late window
            c.seen = c.seen.filter { $0.value >= horizon }
            if c.versions.count > 64 { c.versions = [:] }
            cursor.value = c
            return (events, false)
        }
    }

    /// The `{kind}` of an upload route: good or defect (synthetic samples come from synthesis, not uploads).
    static func uploadKind(_ context: ServiceContext) throws -> DatasetKind {
        let text = try context.parameters.require("kind")
        guard let kind = DatasetKind(rawValue: text), kind != .synthetic else {
            throw HTTPError(.badRequest, message: "path parameter 'kind': '\(text.prefix(40))' is not good or defect")
        }
        return kind
    }

    /// `?label=`: at most 64 printable characters.
    static func label(_ request: Request) throws -> String? {
        guard let text = request.uri.queryParameters["label"].map(String.init) else { return nil }
        guard isLabel(text) else {
            throw HTTPError(.badRequest, message: "query parameter 'label': at most 64 printable characters")
        }
        return text
    }

    /// A defect label (of an upload or a synthesis job): at most 64 printable characters.
    static func isLabel(_ text: String) -> Bool {
        text.count <= 64 && text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7f }
    }

    /// `?source=` or `X-Source:`: at most 128 printable characters.
    static func source(_ request: Request) throws -> String {
        let text = request.uri.queryParameters["source"].map(String.init)
            ?? request.headers[HTTPField.Name("X-Source")!] ?? "api"
        guard (1...128).contains(text.count), text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) else {
            throw HTTPError(.badRequest, message: "source: 1-128 printable characters")
        }
        return text
    }

    @Sendable func listInspections(_ request: Request, _ context: ServiceContext) async throws -> Response {
        var filter = InspectionFilter()
        if let name = request.uri.queryParameters["product"] {
            filter.productId = try await store.product(named: String(name)).id
        }
        filter.decision = try RequestParts.queryEnum(request, "decision", as: InspectionDecision.self)
        filter.fromMs = try RequestParts.query(request, "from_ms", as: Int64.self)
        filter.toMs = try RequestParts.query(request, "to_ms", as: Int64.self)
        filter.minScore = try RequestParts.query(request, "min_score", as: Double.self)
        filter.maxScore = try RequestParts.query(request, "max_score", as: Double.self)
        filter.reviewed = try RequestParts.query(request, "reviewed", as: Bool.self)
        filter.before = try RequestParts.query(request, "cursor", as: Int64.self)
        if let cursor = filter.before, cursor < 1 { throw HTTPError(.badRequest, message: "query parameter 'cursor' must be a next_cursor (>= 1)") }
        let limit = try RequestParts.limit(request, default: 50, max: 500)
        filter.limit = limit
        let page = try await store.inspections(filter)
        return try InspectionPage(items: page.items, nextCursor: page.nextCursor).response(.ok, request, context)
    }

    @Sendable func inspectionCounts(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let product = try await productInPath(context)
        let from = try RequestParts.query(request, "from_ms", as: Int64.self) ?? 0
        let counts = try await store.inspectionCounts(productId: product.id, fromMs: from)
        return try InspectionCounts(fromMs: from, parts: counts.parts, ng: counts.ng, lastId: counts.lastId)
            .response(.ok, request, context)
    }

    @Sendable func getInspection(_ request: Request, _ context: ServiceContext) async throws -> Response {
        return try await store.inspection(id: RequestParts.id(context, "id")).response(.ok, request, context)
    }

    @Sendable func listReviews(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let id = try RequestParts.id(context, "id")
        _ = try await store.inspection(id: id)
        return try ReviewList(items: try await store.reviews(inspectionId: id)).response(.ok, request, context)
    }

    @Sendable func review(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let id = try RequestParts.id(context, "id")
        let body = try await RequestParts.json(request, context, as: ReviewRequest.self)
        var maskBlob: String? = nil
        if let encoded = body.maskBase64 {
            let inspection = try await store.inspection(id: id)
            maskBlob = try storeMask(encoded, paintedOn: inspection.imageBlob, name: "inspection \(id)")
        }
        let reason = body.reason ?? ""
        guard reason.count <= 2000 else { throw HTTPError(.badRequest, message: "field 'reason': at most 2000 characters") }
        let review = try await store.review(inspectionId: id, verdict: body.verdict, maskBlob: maskBlob, reason: reason,
                                            reviewer: key.name)
        return try review.response(.created, request, context)
    }

    @Sendable func undoReview(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        return try await store.undoReview(reviewId: RequestParts.id(context, "id"), actor: key.name).response(.ok, request, context)
    }

    // MARK: Datasets

    @Sendable func listDataset(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let product = try await productInPath(context)
        let items = try await store.datasetItems(
            productId: product.id, kind: RequestParts.queryEnum(request, "kind", as: DatasetKind.self),
            verdict: RequestParts.queryEnum(request, "verdict", as: SampleVerdict.self))
        return try DatasetItemList(items: items).response(.ok, request, context)
    }

    @Sendable func uploadDatasetImage(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let product = try await productInPath(context)
        let kind = try Self.uploadKind(context)
        let label = try Self.label(request) ?? ""
        let data = try await RequestParts.body(request, limit: configuration.maxUploadBytes)
        guard !data.isEmpty else { throw HTTPError(.badRequest, message: "the body is empty; send a PNG or JPEG image") }
        let limits = configuration.limits
        _ = try await gate.run { try ImageFile.decode(data, file: "upload", limits: limits) }   // refuse what no fit could read
        let item = try await store.addDatasetItem(productId: product.id, NewDatasetItem(
            kind: kind, imageBlob: try blobs.put(data), label: label, origin: "upload"), actor: key.name)
        return try item.response(.created, request, context)
    }

    @Sendable func uploadDatasetBatch(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let product = try await productInPath(context)
        let kind = try Self.uploadKind(context)
        let label = try Self.label(request)
        let contentType = request.headers[.contentType] ?? ""
        let body = try await RequestParts.body(request, limit: configuration.maxBatchUploadBytes, option: "--max-batch-mb")
        guard !body.isEmpty else { throw HTTPError(.badRequest, message: "the body is empty; send a multipart/form-data body or a zip") }
        let limits = configuration.limits, maxFile = configuration.maxUploadBytes, logger = context.logger
        // Unpacked and every image decoded on an inference worker (bounded CPU), before anything is stored.
        let (items, skipped) = try await gate.run { () throws -> ([DatasetBatch.Item], [String]) in
            let (files, skipped) = try DatasetBatch.files(body: body, contentType: contentType, maxFileBytes: maxFile)
            let items = try DatasetBatch.items(files, label: kind == .defect ? label : (label ?? ""))
            for item in items {
                let image: ImageIO.Image
                do {
                    image = try ImageFile.decode(item.image, file: item.name, limits: limits)
                } catch {
                    throw Self.named(error, item.name, logger: logger)
                }
                guard let mask = item.mask else { continue }
                guard kind == .defect else {
                    throw HTTPError(.unprocessableContent, message: "'\(item.name.prefix(200))' has a mask; masks go with defect images, not good ones")
                }
                let decoded: ImageIO.Image
                do { decoded = try ImageFile.decode(mask, file: item.name + " (mask)", limits: limits) } catch { throw Self.named(error, item.name + " (mask)", logger: logger) }
                guard decoded.width == image.width, decoded.height == image.height else {
                    throw HTTPError(.unprocessableContent, message: "the mask of '\(item.name.prefix(200))' is \(decoded.width)x\(decoded.height), the image \(image.width)x\(image.height)")
                }
            }
            return (items, skipped)
        }
        let new = try items.map { item in
            NewDatasetItem(kind: kind, imageBlob: try blobs.put(item.image), maskBlob: try item.mask.map { try blobs.put($0) },
                           label: item.label, origin: "upload", originRef: String(item.name.prefix(200)))
        }
        let added = try await store.addDatasetItems(productId: product.id, new, actor: key.name)
        return try DatasetBatchResult(items: added, skipped: skipped).response(.created, request, context)
    }

    /// A library error about one file of a batch, as the HTTP error it maps to with the file named.
    static func named(_ error: any Error, _ name: String, logger: Logger) -> HTTPError {
        let http = ErrorMiddleware.httpError(error, logger: logger, hiding: nil)
        return HTTPError(http.status, message: "'\(name.prefix(200))': \(http.body ?? "\(error)")")
    }

    @Sendable func removeDatasetItem(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        return try await store.removeDatasetItem(id: RequestParts.id(context, "id"), actor: key.name).response(.ok, request, context)
    }

    @Sendable func restoreDatasetItem(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        return try await store.restoreDatasetItem(id: RequestParts.id(context, "id"), actor: key.name).response(.ok, request, context)
    }

    @Sendable func getBlob(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let name = try context.parameters.require("sha256")
        let data = try blobs.get(name)
        var headers = HTTPFields()
        switch ImageFile.format(ofMagic: data.prefix(8)) {
        case .png: headers[.contentType] = "image/png"
        case .jpeg: headers[.contentType] = "image/jpeg"
        case nil: headers[.contentType] = "application/octet-stream"
        }
        // Content-addressed: the bytes behind a name never change.
        headers[.cacheControl] = "private, max-age=31536000, immutable"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: data)))
    }

    // MARK: Jobs

    @Sendable func startFit(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let product = try await productInPath(context)
        let params = try await RequestParts.json(request, context, as: FitJobParams.self)
        // Checked now, so a bad value is a 400 to the client rather than a failed job later.
        do { _ = try params.config() } catch { throw HTTPError(.badRequest, message: "\(error)") }
        if let rate = params.falseRejectRate, !(rate > 0 && rate < 1) {
            throw HTTPError(.badRequest, message: "field 'false_reject_rate' must be in (0, 1)")
        }
        let json = String(decoding: try JSONEncoder.snakeCase.encode(params), as: UTF8.self)
        let job = try await store.enqueueJob(kind: "fit", productId: product.id, params: json, actor: key.name)
        return try job.response(.created, request, context)
    }

    @Sendable func startSynthesize(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let product = try await productInPath(context)
        var params = try await RequestParts.json(request, context, as: SynthesizeJobParams.self)
        try params.validate(maxSamples: configuration.maxSynthesisSamples, diffusers: configuration.diffusers)
        if let goodId = params.goodItemId, let encoded = params.maskBase64 {
            let item = try await store.datasetItem(id: goodId)
            guard item.productId == product.id, item.kind == .good, item.removedMs == nil else {
                throw HTTPError(.badRequest, message: "field 'good_item_id': dataset item \(goodId) is not a good image of \(product.name)")
            }
            params.maskBlob = try storeMask(encoded, paintedOn: item.imageBlob, name: "dataset item \(goodId)")
            params.maskBase64 = nil   // the job carries the stored mask, not its base64
        }
        let json = String(decoding: try JSONEncoder.snakeCase.encode(params), as: UTF8.self)
        let job = try await store.enqueueJob(kind: "synthesize", productId: product.id, params: json, actor: key.name)
        return try job.response(.created, request, context)
    }

    /// A mask sent as `mask_base64` (a PNG or JPEG at the size of the image it was painted on, white = defect),
    /// checked and stored; its blob name.
    func storeMask(_ encoded: String, paintedOn imageBlob: String, name: String) throws -> String {
        guard let mask = Data(base64Encoded: encoded), !mask.isEmpty else {
            throw HTTPError(.badRequest, message: "field 'mask_base64' is not base64")
        }
        let image = try ImageFile.decode(try blobs.get(imageBlob), file: name, limits: configuration.limits)
        let decoded = try ImageFile.decode(mask, file: "mask_base64", limits: configuration.limits)
        guard decoded.width == image.width, decoded.height == image.height else {
            throw HTTPError(.unprocessableContent, message: "field 'mask_base64': the mask is \(decoded.width)x\(decoded.height), the image \(image.width)x\(image.height)")
        }
        return try blobs.put(mask)
    }

    @Sendable func setSampleVerdict(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let id = try RequestParts.id(context, "id")
        let body = try await RequestParts.json(request, context, as: VerdictRequest.self)
        let item = try await store.datasetItem(id: id)
        guard item.kind == .synthetic else {
            throw HTTPError(.conflict, message: "dataset item \(id) is a \(item.kind.rawValue) image; only synthetic samples get a verdict")
        }
        guard item.removedMs == nil else { throw HTTPError(.conflict, message: "dataset item \(id) is removed; restore it first") }
        return try await store.setSampleVerdict(id: id, verdict: body.verdict, actor: key.name).response(.ok, request, context)
    }

    @Sendable func startEvaluate(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let product = try await productInPath(context)
        let version = try await versionInPath(context, of: product)
        // Optional: `common_with` another version, so both are measured on the images neither was trained on.
        var params = EvaluateJobParams(modelVersionId: version.id)
        let data = try await RequestParts.body(request, limit: 1 << 16)
        if !data.isEmpty {
            let body: EvaluateRequest
            do { body = try context.requestDecoder.decode(EvaluateRequest.self, from: data) } catch let error as DecodingError {
                throw HTTPError(.badRequest, message: "malformed JSON: \(ErrorMiddleware.describe(error))")
            }
            if let number = body.commonWith {
                guard number != version.version else {
                    throw StoreError.invalid(field: "common_with", problem: "v\(number) is the version evaluated; name the one to compare it with")
                }
                guard let other = try await store.modelVersions(productId: product.id).first(where: { $0.version == number }) else {
                    throw StoreError.notFound(kind: "model version", key: "\(product.name) v\(number)")
                }
                params.commonWithId = other.id
            }
        }
        let json = String(decoding: try JSONEncoder.snakeCase.encode(params), as: UTF8.self)
        let job = try await store.enqueueJob(kind: "evaluate", productId: product.id, params: json, actor: key.name)
        return try job.response(.created, request, context)
    }

    @Sendable func listJobs(_ request: Request, _ context: ServiceContext) async throws -> Response {
        var productId: Int64? = nil
        if let name = request.uri.queryParameters["product"] { productId = try await store.product(named: String(name)).id }
        let jobs = try await store.jobs(state: RequestParts.queryEnum(request, "state", as: JobState.self), productId: productId)
        return try JobList(items: jobs).response(.ok, request, context)
    }

    @Sendable func getJob(_ request: Request, _ context: ServiceContext) async throws -> Response {
        try await store.job(id: RequestParts.id(context, "id")).response(.ok, request, context)
    }

    @Sendable func jobEvents(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let id = try RequestParts.id(context, "id")
        _ = try await store.job(id: id)   // an unknown job is a 404, not an empty stream
        let store = self.store
        let last = StreamState<Job?>(nil)
        return EventStream.response {
            let job = try await store.job(id: id)
            let ended = ![.queued, .running].contains(job.state)
            guard job != last.value else { return ([], ended) }
            last.value = job
            return ([EventStream.Event(id: nil, name: "job", data: try JSONEncoder.compactSnakeCase.encode(job))], ended)
        }
    }

    @Sendable func cancelJob(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        return try await store.requestCancel(jobId: RequestParts.id(context, "id"), actor: key.name).response(.ok, request, context)
    }

    // MARK: Placement region

    func placement(of product: Product) async throws -> PlacementAnswer {
        let goods = try await store.datasetItems(productId: product.id, kind: .good).map { try blobs.url(of: $0.imageBlob) }
        let (region, source) = try ProductPlacement.resolve(product, goods: goods, blobs: blobs, limits: configuration.limits)
        switch source {
        case .painted: return PlacementAnswer(source: source, maskBlob: product.placementBlob)
        case .estimated: return PlacementAnswer(source: source, maskBlob: try region.map { try blobs.put(ImageFile.encodePNG($0.mask, name: "placement")) })
        case .none: return PlacementAnswer(source: source, maskBlob: nil)
        }
    }

    @Sendable func getPlacement(_ request: Request, _ context: ServiceContext) async throws -> Response {
        try await placement(of: try await productInPath(context)).response(.ok, request, context)
    }

    @Sendable func setPlacement(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let product = try await productInPath(context)
        let body = try await RequestParts.json(request, context, as: NewPlacementRequest.self)
        let blob = try ProductPlacement.store(body.maskBase64, blobs: blobs, limits: configuration.limits)
        let updated = try await store.setPlacement(productId: product.id, maskBlob: blob, actor: key.name)
        return try await placement(of: updated).response(.ok, request, context)
    }

    @Sendable func clearPlacement(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let product = try await productInPath(context)
        let updated = try await store.setPlacement(productId: product.id, maskBlob: nil, actor: key.name)
        return try await placement(of: updated).response(.ok, request, context)
    }

    // MARK: Prompt library

    @Sendable func listPromptPresets(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let product = try await productInPath(context)
        let defectClass = request.uri.queryParameters["defect_class"].map(String.init)
        if let defectClass, !Self.isLabel(defectClass) {
            throw HTTPError(.badRequest, message: "query parameter 'defect_class': at most 64 printable characters")
        }
        let items = try await store.promptPresets(productId: product.id, defectClass: defectClass,
                                                  includeRemoved: RequestParts.query(request, "include_removed", as: Bool.self) ?? false)
        return try PromptPresetList(items: items).response(.ok, request, context)
    }

    @Sendable func addPromptPreset(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let product = try await productInPath(context)
        let body = try await RequestParts.json(request, context, as: NewPromptPreset.self)
        return try await store.addPromptPreset(productId: product.id, body, actor: key.name).response(.created, request, context)
    }

    @Sendable func removePromptPreset(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        return try await store.removePromptPreset(id: RequestParts.id(context, "id"), actor: key.name).response(.ok, request, context)
    }

    @Sendable func restorePromptPreset(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        return try await store.restorePromptPreset(id: RequestParts.id(context, "id"), actor: key.name).response(.ok, request, context)
    }

    // MARK: Webhooks

    @Sendable func listWebhooks(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let product = try await productInPath(context)
        return try WebhookList(items: try await store.webhooks(productId: product.id)).response(.ok, request, context)
    }

    @Sendable func addWebhook(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let product = try await productInPath(context)
        let body = try await RequestParts.json(request, context, as: NewWebhookRequest.self)
        let hook = try await store.addWebhook(productId: product.id, url: body.url, actor: key.name)
        return try CreatedWebhook(webhook: hook, signingSecret: hook.signingSecret).response(.created, request, context)
    }

    @Sendable func removeWebhook(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        return try await store.removeWebhook(id: RequestParts.id(context, "id"), actor: key.name).response(.ok, request, context)
    }

    @Sendable func listDeliveries(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let id = try RequestParts.id(context, "id")
        _ = try await store.webhook(id: id)
        let limit = try RequestParts.limit(request, default: 100, max: 1000)
        let items = try await store.deliveries(webhookId: id, state: RequestParts.queryEnum(request, "state", as: DeliveryState.self),
                                               limit: limit)
        return try DeliveryList(items: items).response(.ok, request, context)
    }

    // MARK: Audit and keys

    @Sendable func auditLog(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let limit = try RequestParts.limit(request, default: 100, max: 1000)
        let entries = try await store.auditLog(entity: request.uri.queryParameters["entity"].map(String.init),
                                               entityId: request.uri.queryParameters["entity_id"].map(String.init),
                                               limit: limit)
        return try AuditList(items: entries).response(.ok, request, context)
    }

    @Sendable func listKeys(_ request: Request, _ context: ServiceContext) async throws -> Response {
        return try KeyList(items: try await store.keys()).response(.ok, request, context)
    }

    @Sendable func createKey(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let body = try await RequestParts.json(request, context, as: NewKeyRequest.self)
        let made = try await store.createKey(name: body.name, role: body.role, actor: key.name)
        return try CreatedKey(key: made.key, record: made.record).response(.created, request, context)
    }

    @Sendable func revokeKey(_ request: Request, _ context: ServiceContext) async throws -> Response {
        let key = try context.caller()
        let name = try context.parameters.require("name")
        guard name != key.name else {
            throw HTTPError(.conflict, message: "key '\(name)' cannot revoke itself; revoke it with another admin key")
        }
        return try await store.revokeKey(name: context.parameters.require("name"), actor: key.name).response(.ok, request, context)
    }
}
