import Foundation
import InspectionStore
import Logging
import PatchCore

/// The model version that inspects each product, loaded and ready. The store says which version is active (and its
/// threshold); this replica loads that version's file from the blob store into PatchCore's `ModelStore`, which
/// swaps it in atomically: an inspection in flight finishes on the scorer it took, later ones get the new one.
/// `refresh` (every `modelRefreshSeconds`) picks up activations and threshold changes made through any replica.
actor ActiveModels {
    struct Loaded: Sendable {
        var version: ModelVersion
        var scorer: PatchCoreScorer
    }

    private let store: InspectionStore
    private let blobs: BlobStore
    private let weights: URL?
    private let search: SearchMethod
    private let logger: Logger
    private var loaded: [Int64: Loaded] = [:]
    /// Versions that failed to load, so a broken file is reported once per change, not every refresh.
    private var failed: [Int64: String] = [:]

    init(store: InspectionStore, blobs: BlobStore, weights: URL?, search: SearchMethod = .exact, logger: Logger) {
        self.store = store
        self.blobs = blobs
        self.weights = weights
        self.search = search
        self.logger = logger
    }

    func current(productId: Int64) -> Loaded? { loaded[productId] }

    /// Products whose active version this replica has not loaded (empty = ready).
    func missing() async throws -> [String] {
        var out: [String] = []
        for product in try await store.products() where product.activeModelId != nil {
            if loaded[product.id]?.version.id != product.activeModelId { out.append(product.name) }
        }
        return out
    }

    /// Reads and checks a model file with `PatchCoreScorer.load`, as `patchcore predict` does; `threshold`, when
    /// given and different from the file's, replaces it (a threshold set through the API lives in the store, not in
    /// the file) on a scorer that reuses the loaded extractor.
    static func scorer(file: URL, threshold: Double?, provenance: String, name: String, version: Int,
                       weights: URL?, search: SearchMethod = .exact) throws -> PatchCoreScorer {
        let loaded = try PatchCoreScorer.load(file, weights: weights, name: name, version: version, search: search)
        guard let threshold, Double(loaded.model.calibration.threshold) != threshold else { return loaded }
        var model = loaded.model
        try model.setThreshold(Float(threshold), provenance: ThresholdProvenance(
            rule: .manual, images: 0, source: "service: \(provenance)", estimator: "set through the API"))
        return try PatchCoreScorer(model: model, extractor: loaded.extractor, name: name, version: version, search: search)
    }

    /// Loads `version` (off this actor) and makes it current for its product.
    func load(_ version: ModelVersion) async throws {
        install(try await prepare(version))
    }

    /// Makes `version` current without reading its file again when the scorer already loaded for its product is
    /// that version at that threshold (only the record changed, e.g. by its activation); loads it otherwise.
    func adopt(_ version: ModelVersion) async throws {
        if let current = loaded[version.productId], current.version.id == version.id,
           current.version.threshold == version.threshold {
            loaded[version.productId] = Loaded(version: version, scorer: current.scorer)
            return
        }
        try await load(version)
    }

    private func install(_ prepared: Loaded) {
        let version = prepared.version
        loaded[version.productId] = prepared
        failed[version.id] = nil
    }

    /// The scorer of `version`, read, checked and warmed up off this actor.
    private func prepare(_ version: ModelVersion) async throws -> Loaded {
        let file = try blobs.url(of: version.modelBlob)
        let (weights, search) = (self.weights, self.search)
        let (scorer, warmUp) = try await Task.detached {
            let scorer = try Self.scorer(file: file, threshold: version.threshold, provenance: version.thresholdProvenance,
                                         name: "model version \(version.id)", version: Int(version.version),
                                         weights: weights, search: search)
            // The first inspection after an activation would otherwise pay for the first touch of the buffers.
            return (scorer, Result { try scorer.warmUp() })
        }.value
        if case let .failure(error) = warmUp {
            logger.warning("model version \(version.id): warm-up failed: \(error)")
        }
        logger.info("model loaded", metadata: ["product_id": "\(version.productId)", "version": "\(version.version)",
                                               "threshold": "\(version.threshold)",
                                               "warm_up_ms": "\((try? warmUp.get()).map { Int($0 * 1000) } ?? -1)"])
        return Loaded(version: version, scorer: scorer)
    }

    /// Brings every product to its active version (and threshold) as the store has them now.
    func refresh() async throws {
        for product in try await store.products() {
            guard let activeId = product.activeModelId else {
                loaded[product.id] = nil
                continue
            }
            let version = try await store.modelVersion(id: activeId)
            if let current = loaded[product.id], current.version == version { continue }
            do {
                let prepared = try await prepare(version)
                // Loading takes a while, and the actor serves other calls meanwhile: an activation through this
                // replica (a fit job, the API) may have made another version current. Only what the store still
                // holds active is installed; anything else waits for the next refresh.
                guard try await store.product(id: product.id).activeModelId == version.id,
                      try await store.modelVersion(id: version.id) == version else { continue }
                install(prepared)
            } catch {
                let text = "\(error)"
                if failed[version.id] != text {
                    failed[version.id] = text
                    logger.error("cannot load model version \(version.id) of \(product.name): \(text)")
                }
            }
        }
    }
}
