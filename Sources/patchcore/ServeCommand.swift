import ArgumentParser
import Foundation
import Inpainting
import InspectionService
import InspectionStore
import Logging
import PatchCore
import TensorCore

/// `patchcore serve`: the inspection service (InspectionService), and `serve keys` to manage its API keys.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the inspection service: REST API, history in SQLite (default) or PostgreSQL.",
        discussion: """
            Binds to 127.0.0.1 unless --host says otherwise. Every route but /healthz, /readyz, /metrics and
            /api/v1/openapi.json needs an API key (Authorization: Bearer <key>); make the first with
            `patchcore serve keys create --data-dir DIR --name admin --role admin`.
            """,
        subcommands: [Keys.self])

    @OptionGroup var store: StoreOptions

    @Option(help: "Address to listen on (0.0.0.0 for every interface).")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, printed at start).")
    var port: Int = 8080

    @Option(help: "Largest request body in MiB (images, model files); larger ones are answered 413.")
    var maxUploadMb: Int = 32

    @Option(help: "Largest batch dataset upload (multipart or zip of images), in MiB.")
    var maxBatchMb: Int = 512

    @Option(help: "Largest model file uploaded as a new version, in MiB.")
    var maxModelMb: Int = 2048

    @Option(help: "Inspections scored at once (default: cores).")
    var inferenceWorkers: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    @Option(help: "Inspections that may wait for a worker; more are answered 503 with Retry-After.")
    var inferenceQueue: Int = 32

    @Option(help: ArgumentHelp("Hot folder: inspect every PNG / JPEG that appears in DIR as PRODUCT, then move it to DIR/done/ or DIR/failed/ with a .json result beside it (repeatable).", valueName: "DIR=PRODUCT"))
    var watch: [String] = []

    @Option(help: "Jobs (fits) this replica runs at once; 0: none (inspection only).")
    var jobWorkers: Int = 1

    @Option(help: "Feature memory of a fit job in MiB: past it the bank is built chunk by chunk (as fit's --feature-memory).")
    var featureMemory: Int = FitOptions.defaultFeatureMemory >> 20

    @Option(help: "Seconds without a lease renewal after which another replica takes a job over.")
    var jobLeaseSeconds: Double = 30

    @Option(help: "Backbone weights file instead of the cached weights of each model's backbone.")
    var weights: String?

    @Option(help: "A diffusers inpainting model folder (SD / SDXL) for diffusion synthesis jobs; without it only classical synthesis runs.")
    var diffusers: String?

    @Option(help: "Seconds between checks for models activated through another replica.")
    var modelRefreshSeconds: Double = 2

    @Option(help: "Attempts at each webhook delivery before it is given up as failed (retries 1, 2, 4, ... s apart, at most 5 min).")
    var webhookMaxAttempts: Int = 10

    @Option(help: "Seconds a webhook receiver has to answer one attempt.")
    var webhookTimeoutSeconds: Double = 10

    @Option(help: "Seconds after which a connection that has sent no complete request part is closed (silent clients, headers trickled a byte at a time).")
    var idleTimeoutSeconds: Double = 30

    @OptionGroup(title: "Search") var search: SearchOptions
    @OptionGroup var limits: LimitOptions

    func watchedFolders() throws -> [(folder: URL, product: String)] {
        try watch.map { spec in
            guard let eq = spec.lastIndex(of: "="), eq != spec.startIndex, spec.index(after: eq) != spec.endIndex else {
                throw ValidationError("--watch takes DIR=PRODUCT, got '\(spec)'")
            }
            let folder = URL(fileURLWithPath: String(spec[..<eq]))
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--watch \(spec): \(folder.path) is not a folder")
            }
            return (folder, String(spec[spec.index(after: eq)...]))
        }
    }

    func validate() throws {
        _ = try watchedFolders()
        guard (0...16).contains(jobWorkers) else { throw ValidationError("--job-workers must be 0-16, got \(jobWorkers)") }
        guard (1...(1 << 30)).contains(featureMemory) else {
            throw ValidationError("--feature-memory must be in 1...\(1 << 30) MiB, got \(featureMemory)")
        }
        guard jobLeaseSeconds.isFinite, (1...3600).contains(jobLeaseSeconds) else {
            throw ValidationError("--job-lease-seconds must be 1-3600, got \(jobLeaseSeconds)")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535, got \(port)") }
        guard (1...4096).contains(maxUploadMb) else { throw ValidationError("--max-upload-mb must be 1-4096, got \(maxUploadMb)") }
        guard (1...65536).contains(maxBatchMb) else { throw ValidationError("--max-batch-mb must be 1-65536, got \(maxBatchMb)") }
        guard (1...65536).contains(maxModelMb) else { throw ValidationError("--max-model-mb must be 1-65536, got \(maxModelMb)") }
        guard (1...256).contains(inferenceWorkers) else { throw ValidationError("--inference-workers must be 1-256, got \(inferenceWorkers)") }
        guard (0...100_000).contains(inferenceQueue) else { throw ValidationError("--inference-queue must be 0-100000, got \(inferenceQueue)") }
        guard (1...100).contains(webhookMaxAttempts) else { throw ValidationError("--webhook-max-attempts must be 1-100, got \(webhookMaxAttempts)") }
        guard webhookTimeoutSeconds.isFinite, (0.1...300).contains(webhookTimeoutSeconds) else {
            throw ValidationError("--webhook-timeout-seconds must be 0.1-300, got \(webhookTimeoutSeconds)")
        }
        guard idleTimeoutSeconds.isFinite, (1...86400).contains(idleTimeoutSeconds) else {
            throw ValidationError("--idle-timeout-seconds must be 1-86400, got \(idleTimeoutSeconds)")
        }
        guard modelRefreshSeconds.isFinite, (0.05...3600).contains(modelRefreshSeconds) else {
            throw ValidationError("--model-refresh-seconds must be 0.05-3600, got \(modelRefreshSeconds)")
        }
    }

    func run() throws {
        var configuration = ServiceConfiguration(dataDirectory: URL(fileURLWithPath: store.dataDir),
                                                 databaseURL: store.database)
        configuration.host = host
        configuration.port = port
        configuration.maxUploadBytes = maxUploadMb << 20
        configuration.maxModelUploadBytes = maxModelMb << 20
        configuration.maxBatchUploadBytes = maxBatchMb << 20
        configuration.inferenceWorkers = inferenceWorkers
        configuration.inferenceQueue = inferenceQueue
        configuration.weights = weights.map { URL(fileURLWithPath: $0) }
        configuration.search = search.method
        if let diffusers {
            // A wrong folder is a start-up error, not a failed job hours later.
            let folder = try DiffusersModelFolder.open(URL(fileURLWithPath: diffusers))
            try folder.checkWeights()
            configuration.diffusers = folder.root
        }
        configuration.modelRefreshSeconds = modelRefreshSeconds
        configuration.watch = try watchedFolders()
        configuration.jobWorkers = jobWorkers
        configuration.fitFeatureMemory = featureMemory << 20
        configuration.jobLeaseSeconds = jobLeaseSeconds
        configuration.webhookMaxAttempts = webhookMaxAttempts
        configuration.webhookTimeoutSeconds = webhookTimeoutSeconds
        configuration.idleTimeoutSeconds = idleTimeoutSeconds
        configuration.limits = InputLimits.current
        let host = self.host
        let configured = configuration
        try blockingRun {
            let server = try await InspectionServer(configuration: configured)
            try await server.run { port in
                print("patchcore serve: listening on http://\(host):\(port) (store: \(server.store.db.location))")
            }
        }
    }
}

/// `--data-dir` and `--database`, shared by `serve` and `serve keys`.
struct StoreOptions: ParsableArguments {
    @Option(help: "Folder of the service's data: patchcore.sqlite (without --database) and blobs/.")
    var dataDir: String

    @Option(help: "PostgreSQL URL (postgres://user[:password]@host[:port]/db[?sslmode=...]) instead of the SQLite file.")
    var database: String?

    func open() async throws -> InspectionStore {
        let folder = URL(fileURLWithPath: dataDir)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try await InspectionStore.open(databaseURL: database, dataDirectory: folder)
    }
}

extension Serve {
    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage the service's API keys (stored hashed; a key is shown once, when made).",
            subcommands: [Create.self, List.self, Revoke.self])

        struct Create: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Make a key and print it (the only time it is shown).")
            @OptionGroup var store: StoreOptions
            @Option(help: "A name for the key (who or what uses it): letters, digits, '-', '_', '.'.")
            var name: String
            @Option(help: "operator (inspect, review), expert (also datasets, synthesis, fits) or admin (also models, thresholds, keys).")
            var role: String

            func run() throws {
                guard let role = Role(rawValue: role) else {
                    throw ValidationError("--role must be operator, expert or admin, got '\(role)'")
                }
                let (store, name) = (self.store, self.name)
                try blockingRun {
                    let db = try await store.open()
                    defer { Task { await db.close() } }
                    let made = try await db.createKey(name: name, role: role, actor: "cli:\(NSUserName())")
                    print(made.key)
                    FileHandle.standardError.write(Data("key '\(name)' (\(role.rawValue)) made; store it now, it is not shown again\n".utf8))
                }
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List keys (name, role, prefix, state).")
            @OptionGroup var store: StoreOptions
            func run() throws {
                let store = self.store
                try blockingRun {
                    let db = try await store.open()
                    for key in try await db.keys() {
                        print("\(key.name)\t\(key.role.rawValue)\t\(key.prefix)…\t\(key.revokedMs == nil ? "live" : "revoked")")
                    }
                    await db.close()
                }
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a key by name.")
            @OptionGroup var store: StoreOptions
            @Option(help: "The key's name.") var name: String
            func run() throws {
                let (store, name) = (self.store, self.name)
                try blockingRun {
                    let db = try await store.open()
                    _ = try await db.revokeKey(name: name, actor: "cli:\(NSUserName())")
                    await db.close()
                    print("revoked \(name)")
                }
            }
        }
    }
}

/// Runs async work from a synchronous command (the root command is synchronous) and waits for it.
func blockingRun(_ work: @escaping @Sendable () async throws -> Void) throws {
    final class Outcome: @unchecked Sendable { var error: (any Error)? }
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { try await work() } catch { outcome.error = error }
        done.signal()
    }
    done.wait()
    if let error = outcome.error { throw error }
}
