import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ImageIO
import InspectionService
import InspectionStore
import PatchCore
import StoreTestSupport

/// A model fitted once per test process on the demo data (MobileNetV2, the weights `make test` fetches), its
/// file's bytes, and demo images to inspect.
enum ServiceFixture {
    struct Shared: Sendable {
        /// The demo data set (MVTec layout) and the fitted model's file in it.
        let root: URL
        let modelPath: URL
        let modelFile: Data
        let good: [Data]
        let defects: [Data]
    }

    private static let cached: Result<Shared, any Error> = Result {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("patchcore-service-\(UUID().uuidString)")
        let data = try DemoDataset.generate(at: root, seed: 7, trainCount: 20, testGoodCount: 4, testDefectCount: 4)
        var config = try PatchCorePipeline.defaultConfig(backbone: "mobilenet_v2")
        config.coresetRatio = 0.05
        let extractor = try FeatureExtractor(config: config, weights: WeightsCatalog.locate("mobilenet_v2"))
        let fit = try PatchCoreTrainer.fit(extractor: extractor, good: ImageSource.files(data.train.map(\.image)))
        let file = root.appendingPathComponent("model.safetensors")
        try ModelFile.write(fit.model, to: file)
        let test = data.test
        return Shared(root: root, modelPath: file, modelFile: try Data(contentsOf: file),
                      good: try test.filter { $0.label == .good }.map { try Data(contentsOf: $0.image) },
                      defects: try test.filter { $0.label == .defect }.map { try Data(contentsOf: $0.image) })
    }

    static func shared() throws -> Shared { try cached.get() }
}

/// A server on loopback (a free port) over a fresh database, with one key per role.
struct ServiceHarness: Sendable {
    let server: InspectionServer
    let admin: String
    let expert: String
    let `operator`: String

    static func with<T: Sendable>(_ backend: Backend, configure: (inout ServiceConfiguration) -> Void = { _ in },
                                  _ body: @Sendable (ServiceHarness, any TestClientProtocol) async throws -> T) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var database: (url: String, name: String)? = nil
        if backend == .postgres { database = try await TestDatabases.newPostgresDatabase() }
        var configuration = ServiceConfiguration(dataDirectory: folder, databaseURL: database?.url)
        configuration.port = 0
        configuration.modelRefreshSeconds = 0.2
        configure(&configuration)
        let server = try await InspectionServer(configuration: configuration)
        let harness = ServiceHarness(
            server: server,
            admin: try await server.store.createKey(name: "admin", role: .admin, actor: "test").key,
            expert: try await server.store.createKey(name: "expert", role: .expert, actor: "test").key,
            operator: try await server.store.createKey(name: "operator", role: .operator, actor: "test").key)
        do {
            let result = try await server.application().test(.ahc(.http)) { client in try await body(harness, client) }
            await server.store.close()
            if let database { await TestDatabases.dropPostgresDatabase(database.name) }
            return result
        } catch {
            await server.store.close()
            if let database { await TestDatabases.dropPostgresDatabase(database.name) }
            throw error
        }
    }
}

func auth(_ key: String, _ extra: HTTPFields = [:]) -> HTTPFields {
    var h = extra
    h[.authorization] = "Bearer \(key)"
    return h
}

func jsonHeaders(_ key: String) -> HTTPFields { auth(key, [.contentType: "application/json"]) }

func imageHeaders(_ key: String) -> HTTPFields { auth(key, [.contentType: "image/png"]) }

/// The body as a JSON object (or an empty one when it is not).
func object(_ r: TestResponse) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView))) as? [String: Any] ?? [:]
}

func text(_ r: TestResponse) -> String { String(buffer: r.body) }

func buffer(_ data: Data) -> ByteBuffer { ByteBuffer(bytes: data) }

func buffer(_ string: String) -> ByteBuffer { ByteBuffer(string: string) }

/// Creates product `name`, uploads the fixture model and activates it; returns the version's JSON.
@discardableResult
func deployModel(_ h: ServiceHarness, _ client: any TestClientProtocol, product name: String = "bottle") async throws -> [String: Any] {
    _ = try await client.execute(uri: "/api/v1/products", method: .post, headers: jsonHeaders(h.admin),
                                 body: buffer(#"{"name":"\#(name)","description":"line 1"}"#))
    let model = try ServiceFixture.shared().modelFile
    let version = try await client.execute(uri: "/api/v1/products/\(name)/models", method: .post,
                                           headers: auth(h.admin, [.contentType: "application/octet-stream"]),
                                           body: buffer(model))
    guard version.status == .created else { throw TestDatabaseError("model upload: \(version.status) \(text(version))") }
    let number = object(version)["version"] as! Int
    let activated = try await client.execute(uri: "/api/v1/products/\(name)/models/\(number)/activate", method: .post,
                                             headers: auth(h.admin))
    guard activated.status == .ok else { throw TestDatabaseError("activate: \(activated.status) \(text(activated))") }
    return object(activated)
}
