import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import InspectionStore
import StoreTestSupport
import Testing

/// Two `patchcore serve` processes on one PostgreSQL and one blob folder: inspections through both are stored once
/// each, an activation made through one is served by the other within the refresh bound, and a fit job whose
/// replica is killed with SIGKILL mid-job is finished by the other once the lease expires.
@Suite(.serialized) struct ScaleOutTests {
    /// A `patchcore serve` child process and the port it printed.
    final class Replica: @unchecked Sendable {
        let process = Process()
        let port: Int
        let log: URL

        init(_ arguments: [String], log: URL) throws {
            self.log = log
            FileManager.default.createFile(atPath: log.path, contents: nil)
            let out = Pipe()
            process.executableURL = Self.executable
            process.arguments = ["serve"] + arguments
            process.standardOutput = out
            process.standardError = try FileHandle(forWritingTo: log)
            try process.run()
            // The first line says where it listens ("... listening on http://127.0.0.1:PORT (store: ...)").
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                line += chunk
            }
            let text = String(decoding: line, as: UTF8.self)
            guard let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
                  let port = Int(text[range].split(separator: ":").last ?? "") else {
                process.terminate()
                throw TestDatabaseError("replica did not start: \(text) \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            }
            self.port = port
        }

        static var executable: URL {
            var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("patchcore").path), dir.path != "/" {
                dir = dir.deletingLastPathComponent()
            }
            return dir.appendingPathComponent("patchcore")
        }

        func kill() {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        func stop() {
            if process.isRunning { process.terminate(); process.waitUntilExit() }
        }

        func request(_ method: String, _ path: String, key: String, body: Data? = nil,
                     type: String = "application/json") async throws -> (status: Int, json: [String: Any]) {
            var r = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            r.httpMethod = method
            r.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
            r.setValue(type, forHTTPHeaderField: "Content-Type")
            r.httpBody = body
            r.timeoutInterval = 120
            let (data, response) = try await URLSession.shared.data(for: r)
            let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return ((response as! HTTPURLResponse).statusCode, json)
        }
    }

    @Test func replicasShareInspectionsActivationsAndJobs() async throws {
        let fixture = try ServiceFixture.shared()
        let (url, name) = try await TestDatabases.newPostgresDatabase()
        let shared = FileManager.default.temporaryDirectory.appendingPathComponent("replicas-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: shared) }
        let store = try await InspectionStore.open(databaseURL: url, dataDirectory: shared)
        let admin = try await store.createKey(name: "admin", role: .admin, actor: "test").key
        let common = ["--data-dir", shared.path, "--database", url, "--port", "0", "--model-refresh-seconds", "0.5",
                      "--job-lease-seconds", "2"]
        let a = try Replica(common, log: shared.appendingPathComponent("a.log"))
        let b = try Replica(common, log: shared.appendingPathComponent("b.log"))
        defer { a.stop(); b.stop() }

        // Deploy through A.
        #expect(try await a.request("POST", "/api/v1/products", key: admin, body: Data(#"{"name":"bottle"}"#.utf8)).status == 201)
        let v1 = try await a.request("POST", "/api/v1/products/bottle/models", key: admin, body: fixture.modelFile,
                                     type: "application/octet-stream")
        #expect(v1.status == 201)
        #expect(try await a.request("POST", "/api/v1/products/bottle/models/1/activate", key: admin).status == 200)

        // Inspections through both, concurrently: each stored once.
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<16 {
                let replica = i % 2 == 0 ? a : b
                group.addTask {
                    var r = try await replica.request("POST", "/api/v1/products/bottle/inspect?source=r\(i)", key: admin,
                                                      body: fixture.good[i % fixture.good.count], type: "image/png")
                    // B may not have loaded the model yet (it refreshes every 0.5 s): a 503 says so; retry.
                    while r.status == 503 {
                        try await Task.sleep(for: .milliseconds(100))
                        r = try await replica.request("POST", "/api/v1/products/bottle/inspect?source=r\(i)", key: admin,
                                                      body: fixture.good[i % fixture.good.count], type: "image/png")
                    }
                    return r.status
                }
            }
            for try await status in group { #expect(status == 200) }
        }
        let stored = try await store.inspections(InspectionFilter(limit: 100)).items
        #expect(stored.count == 16 && Set(stored.map(\.source)).count == 16)

        // An activation through A reaches B within the refresh bound (0.5 s) plus the load.
        _ = try await a.request("POST", "/api/v1/products/bottle/models", key: admin, body: fixture.modelFile,
                                type: "application/octet-stream")
        #expect(try await a.request("POST", "/api/v1/products/bottle/models/2/activate", key: admin).status == 200)
        let activated = ContinuousClock.now
        var served = 0
        while served != 2, ContinuousClock.now - activated < .seconds(30) {
            served = try await b.request("POST", "/api/v1/products/bottle/inspect", key: admin, body: fixture.good[0],
                                         type: "image/png").json["model_version"] as? Int ?? 0
        }
        let reach = ContinuousClock.now - activated
        #expect(served == 2 && reach < .seconds(5), "B served version \(served) after \(reach)")
        print("activation through A served by B after \(reach)")

        // A fit job: kill whichever replica runs it; the other finishes it after the 2 s lease.
        // 48 images, so the fit runs for seconds: long enough to be killed mid-way.
        for image in Array(repeating: fixture.good, count: 12).joined() {
            _ = try await a.request("POST", "/api/v1/products/bottle/datasets/good", key: admin, body: image, type: "image/png")
        }
        let job = try await a.request("POST", "/api/v1/products/bottle/jobs/fit", key: admin, body: Data("{}".utf8))
        let id = try #require(job.json["id"] as? Int)
        var owner: String? = nil
        let claimWait = ContinuousClock.now
        while owner == nil, ContinuousClock.now - claimWait < .seconds(30) {
            owner = try await store.job(id: Int64(id)).leaseOwner
        }
        let ownerPid = try #require(owner.flatMap { $0.split(separator: "-").last?.split(separator: "/").first }.flatMap { Int32($0) })
        let (victim, survivor) = ownerPid == a.process.processIdentifier ? (a, b) : (b, a)
        #expect([a.process.processIdentifier, b.process.processIdentifier].contains(ownerPid))
        victim.kill()
        #expect(try await store.job(id: Int64(id)).state == .running, "the fit ended before its replica was killed")
        var finished: Job? = nil
        let finishWait = ContinuousClock.now
        while ContinuousClock.now - finishWait < .seconds(180) {
            let j = try await store.job(id: Int64(id))
            if j.state != .running && j.state != .queued { finished = j; break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(finished?.state == .succeeded, "\(String(describing: finished))")
        #expect(finished?.attempts == 2)
        #expect(try await survivor.request("GET", "/readyz", key: admin).status == 200)
        await store.close()
        await TestDatabases.dropPostgresDatabase(name)
    }
}
