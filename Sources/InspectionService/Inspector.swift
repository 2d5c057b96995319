import Foundation
import HTTPTypes
import Hummingbird
import ImageIO
import InspectionStore
import PatchCore

/// One inspection from bytes to a committed record, shared by the HTTP route and the hot folder: score on the
/// product's active model through the inference gate, store the image, heatmap and overlay as blobs, then commit
/// the row that points at them (a crash in between leaves an unreferenced blob, never a row without its image).
struct Inspector: Sendable {
    let store: InspectionStore
    let blobs: BlobStore
    let models: ActiveModels
    let gate: InferenceGate
    let metrics: ServiceMetrics

    /// Errors are HTTP errors (409 no active model, 503 not loaded or overloaded) or the library's image errors,
    /// which `ErrorMiddleware.httpError` maps, so both callers report them the same way.
    func inspect(product: Product, data: Data, source: String,
                 started: ContinuousClock.Instant = .now) async throws -> InspectionResult {
        guard let active = await models.current(productId: product.id) else {
            if product.activeModelId == nil {
                throw HTTPError(.conflict, message: "product '\(product.name)' has no active model; upload one and activate it")
            }
            throw HTTPError(.serviceUnavailable, headers: [.retryAfter: "5"],
                            message: "the model of product '\(product.name)' is not loaded yet")
        }
        guard !data.isEmpty else { throw HTTPError(.badRequest, message: "the image is empty; send a PNG or JPEG image") }
        let scorer = active.scorer
        let scored: (Prediction, Data, Data)
        do {
            scored = try await gate.run {
                let p = try scorer.predict(.encoded(data, name: "upload"))
                let scale = HeatmapRenderer.scale(of: p)
                // RGBA on the model's scale: the page lays it over the image and outlines its opaque red (the region).
                let heatmap = try ImageFile.encodePNG(Heatmap.layer(p.mapOnOriginal(), scale: scale), name: "heatmap")
                let overlay = try ImageFile.encodePNG(HeatmapRenderer.overlay(p), name: "overlay")
                return (p, heatmap, overlay)
            }
        } catch is InferenceGate.Overloaded {
            metrics.rejectedOverload()
            throw HTTPError(.serviceUnavailable, headers: [.retryAfter: "1"],
                            message: "all \(gate.workers) inference workers are busy and \(gate.queue) inspections wait; retry")
        }
        let (p, heatmapPNG, overlayPNG) = scored
        let imageBlob = try blobs.put(data)
        let heatmapBlob = try blobs.put(heatmapPNG)
        let overlayBlob = try blobs.put(overlayPNG)
        let elapsed = ContinuousClock.now - started
        let latency = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let inspection = try await store.recordInspection(NewInspection(
            productId: product.id, modelVersionId: active.version.id, imageBlob: imageBlob, heatmapBlob: heatmapBlob,
            overlayBlob: overlayBlob, score: Double(p.score), normalizedScore: Double(p.normalizedScore),
            decision: p.isAnomalous ? .anomalous : .ok, threshold: Double(p.threshold), latencyMs: latency, source: source))
        metrics.inspected(decision: inspection.decision, latencyMs: latency)
        return Self.result(inspection, product: product, version: active.version)
    }

    static func result(_ i: Inspection, product: Product, version: ModelVersion) -> InspectionResult {
        InspectionResult(id: i.id, product: product.name, score: i.score, normalizedScore: i.normalizedScore,
                         decision: i.decision, threshold: i.threshold, modelVersion: version.version,
                         modelVersionId: version.id, latencyMs: i.latencyMs, source: i.source, createdMs: i.createdMs,
                         imageUrl: "/api/v1/blobs/\(i.imageBlob)", heatmapUrl: i.heatmapBlob.map { "/api/v1/blobs/\($0)" },
                         overlayUrl: i.overlayBlob.map { "/api/v1/blobs/\($0)" })
    }
}
