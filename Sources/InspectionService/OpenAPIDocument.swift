import Defects
import Foundation
import InspectionStore
import PatchCore

/// The OpenAPI 3.1 document served at `/api/v1/openapi.json`, built from the route table (paths, parameters,
/// bodies, roles) and the schemas below, which describe the JSON the handlers send. A test compares the document
/// with the router and validates live answers against these schemas.
enum OpenAPIDocument {
    static func json(routes: [APIRoute]) -> Data {
        (try? JSONSerialization.data(withJSONObject: document(routes: routes), options: [.sortedKeys, .prettyPrinted])) ?? Data()
    }

    static func document(routes: [APIRoute]) -> [String: Any] {
        var paths: [String: [String: Any]] = [:]
        for route in routes {
            var operation: [String: Any] = ["operationId": route.operationId, "summary": route.summary]
            var parameters: [[String: Any]] = []
            for name in route.pathParameters {
                let schema: [String: Any]
                switch name {
                case "id", "version": schema = ["type": "integer", "minimum": 1, "maximum": Int64.max]
                case "sha256": schema = ["type": "string", "pattern": "^[0-9a-f]{64}$"]
                case "kind": schema = ["type": "string", "enum": ["good", "defect"]]
                default: schema = ["type": "string"]
                }
                parameters.append(["name": name, "in": "path", "required": true, "schema": schema])
            }
            for q in route.query {
                parameters.append(["name": q.name, "in": "query", "required": false, "description": q.description,
                                   "schema": querySchema(q.type)])
            }
            if !parameters.isEmpty { operation["parameters"] = parameters }
            if let body = route.body {
                var content: [String: Any] = [:]
                for type in body.mediaTypes {
                    let schema: [String: Any] = body.schema.map { ref($0) } ?? ["type": "string", "format": "binary"]
                    content[type] = ["schema": schema]
                }
                // The evaluate route's body is optional (`common_with`); every other body is needed.
                operation["requestBody"] = ["required": route.operationId != "startEvaluate", "content": content]
            }
            var responses: [String: Any] = [:]
            let successSchema: [String: Any] = route.success.schema.map { ref($0) } ?? ["type": "string", "format": "binary"]
            // An event stream's events are described in the summary; a schema here would describe the whole body.
            let successContent: [String: Any] = route.success.mediaType == "text/event-stream"
                ? [route.success.mediaType: [String: Any]()] : [route.success.mediaType: ["schema": successSchema]]
            var success: [String: Any] = ["description": "success", "content": successContent]
            if route.operationId == "createProduct" {
                // The new product's name is the {product} of every product route (clients and test generators follow these).
                var links: [String: Any] = [:]
                for other in routes where other.pathParameters == ["product"] {
                    links[other.operationId] = ["operationId": other.operationId, "parameters": ["product": "$response.body#/name"]]
                }
                success["links"] = links
            }
            responses[String(route.success.status)] = success
            if route.role != nil {
                operation["security"] = [["apiKey": [String]()]]
                operation["x-required-role"] = route.role!.rawValue
                responses["401"] = errorResponse("no API key, or an unknown or revoked one")
                responses["403"] = errorResponse("the key's role is below \(route.role!.rawValue)")
                responses["400"] = errorResponse("a malformed parameter or body, named in the message")
            }
            if !route.pathParameters.isEmpty || route.query.contains(where: { $0.name == "product" }) {
                responses["404"] = errorResponse("no such record")
            }
            if route.body != nil { responses["413"] = errorResponse("the body is larger than --max-upload-mb") }
            if route.operationId == "uploadModel" { responses["422"] = errorResponse("not a usable model file (the message says why)") }
            if ["inspect", "uploadDatasetImage", "uploadDatasetBatch"].contains(route.operationId) {
                responses["415"] = errorResponse("not a PNG or JPEG image")
                responses["422"] = errorResponse("a corrupt image")
            }
            if route.operationId == "inspect" {
                responses["409"] = errorResponse("the product has no active model")
                responses["503"] = errorResponse("every inference worker is busy and the queue is full (Retry-After), or the store is unavailable")
            }
            if ["createProduct", "createKey", "review", "undoReview", "cancelJob", "removeWebhook", "revokeKey",
                 "removePromptPreset", "restorePromptPreset"].contains(route.operationId) {
                responses["409"] = errorResponse("a name that exists, or a record in a state that refuses the change")
            }
            if route.operationId == "ready" { responses["503"] = ["description": "not ready", "content": ["application/json": ["schema": ref("Health")]]] }
            operation["responses"] = responses
            paths[route.path, default: [:]][route.method.rawValue.lowercased()] = operation
        }
        return [
            "openapi": "3.1.0",
            "info": ["title": "PatchCore inspection service", "version": "1.0.0",
                     "description": "Inspect parts, review decisions, manage models and datasets. Keys: Authorization: Bearer <key>; roles operator < expert < admin."],
            "paths": paths,
            "components": [
                "securitySchemes": ["apiKey": ["type": "http", "scheme": "bearer"]],
                "schemas": schemas,
            ],
        ]
    }

    /// The schema of a query parameter type of `APIRoute.query`.
    static func querySchema(_ type: String) -> [String: Any] {
        let parts = type.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return ["type": type] }
        let bounds = parts[1].components(separatedBy: "...").map { Int($0) }
        switch parts[0] {
        case "enum": return ["type": "string", "enum": parts[1].split(separator: "|").map(String.init)]
        case "integer":
            var schema: [String: Any] = ["type": "integer"]
            if let low = bounds.first ?? nil { schema["minimum"] = low }
            if bounds.count > 1, let high = bounds[1] { schema["maximum"] = high }
            return schema
        case "text":
            var schema: [String: Any] = ["type": "string", "pattern": "^[^\\u0000-\\u001f\\u007f]*$"]
            if let low = bounds.first ?? nil { schema["minLength"] = low }
            if bounds.count > 1, let high = bounds[1] { schema["maxLength"] = high }
            return schema
        default: return ["type": parts[0]]
        }
    }

    static func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }

    static func errorResponse(_ description: String) -> [String: Any] {
        ["description": description, "content": ["application/json": ["schema": ref("Error")]]]
    }

    // MARK: Schemas

    private static var int: [String: Any] { ["type": "integer"] }
    private static var num: [String: Any] { ["type": "number"] }
    private static var str: [String: Any] { ["type": "string"] }
    private static var bool: [String: Any] { ["type": "boolean"] }
    /// Product and key names (`InspectionStore.validateName`).
    private static var name: [String: Any] { ["type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$"] }
    private static func nullable(_ s: [String: Any]) -> [String: Any] { ["type": [s["type"]!, "null"]] }
    /// Prompts and defect classes (`PromptText`): no control characters.
    private static func printable(maxLength: Int, nullable: Bool = false) -> [String: Any] {
        ["type": nullable ? ["string", "null"] as Any : "string", "minLength": 1, "maxLength": maxLength,
         "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"]
    }
    private static var paddingCrop: [String: Any] {
        ["type": ["integer", "null"], "minimum": 0, "maximum": PromptText.maxPaddingMaskCrop]
    }
    private static func enumeration(_ values: [String]) -> [String: Any] { ["type": "string", "enum": values] }
    private static func object(_ properties: [String: [String: Any]], optional: Set<String> = []) -> [String: Any] {
        ["type": "object", "properties": properties,
         "required": properties.keys.filter { !optional.contains($0) }.sorted()]
    }
    private static func list(_ item: String) -> [String: Any] {
        object(["items": ["type": "array", "items": ref(item)]])
    }

    static var schemas: [String: Any] {
        [
            "Error": object(["error": object(["message": str])]),
            "Health": object(["status": str, "store": str, "missing_models": ["type": "array", "items": str]],
                             optional: ["store", "missing_models"]),
            "Product": object(["id": int, "name": str, "description": str, "active_model_id": nullable(int),
                               "created_ms": int, "placement_blob": nullable(str)], optional: ["active_model_id", "placement_blob"]),
            "ProductList": list("Product"),
            "NewProduct": object(["name": name, "description": nullable(str)], optional: ["description"]),
            "ModelVersion": object([
                "id": int, "product_id": int, "version": int, "model_blob": str, "backbone": str, "config": str,
                "metrics": nullable(str), "threshold": num, "threshold_provenance": str, "created_ms": int,
                "created_by": str, "activated_ms": nullable(int), "activated_by": nullable(str),
                "train_items": nullable(str),
            ], optional: ["metrics", "activated_ms", "activated_by", "train_items"]),
            "ModelVersionList": list("ModelVersion"),
            "ThresholdRequest": object(["threshold": num, "false_reject_rate": ["type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1]],
                                       optional: ["threshold", "false_reject_rate"]),
            "InspectionResult": object([
                "id": int, "product": str, "score": num, "normalized_score": num,
                "decision": enumeration(["ok", "anomalous"]), "threshold": num, "model_version": int,
                "model_version_id": int, "latency_ms": num, "source": str, "created_ms": int, "image_url": str,
                "heatmap_url": nullable(str), "overlay_url": nullable(str),
            ], optional: ["heatmap_url", "overlay_url"]),
            "Inspection": object([
                "id": int, "product_id": int, "model_version_id": int, "image_blob": str, "heatmap_blob": nullable(str),
                "overlay_blob": nullable(str), "score": num, "normalized_score": num,
                "decision": enumeration(["ok", "anomalous"]), "threshold": num, "latency_ms": num, "source": str,
                "created_ms": int, "review_id": nullable(int),
            ], optional: ["heatmap_blob", "overlay_blob", "review_id"]),
            "InspectionCounts": object(["from_ms": int, "parts": int, "ng": int, "last_id": int]),
            "InspectionPage": object(["items": ["type": "array", "items": ref("Inspection")], "next_cursor": nullable(int)],
                                     optional: ["next_cursor"]),
            "ReviewRequest": object(["verdict": enumeration(["confirm", "good", "defect"]), "reason": ["type": "string", "maxLength": 2000],
                                     "mask_base64": ["type": "string", "minLength": 4, "pattern": "^[A-Za-z0-9+/]+={0,2}$",
                                                     "contentEncoding": "base64", "contentMediaType": "image/png"]],
                                    optional: ["reason", "mask_base64"]),
            "Review": object([
                "id": int, "inspection_id": int, "verdict": enumeration(["confirm", "good", "defect"]),
                "mask_blob": nullable(str), "reason": str, "reviewer": str, "created_ms": int,
                "undone_ms": nullable(int), "undone_by": nullable(str), "dataset_item_id": nullable(int),
            ], optional: ["mask_blob", "undone_ms", "undone_by", "dataset_item_id"]),
            "ReviewList": list("Review"),
            "DatasetItem": object([
                "id": int, "product_id": int, "kind": enumeration(["good", "defect", "synthetic"]), "image_blob": str,
                "mask_blob": nullable(str), "label": str, "origin": str, "origin_ref": nullable(str),
                "verdict": enumeration(["pending", "accepted", "rejected"]), "details": nullable(str), "created_ms": int,
                "created_by": str, "removed_ms": nullable(int), "removed_by": nullable(str),
            ], optional: ["mask_blob", "origin_ref", "details", "removed_ms", "removed_by"]),
            "DatasetItemList": list("DatasetItem"),
            "DatasetBatchResult": object(["items": ["type": "array", "items": ref("DatasetItem")],
                                          "skipped": ["type": "array", "items": str]]),
            // Every field may be left out or null (the default then applies).
            "FitJobRequest": object(["backbone": ["type": ["string", "null"], "enum": BackboneRegistry.names.map { $0 as Any } + [NSNull()]],
                                     "coreset_ratio": ["type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 1],
                                     "seed": ["type": ["integer", "null"], "minimum": 0],
                                     "false_reject_rate": ["type": ["number", "null"], "exclusiveMinimum": 0, "exclusiveMaximum": 1],
                                     "activate": ["type": ["boolean", "null"]],
                                     "positives": ["type": ["boolean", "null"]],
                                     "taps": ["type": ["array", "null"], "minItems": 1, "maxItems": 8,
                                              "items": ["type": "string", "minLength": 1, "maxLength": 64]],
                                     "size": ["type": ["string", "null"], "pattern": "^[0-9]{2,4}x[0-9]{2,4}$"],
                                     "geometry": ["type": ["string", "null"], "maxLength": 40,
                                                  "pattern": "^([0-9]{2,4}x[0-9]{2,4}|resize:[0-9]{2,4}:crop:[0-9]{2,4}|short-side:[0-9]{2,4}|native(:[0-9]*\\.?[0-9]+)?)$"],
                                     "tile": ["type": ["string", "null"], "pattern": "^[0-9]{2,4}x[0-9]{2,4}$"],
                                     "tile_overlap": ["type": ["integer", "null"], "minimum": 0, "maximum": 4096, "multipleOf": 32],
                                     "normal_from_defects": ["type": ["boolean", "null"]],
                                     "defect_margin": ["type": ["integer", "null"], "minimum": DefectNormalAreas.marginRange.lowerBound,
                                                       "maximum": DefectNormalAreas.marginRange.upperBound]],
                                    optional: ["backbone", "coreset_ratio", "seed", "false_reject_rate", "activate", "positives", "taps", "size", "geometry",
                                               "tile", "tile_overlap", "normal_from_defects", "defect_margin"]),
            "SynthesizeJobRequest": object(["generator": enumeration(SynthesizeJobParams.generators),
                                            "count": ["type": "integer", "minimum": 1, "maximum": 1000],
                                            "seed": ["type": ["integer", "null"], "minimum": 0],
                                            "methods": ["type": ["array", "null"], "minItems": 1,
                                                        "items": enumeration(ClassicalMethod.allCases.map(\.rawValue))],
                                            "prompts": ["type": ["array", "null"], "minItems": 1, "maxItems": SynthesizeJobParams.maxPrompts,
                                                        "items": ["type": "string", "minLength": 1, "maxLength": 1000]],
                                            "negative_prompt": ["type": ["string", "null"], "minLength": 1, "maxLength": 1000],
                                            "steps": ["type": ["integer", "null"], "minimum": 1, "maximum": 1000],
                                            "guidance_scale": ["type": ["number", "null"], "minimum": 0, "maximum": 100],
                                            "strength": ["type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 1],
                                            "padding_mask_crop": paddingCrop,
                                            "label": ["type": ["string", "null"], "maxLength": 64],
                                            "good_item_id": ["type": ["integer", "null"], "minimum": 1],
                                            "mask_base64": ["type": ["string", "null"], "minLength": 4, "pattern": "^[A-Za-z0-9+/]+={0,2}$"]],
                                           optional: ["seed", "methods", "prompts", "negative_prompt", "steps", "guidance_scale", "strength", "padding_mask_crop", "label",
                                                      "good_item_id", "mask_base64"]),
            "Calibration": object(["version": int, "threshold": num, "threshold_provenance": str,
                                   "held_out_good_scores": ["type": "array", "items": num],
                                   "reviewed_good_scores": ["type": "array", "items": num],
                                   "reviewed_defect_scores": ["type": "array", "items": num]]),
            "VerdictRequest": object(["verdict": enumeration(SampleVerdict.allCases.map(\.rawValue))]),
            "Job": object([
                "id": int, "kind": str, "product_id": nullable(int), "params": str,
                "state": enumeration(["queued", "running", "succeeded", "failed", "cancelled"]), "stage": str,
                "done": int, "total": int, "log": str, "result": nullable(str), "error": nullable(str),
                "cancel_requested": bool, "attempts": int, "lease_owner": nullable(str), "lease_expires_ms": nullable(int),
                "created_ms": int, "created_by": str, "started_ms": nullable(int), "finished_ms": nullable(int),
            ], optional: ["product_id", "result", "error", "lease_owner", "lease_expires_ms", "started_ms", "finished_ms"]),
            "JobList": list("Job"),
            "AuditEntry": object(["id": int, "at_ms": int, "actor": str, "action": str, "entity": str,
                                  "entity_id": str, "detail": str]),
            "AuditList": list("AuditEntry"),
            "APIKey": object(["id": int, "name": str, "role": enumeration(["operator", "expert", "admin"]),
                              "prefix": str, "created_ms": int, "created_by": str, "revoked_ms": nullable(int)],
                             optional: ["revoked_ms"]),
            "KeyList": list("APIKey"),
            "NewKey": object(["name": name, "role": enumeration(["operator", "expert", "admin"])]),
            "CreatedKey": object(["key": str, "record": ref("APIKey")]),
            "NewWebhook": object(["url": ["type": "string", "format": "uri", "pattern": "^https?://[^/?#]+", "maxLength": 2048]]),
            "Webhook": object(["id": int, "product_id": int, "url": str, "created_ms": int, "created_by": str,
                               "removed_ms": nullable(int), "removed_by": nullable(str), "signed": bool],
                              optional: ["removed_ms", "removed_by"]),
            "CreatedWebhook": object(["id": int, "product_id": int, "url": str, "created_ms": int, "created_by": str,
                                      "removed_ms": nullable(int), "removed_by": nullable(str), "signed": bool,
                                      "signing_secret": str],
                                     optional: ["removed_ms", "removed_by"]),
            "WebhookList": list("Webhook"),
            "WebhookDelivery": object([
                "id": int, "webhook_id": int, "inspection_id": int,
                "state": enumeration(["pending", "delivered", "failed"]), "attempts": int, "next_attempt_ms": int,
                "last_status": nullable(int), "last_error": nullable(str), "lease_owner": nullable(str),
                "lease_expires_ms": nullable(int), "created_ms": int, "finished_ms": nullable(int),
            ], optional: ["last_status", "last_error", "lease_owner", "lease_expires_ms", "finished_ms"]),
            "DeliveryList": list("WebhookDelivery"),
            "NewPromptPreset": object(["defect_class": printable(maxLength: 64),
                                       "prompt": printable(maxLength: PromptText.maxLength),
                                       "negative_prompt": printable(maxLength: PromptText.maxLength, nullable: true),
                                       "steps": ["type": ["integer", "null"], "minimum": 1, "maximum": 1000],
                                       "guidance_scale": ["type": ["number", "null"], "minimum": 0, "maximum": 100],
                                       "strength": ["type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 1],
                                       "padding_mask_crop": paddingCrop,
                                       "seed": ["type": ["integer", "null"], "minimum": 0, "maximum": Int64.max]],
                                      optional: ["negative_prompt", "steps", "guidance_scale", "strength", "padding_mask_crop", "seed"]),
            "PromptPreset": object(["id": int, "product_id": int, "defect_class": str, "prompt": str,
                                    "negative_prompt": nullable(str), "steps": int, "guidance_scale": num, "strength": num,
                                    "padding_mask_crop": nullable(int), "seed": nullable(int), "created_ms": int,
                                    "created_by": str, "removed_ms": nullable(int), "removed_by": nullable(str)],
                                   optional: ["negative_prompt", "padding_mask_crop", "seed", "removed_ms", "removed_by"]),
            "PromptPresetList": list("PromptPreset"),
            "EvaluateRequest": object(["common_with": ["type": ["integer", "null"], "minimum": 1, "maximum": Int64.max]],
                                      optional: ["common_with"]),
            "NewPlacement": object(["mask_base64": ["type": "string", "minLength": 4, "pattern": "^[A-Za-z0-9+/]+={0,2}$"]]),
            "Placement": object(["source": enumeration(["painted", "estimated", "none"]), "mask_blob": nullable(str)],
                                optional: ["mask_blob"]),
        ]
    }
}
