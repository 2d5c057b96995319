import Foundation
import HTTPTypes
import Hummingbird
import InspectionStore
import Logging
import NIOCore
import NIOFoundationCompat
import PatchCore
import ServiceLifecycle
import TensorCore

/// `patchcore serve`: the store, the blobs, the loaded models and the HTTP API in one process. `run` serves until
/// SIGTERM / SIGINT (swift-service-lifecycle): the listener closes, requests in flight finish, then the store
/// closes, so nothing is half-written.
public final class InspectionServer: Sendable {
    public let configuration: ServiceConfiguration
    public let store: InspectionStore
    public let blobs: BlobStore
    let models: ActiveModels
    let gate: InferenceGate
    let metrics = ServiceMetrics()
    let logger: Logger

    /// Opens the store (migrating it) and the blob folder, and loads every product's active model.
    public init(configuration: ServiceConfiguration, logger: Logger = Logger(label: "patchcore.serve")) async throws {
        self.configuration = configuration
        self.logger = logger
        try FileManager.default.createDirectory(at: configuration.dataDirectory, withIntermediateDirectories: true)
        store = try await InspectionStore.open(databaseURL: configuration.databaseURL,
                                               dataDirectory: configuration.dataDirectory, logger: logger)
        blobs = try BlobStore(root: configuration.dataDirectory.appendingPathComponent("blobs"))
        models = ActiveModels(store: store, blobs: blobs, weights: configuration.weights, search: configuration.search,
                              logger: logger)
        gate = InferenceGate(workers: configuration.inferenceWorkers, queue: configuration.inferenceQueue)
        InputLimits.current = configuration.limits
        try await models.refresh()
    }

    var api: InspectionAPI {
        InspectionAPI(configuration: configuration, store: store, blobs: blobs, models: models, gate: gate, metrics: metrics)
    }

    /// The router with every route of `InspectionAPI.routes` and `/metrics`, each wrapped in its role check.
    public func router() -> Router<ServiceContext> {
        let router = Router(context: ServiceContext.self)
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: ErrorMiddleware(dataDirectory: configuration.dataDirectory))
        router.add(middleware: APIKeyMiddleware(store: store))
        for route in api.routes {
            let role = route.role
            let handler = route.handler
            router.on(RouterPath(route.routerPath), method: route.method) { request, context -> Response in
                if let role { _ = try context.require(role) }
                return try await handler(request, context)
            }
        }
        // A method a path does not have is a 405 naming the ones it has (not a 404, which would say the path is wrong).
        var methodsByPath: [String: [HTTPRequest.Method]] = [:]
        for route in api.routes { methodsByPath[route.routerPath, default: []].append(route.method) }
        for (path, methods) in methodsByPath {
            let allow = methods.map(\.rawValue).joined(separator: ", ")
            for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete, .options, .trace, HTTPRequest.Method("QUERY")!]
            where !methods.contains(method) {
                router.on(RouterPath(path), method: method) { _, _ -> Response in
                    throw HTTPError(.methodNotAllowed, headers: [.allow: allow], message: "this path takes \(allow)")
                }
            }
        }
        WebApp().add(to: router)
        let metrics = self.metrics, gate = self.gate, store = self.store
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            let text = await metrics.render(gate: gate, store: store)
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        return router
    }

    /// The Hummingbird application, with the model refresher beside it as a service.
    public func application(onListening: @escaping @Sendable (Int) async -> Void = { _ in })
    -> some ApplicationProtocol {
        Application(
            router: router(),
            server: .http1(configuration: .init(idleTimeout: .nanoseconds(Int64(configuration.idleTimeoutSeconds * 1e9)))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                 serverName: "patchcore"),
            services: [ModelRefresher(models: models, seconds: configuration.modelRefreshSeconds, logger: logger)]
                + configuration.watch.map {
                    HotFolder(folder: $0.folder, productName: $0.product, inspector: api.inspector,
                              maxBytes: configuration.maxUploadBytes, pollSeconds: configuration.hotFolderPollSeconds,
                              logger: logger)
                }
                + [WebhookDispatcher(store: store, owner: configuration.replicaName,
                                     pollSeconds: configuration.webhookPollSeconds,
                                     retrySeconds: configuration.webhookRetrySeconds,
                                     maxAttempts: configuration.webhookMaxAttempts,
                                     timeoutSeconds: configuration.webhookTimeoutSeconds, metrics: metrics, logger: logger)]
                + (0..<configuration.jobWorkers).map { n in
                    JobWorker(store: store, blobs: blobs, models: models, owner: "\(configuration.replicaName)/\(n)",
                              leaseSeconds: configuration.jobLeaseSeconds, pollSeconds: configuration.jobPollSeconds,
                              weights: configuration.weights, featureMemory: configuration.fitFeatureMemory,
                              diffusers: configuration.diffusers, logger: logger)
                },
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Serves until SIGTERM or SIGINT, then closes the store.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let app = application(onListening: onListening)
        do {
            try await app.runService()
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }
}

/// Re-reads the active versions and thresholds every `seconds`, so an activation made through another replica
/// reaches this one within that bound.
struct ModelRefresher: Service {
    let models: ActiveModels
    let seconds: Double
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int(seconds * 1000))) }
            } catch {
                return
            }
            do {
                try await models.refresh()
            } catch {
                logger.warning("model refresh failed: \(error)")
            }
        }
    }
}
