import Foundation
import HTTPTypes
import Hummingbird
import InspectionStore
import NIOCore
import NIOFoundationCompat
import Prometheus

/// `/metrics` in Prometheus's text format (swift-prometheus): requests by route, method and status with their
/// durations, inspections by decision and their latency, overload refusals, the inference queue and job states.
final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let overloads: Counter
    private let inspectLatency: ValueHistogram
    private let queueWaiting: Gauge
    private let queueRunning: Gauge

    init() {
        overloads = registry.makeCounter(descriptor: .init(
            namespace: "patchcore", metricName: "inspections_refused_overload", unitName: "total",
            helpText: "Inspections answered 503 because every worker was busy and the queue full."), labels: [])
        inspectLatency = registry.makeValueHistogram(descriptor: .init(
            namespace: "patchcore", metricName: "inspection_latency", unitName: "seconds",
            helpText: "From request to committed inspection."), labels: [],
            buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5])
        queueWaiting = registry.makeGauge(descriptor: .init(
            namespace: "patchcore", metricName: "inference_queue", unitName: "depth",
            helpText: "Inspections waiting for an inference worker."), labels: [])
        queueRunning = registry.makeGauge(descriptor: .init(
            namespace: "patchcore", metricName: "inference_running", unitName: "count",
            helpText: "Inspections being scored."), labels: [])
    }

    func inspected(decision: InspectionDecision, latencyMs: Double) {
        registry.makeCounter(descriptor: .init(namespace: "patchcore", metricName: "inspections", unitName: "total",
                                               helpText: "Committed inspections by decision."),
                             labels: [("decision", decision.rawValue)]).increment()
        inspectLatency.record(latencyMs / 1000)
    }

    func rejectedOverload() { overloads.increment() }

    /// outcome: delivered, retry (will be tried again) or failed (given up).
    func webhookAttempt(outcome: String) {
        registry.makeCounter(descriptor: .init(namespace: "patchcore", metricName: "webhook_attempts", unitName: "total",
                                               helpText: "Webhook delivery attempts by outcome."),
                             labels: [("outcome", outcome)]).increment()
    }

    func request(route: String, method: String, status: Int, seconds: Double) {
        registry.makeCounter(descriptor: .init(namespace: "patchcore", metricName: "http_requests", unitName: "total",
                                               helpText: "HTTP requests by route, method and status."),
                             labels: [("route", route), ("method", method), ("status", String(status))]).increment()
        registry.makeValueHistogram(descriptor: .init(namespace: "patchcore", metricName: "http_request_duration",
                                                      unitName: "seconds", helpText: "HTTP request durations by route."),
                                    labels: [("route", route), ("method", method)],
                                    buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 5]).record(seconds)
    }

    /// The exposition, with the gauges read now.
    func render(gate: InferenceGate, store: InspectionStore) async -> String {
        let depth = await gate.depth
        queueWaiting.set(Double(depth.waiting))
        queueRunning.set(Double(depth.running))
        if let jobs = try? await store.jobs(limit: 1000) {
            for state in JobState.allCases {
                registry.makeGauge(descriptor: .init(namespace: "patchcore", metricName: "jobs", unitName: "count",
                                                     helpText: "Jobs by state (the latest 1000)."),
                                   labels: [("state", state.rawValue)]).set(Double(jobs.filter { $0.state == state }.count))
            }
        }
        return registry.emitToString()
    }
}

/// Counts every request by the route it matched (never the raw path, so ids do not explode the label set).
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = ServiceContext
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: ServiceContext,
                next: (Request, ServiceContext) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        func seconds() -> Double {
            let d = ContinuousClock.now - started
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        do {
            let response = try await next(request, context)
            metrics.request(route: context.endpointPath ?? "unmatched", method: request.method.rawValue,
                            status: response.status.code, seconds: seconds())
            return response
        } catch let error as HTTPResponseError {
            metrics.request(route: context.endpointPath ?? "unmatched", method: request.method.rawValue,
                            status: error.status.code, seconds: seconds())
            throw error
        } catch {
            metrics.request(route: context.endpointPath ?? "unmatched", method: request.method.rawValue,
                            status: 500, seconds: seconds())
            throw error
        }
    }
}
