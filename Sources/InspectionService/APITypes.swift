import Foundation
import Hummingbird
import InspectionStore

// What the REST API sends and receives. Store records are sent as they are (snake_case JSON); these are the
// shapes that are not a single record.

/// The answer to `POST /api/v1/products/{product}/inspect`.
struct InspectionResult: Codable, ResponseEncodable {
    var id: Int64
    var product: String
    var score: Double
    var normalizedScore: Double
    var decision: InspectionDecision
    var threshold: Double
    var modelVersion: Int64
    var modelVersionId: Int64
    var latencyMs: Double
    var source: String
    var createdMs: Int64
    var imageUrl: String
    var heatmapUrl: String?
    var overlayUrl: String?
}

struct InspectionCounts: Codable, ResponseEncodable {
    var fromMs: Int64
    var parts: Int
    var ng: Int
    var lastId: Int64
}

struct InspectionPage: Codable, ResponseEncodable {
    var items: [Inspection]
    var nextCursor: Int64?
}

struct ProductList: Codable, ResponseEncodable { var items: [Product] }
struct ModelVersionList: Codable, ResponseEncodable { var items: [ModelVersion] }
struct ReviewList: Codable, ResponseEncodable { var items: [Review] }
struct DatasetItemList: Codable, ResponseEncodable { var items: [DatasetItem] }
struct JobList: Codable, ResponseEncodable { var items: [Job] }
struct AuditList: Codable, ResponseEncodable { var items: [AuditEntry] }
struct KeyList: Codable, ResponseEncodable { var items: [APIKey] }
struct DatasetBatchResult: Codable, ResponseEncodable {
    var items: [DatasetItem]
    /// Files that were not images by name, left out.
    var skipped: [String]
}
struct WebhookList: Codable, ResponseEncodable { var items: [Webhook] }
struct DeliveryList: Codable, ResponseEncodable { var items: [WebhookDelivery] }
struct PromptPresetList: Codable, ResponseEncodable { var items: [PromptPreset] }

extension Product: ResponseEncodable {}
extension ModelVersion: ResponseEncodable {}
extension Inspection: ResponseEncodable {}
extension Review: ResponseEncodable {}
extension DatasetItem: ResponseEncodable {}
extension Job: ResponseEncodable {}
extension APIKey: ResponseEncodable {}
extension Webhook: ResponseEncodable {}
extension PromptPreset: ResponseEncodable {}

/// The add-webhook answer: the record and, this once, the secret its deliveries are signed with.
struct CreatedWebhook: Encodable, ResponseEncodable {
    var webhook: Webhook
    var signingSecret: String?

    enum Keys: String, CodingKey { case signingSecret }

    func encode(to encoder: any Encoder) throws {
        try webhook.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(signingSecret, forKey: .signingSecret)
    }
}

struct NewProductRequest: Codable {
    var name: String
    var description: String?
}

struct ReviewRequest: Codable {
    var verdict: Verdict
    var reason: String?
    /// A PNG or JPEG mask, base64, for a defect verdict.
    var maskBase64: String?
}

/// What places a version's threshold (`GET .../models/{version}/calibration`).
struct Calibration: Codable, ResponseEncodable {
    var version: Int64
    var threshold: Double
    var thresholdProvenance: String
    var heldOutGoodScores: [Double]
    var reviewedGoodScores: [Double]
    var reviewedDefectScores: [Double]
}

/// The expert's verdict on a synthetic sample.
struct VerdictRequest: Codable {
    var verdict: SampleVerdict
}

struct ThresholdRequest: Codable {
    /// A threshold by value...
    var threshold: Double?
    /// ...or the one that rejects this fraction of the model's held-out good images.
    var falseRejectRate: Double?
}

struct EvaluateRequest: Codable {
    /// Another version of the product (its number): the held-out images are those neither version was trained on.
    var commonWith: Int64?
}

struct NewPlacementRequest: Codable {
    var maskBase64: String
}

/// The placement route's answer: where the region comes from and the region itself (a mask blob).
struct PlacementAnswer: Codable, ResponseEncodable {
    var source: ProductPlacement.Source
    var maskBlob: String?
}

struct NewWebhookRequest: Codable {
    var url: String
}

struct NewKeyRequest: Codable {
    var name: String
    var role: Role
}

struct CreatedKey: Codable, ResponseEncodable {
    /// Shown once; only its hash is stored.
    var key: String
    var record: APIKey
}

struct Health: Codable, ResponseEncodable {
    var status: String
    var store: String?
    var missingModels: [String]?
}
