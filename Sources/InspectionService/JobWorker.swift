import Evaluation
import Foundation
import ImageIO
import InspectionStore
import Logging
import PatchCore
import ServiceLifecycle

/// Parameters of a fit job (`POST /api/v1/products/{product}/jobs/fit`).
struct FitJobParams: Codable, Sendable {
    var backbone: String?
    var coresetRatio: Double?
    var seed: UInt64?
    var falseRejectRate: Double?
    /// Make the new version active when the fit succeeds.
    var activate: Bool?
    /// PatchCoreDual: the product's accepted defects with masks and accepted synthetic samples build a positive
    /// bank beside the normal one.
    var positives: Bool?
    /// Layers whose features are used (default: the backbone's); an unknown name fails the job naming the valid ones.
    var taps: [String]?
    /// Plain resize to `WxH` (as `fit --size`); default: resize 256 + centre crop 224.
    var size: String?
    /// Any input geometry in `InputTransform.parse` form: `WxH`, `resize:R:crop:C`, `short-side:N`, `native`,
    /// `native:S` (as `fit --short-side`, `--native --scale`).
    var geometry: String?
    /// Tiled feature extraction, `WxH` in input pixels (as `fit --tile`), with `tile_overlap` pixels of halo
    /// (default 128); both multiples of 32.
    var tile: String?
    var tileOverlap: Int?
    /// The normal areas of the product's accepted defect images with masks join the good images' patches (as
    /// `fit --normal-from-defects`), `defect_margin` cells (default 4) from the mask left out.
    var normalFromDefects: Bool?
    var defectMargin: Int?

    /// The model configuration these parameters ask for, validated (`StoreError.invalid` names the field).
    func config() throws -> PatchCoreConfig {
        var config = try PatchCorePipeline.defaultConfig(backbone: backbone ?? "mobilenet_v2")
        if let r = coresetRatio { config.coresetRatio = r }
        if let s = seed { config.seed = s }
        if let taps { config.taps = taps }
        if let size {
            guard let transform = InputTransform.parseSize(size) else {
                throw StoreError.invalid(field: "size", problem: "must be WxH with each side in 32...\(PatchCoreConfig.maxInputSide), got '\(size.prefix(40))'")
            }
            config.transform = transform
        }
        if let geometry {
            guard size == nil else { throw StoreError.invalid(field: "geometry", problem: "give size or geometry, not both") }
            guard let transform = InputTransform.parse(geometry) else {
                throw StoreError.invalid(field: "geometry", problem: "must be WxH, resize:R:crop:C, short-side:N, native or native:S, got '\(geometry.prefix(40))'")
            }
            config.transform = transform
            do { try config.validate() } catch let error as PatchCoreError {
                throw StoreError.invalid(field: "geometry", problem: "\(error)")
            }
        }
        if let tile {
            guard let spec = TileSpec.parse(tile, overlap: tileOverlap ?? 128) else {
                throw StoreError.invalid(field: "tile", problem: "must be WxH (e.g. 512x512), got '\(tile.prefix(40))'")
            }
            do { try spec.validate() } catch let error as PatchCoreError {
                throw StoreError.invalid(field: "tile", problem: "\(error)")
            }
            config.tile = spec
        } else if tileOverlap != nil {
            throw StoreError.invalid(field: "tile_overlap", problem: "needs tile")
        }
        try config.validate()
        if let margin = defectMargin {
            guard normalFromDefects == true else { throw StoreError.invalid(field: "defect_margin", problem: "needs normal_from_defects") }
            guard DefectNormalAreas.marginRange.contains(margin) else {
                throw StoreError.invalid(field: "defect_margin", problem: "must be in \(DefectNormalAreas.marginRange.lowerBound)...\(DefectNormalAreas.marginRange.upperBound) cells, got \(margin)")
            }
        }
        return config
    }
}

/// Parameters of an evaluate job (`POST /api/v1/products/{product}/models/{version}/evaluate`).
struct EvaluateJobParams: Codable, Sendable {
    var modelVersionId: Int64
    /// A second version whose training images are left out too, so that both versions' metrics come from the
    /// same held-out images (a comparison after a rebuild).
    var commonWithId: Int64? = nil
}

/// Runs the jobs of the store, one at a time per replica, beside inspections. A job is claimed with a lease that
/// this worker renews while it runs; a replica that dies stops renewing, and another replica's worker takes the job
/// over once the lease has expired (`InspectionStore.claimJob`) and runs it again from the start. Progress goes to
/// the store (stage, done/total, log) and a cancel request stops the fit at its next image.
struct JobWorker: Service {
    let store: InspectionStore
    let blobs: BlobStore
    let models: ActiveModels
    let owner: String
    let leaseSeconds: Double
    let pollSeconds: Double
    let weights: URL?
    /// Feature bytes a fit holds before its bank is built chunk by chunk (`ServiceConfiguration.fitFeatureMemory`).
    let featureMemory: Int
    /// The diffusers inpainting folder of diffusion synthesis jobs (nil: only classical ones can run).
    let diffusers: URL?
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                if let job = try await store.claimJob(owner: owner, leaseMs: Int64(leaseSeconds * 1000), kinds: ["fit", "evaluate", "synthesize"]) {
                    await runJob(job)
                    continue
                }
            } catch {
                logger.warning("job claim failed: \(error)")
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int(pollSeconds * 1000))) }
            } catch {
                return
            }
        }
    }

    /// Latest progress from the working thread, read by the lease loop.
    final class Progress: @unchecked Sendable {
        struct Report { var stage: String; var done: Int; var total: Int }
        private let lock = NSLock()
        private var report: Report?
        func set(_ r: ProgressReport) { set(stage: r.stage.rawValue, done: r.done, total: r.total) }
        func set(stage: String, done: Int, total: Int) { lock.withLock { report = Report(stage: stage, done: done, total: total) } }
        var latest: Report? { lock.withLock { report } }
    }

    func runJob(_ job: Job) async {
        logger.info("job \(job.id) (\(job.kind)) claimed by \(owner), attempt \(job.attempts)")
        let progress = Progress()
        let work = Task.detached { [self] in
            switch job.kind {
            case "evaluate": return try await evaluate(job, progress: progress)
            case "synthesize": return try await synthesize(job, progress: progress)
            default: return try await fit(job, progress: progress)
            }
        }
        // The lease loop: renew, publish progress, honour cancel requests, until the work ends.
        var lost = false
        while true {
            let finished = await withTaskGroup(of: Bool.self) { group in
                group.addTask { _ = try? await work.value; return true }
                group.addTask { try? await Task.sleep(for: .milliseconds(Int(leaseSeconds * 1000 / 3))); return false }
                let first = await group.next()!
                group.cancelAll()
                return first
            }
            if finished { break }
            do {
                guard try await store.renewLease(jobId: job.id, owner: owner, leaseMs: Int64(leaseSeconds * 1000)) else {
                    lost = true
                    work.cancel()
                    break
                }
                if let r = progress.latest {
                    try await store.updateJob(jobId: job.id, owner: owner, stage: r.stage, done: Int64(r.done),
                                              total: Int64(r.total))
                }
                if try await store.job(id: job.id).cancelRequested { work.cancel() }
            } catch {
                logger.warning("job \(job.id): lease renewal failed: \(error)")
            }
        }
        if lost {
            logger.warning("job \(job.id): lease lost to another worker; stopped")
            return
        }
        if let r = progress.latest {   // the last report, which the lease loop may not have published
            _ = try? await store.updateJob(jobId: job.id, owner: owner, stage: r.stage, done: Int64(r.done),
                                           total: Int64(r.total))
        }
        do {
            let result = try await work.value
            try await store.finishJob(jobId: job.id, owner: owner, state: .succeeded, result: result)
        } catch is CancellationError {
            _ = try? await store.finishJob(jobId: job.id, owner: owner, state: .cancelled, error: "cancelled")
        } catch {
            let http = ErrorMiddleware.httpError(error, logger: logger, hiding: blobs.root.deletingLastPathComponent())
            _ = try? await store.finishJob(jobId: job.id, owner: owner, state: .failed, error: http.body ?? "\(error)")
        }
    }

    /// Fits on the product's good images; the model file goes to the blob store and becomes a new version.
    func fit(_ job: Job, progress: Progress) async throws -> String {
        let params = try JSONDecoder.snakeCase.decode(FitJobParams.self, from: Data(job.params.utf8))
        guard let productId = job.productId else { throw StoreError.invalid(field: "product", problem: "a fit job needs a product") }
        let goods = try await store.datasetItems(productId: productId, kind: .good)
        guard goods.count >= 6 else {
            throw StoreError.invalid(field: "dataset", problem: "the product has \(goods.count) good images; a fit needs at least 6 (5 are held out to set the threshold)")
        }
        let config = try params.config()
        let weights = try self.weights ?? WeightsCatalog.locate(config.backbone)
        // Read one at a time while fitting: a training set of large images is never in memory at once.
        let sources: [ImageSource] = goods.map { item in
            .deferred(name: "dataset item \(item.id)") { [blobs] in try blobs.get(item.imageBlob) }
        }
        var options = FitOptions()
        options.featureMemory = featureMemory
        if let rate = params.falseRejectRate { options.threshold = .falseRejectRate(rate) }
        var positiveItems: [DatasetItem] = []
        if params.positives == true {
            positiveItems = try await (store.datasetItems(productId: productId, kind: .defect, verdict: .accepted)
                + store.datasetItems(productId: productId, kind: .synthetic, verdict: .accepted)).filter { $0.maskBlob != nil }
            guard !positiveItems.isEmpty else {
                throw StoreError.invalid(field: "positives", problem: "the product has no accepted defect image with a mask and no accepted synthetic sample; upload defects with masks or accept synthetic samples first")
            }
            options.positives = try positiveItems.map { item in
                PositiveExample(image: try blobs.url(of: item.imageBlob), mask: try blobs.url(of: item.maskBlob!),
                                source: PositiveSource(kind: item.kind == .synthetic ? .synthetic : .trainDefects,
                                                       path: "dataset item \(item.id)"))
            }
        }
        var normalAreaItems: [DatasetItem] = []
        if params.normalFromDefects == true {
            normalAreaItems = try await store.datasetItems(productId: productId, kind: .defect, verdict: .accepted).filter { $0.maskBlob != nil }
            guard !normalAreaItems.isEmpty else {
                throw StoreError.invalid(field: "normal_from_defects", problem: "the product has no accepted defect image with a mask; upload defects with masks first")
            }
            options.defectNormalAreas = DefectNormalAreas(examples: try normalAreaItems.map { item in
                PositiveExample(image: try blobs.url(of: item.imageBlob), mask: try blobs.url(of: item.maskBlob!),
                                source: PositiveSource(kind: .trainDefects, path: "dataset item \(item.id)"))
            }, marginCells: params.defectMargin ?? DefectNormalAreas.defaultMarginCells)
        }
        let result = try PatchCoreTrainer.fit(config: config, weights: weights, good: sources, options: options) {
            progress.set($0)
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fit-\(job.id)-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        try ModelFile.write(result.model, to: file)
        let blob = try blobs.put(try Data(contentsOf: file))
        let version = try await store.addModelVersion(productId: productId, NewModelVersion(
            modelBlob: blob, backbone: config.backbone,
            config: String(decoding: try JSONEncoder().encode(config), as: UTF8.self),
            threshold: Double(result.model.calibration.threshold),
            thresholdProvenance: result.model.calibration.provenance.description,
            // Images whose normal areas joined the bank were trained on too: comparisons leave them out.
            trainItems: goods.map(\.id) + positiveItems.map(\.id)
                + normalAreaItems.map(\.id).filter { id in !positiveItems.contains { $0.id == id } }),
            actor: "job:\(job.id)")
        if params.activate == true {
            try await models.load(version)
            // The activated record replaces the loaded one (a refresh may have put the old version back meanwhile).
            try await models.adopt(try await store.activate(modelVersionId: version.id, actor: "job:\(job.id)"))
        }
        let compact = JSONEncoder()
        compact.outputFormatting = [.sortedKeys]
        return String(decoding: try compact.encode(
            ["model_version_id": version.id, "version": version.version, "images": Int64(goods.count),
             "patches": Int64(result.patchCount), "positives": Int64(positiveItems.count),
             "normal_area_images": Int64(result.model.info.defectNormalAreas?.images ?? 0),
             "bank_chunks": Int64(result.streamedBank?.chunks ?? 1)]), as: UTF8.self)
    }
}

extension JobWorker {
    /// Worst cases per side with a heatmap overlay (the Models page's galleries show as many).
    static let worstCasesShown = 6

    /// Scores the product's held-out data with a version and stores the metrics on it: every defect image (with
    /// its mask when it has one, for the pixel metrics) and every good image the version was not trained on.
    func evaluate(_ job: Job, progress: Progress) async throws -> String {
        let params = try JSONDecoder.snakeCase.decode(EvaluateJobParams.self, from: Data(job.params.utf8))
        let version = try await store.modelVersion(id: params.modelVersionId)
        var other: ModelVersion? = nil
        if let id = params.commonWithId { other = try await store.modelVersion(id: id) }
        let trained = version.trainItemIds.union(other?.trainItemIds ?? [])
        let goods = try await store.datasetItems(productId: version.productId, kind: .good).filter { !trained.contains($0.id) }
        // Defects that built a positive bank are training data too.
        let defects = try await store.datasetItems(productId: version.productId, kind: .defect, verdict: .accepted)
            .filter { !trained.contains($0.id) }
        guard !goods.isEmpty, !defects.isEmpty else {
            throw StoreError.invalid(field: "dataset", problem: "an evaluation needs good images \(other.map { "neither v\(version.version) nor v\($0.version) was" } ?? "the version was not") trained on (\(goods.count)) and defect images (\(defects.count)); upload more to the product's datasets")
        }
        let samples: [LabelledImage] = (goods + defects).map { item in
            LabelledImage(image: .deferred(name: "dataset item \(item.id)") { [blobs] in try blobs.get(item.imageBlob) },
                          mask: item.maskBlob.map { mask in
                              .deferred(name: "mask of dataset item \(item.id)") { [blobs] in try blobs.get(mask) }
                          },
                          label: item.kind == .good ? .good : .defect,
                          defectType: item.kind == .good ? "good" : (item.label.isEmpty ? "defect" : item.label))
        }
        let scorer = try ActiveModels.scorer(file: try blobs.url(of: version.modelBlob), threshold: version.threshold,
                                             provenance: version.thresholdProvenance, name: "v\(version.version)",
                                             version: Int(version.version), weights: weights)
        let run = try PatchCoreEvaluator.evaluate(scorer: scorer, images: samples, fitSeconds: 0, progress: { progress.set($0) })
        var metrics = try JSONSerialization.jsonObject(with: JSONEncoder().encode(run.report)) as? [String: Any] ?? [:]
        metrics["n_good"] = goods.count
        metrics["n_defect"] = defects.count
        metrics["n_defect_with_mask"] = defects.filter { $0.maskBlob != nil }.count
        metrics["evaluated_by_job"] = job.id
        if let other { metrics["common_with"] = other.version }
        // What the Models page draws: each image's score (the worst cases link to their dataset images) and the
        // ROC and precision-recall curves, computed here by the same metrics code as the numbers above.
        let byName = Dictionary(uniqueKeysWithValues: (goods + defects).map { ("dataset item \($0.id)", $0) })
        // The worst cases the page shows (the good images scored highest, the defects scored lowest) get their
        // heatmap overlays, scored again here: the evaluation keeps scores, not maps.
        let worstGood = run.records.filter { $0.label == "good" }.sorted { $0.score > $1.score }.prefix(Self.worstCasesShown)
        let worstDefects = run.records.filter { $0.label != "good" }.sorted { $0.score < $1.score }.prefix(Self.worstCasesShown)
        var overlayOf: [String: String] = [:]
        for r in worstGood + worstDefects {
            guard let item = byName[r.image] else { continue }
            let p = try scorer.predict(.encoded(try blobs.get(item.imageBlob), name: r.image))
            overlayOf[r.image] = try blobs.put(ImageFile.encodePNG(HeatmapRenderer.overlay(p), name: "overlay of \(r.image)"))
        }
        metrics["images"] = run.records.compactMap { r -> [String: Any]? in
            guard let item = byName[r.image] else { return nil }
            var entry: [String: Any] = ["dataset_item_id": item.id, "image_blob": item.imageBlob, "defect_type": r.defectType ?? "defect",
                                        "defect": item.kind != .good, "score": Double(r.score)]
            if let overlay = overlayOf[r.image] { entry["overlay_blob"] = overlay }
            return entry
        }
        let scores = run.records.map(\.score), labels = run.records.map { $0.label == "defect" }
        let roc = try Metrics.rocCurve(scores: scores, labels: labels)
        let pr = try Metrics.precisionRecallCurve(scores: scores, labels: labels)
        metrics["roc"] = ["fpr": roc.fpr, "tpr": roc.tpr]
        metrics["pr"] = ["recall": pr.recall, "precision": pr.precision]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: metrics, options: [.sortedKeys]), as: UTF8.self)
        _ = try await store.setMetrics(modelVersionId: version.id, metrics: json, actor: "job:\(job.id)")
        return json
    }
}

extension JSONDecoder {
    static var snakeCase: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
