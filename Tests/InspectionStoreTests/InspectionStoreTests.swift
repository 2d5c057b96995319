import Foundation
import InspectionStore
import StoreTestSupport
import Testing

/// The store's one suite, run against SQLite and against a real PostgreSQL server.
@Suite struct InspectionStoreTests {
    static let backends = Backend.allCases

    private func model(_ store: InspectionStore, product: String = "bottle") async throws -> (Product, ModelVersion) {
        let p = try await store.createProduct(name: product, description: "line 3", actor: "admin-key")
        let m = try await store.addModelVersion(productId: p.id, NewModelVersion(
            modelBlob: String(repeating: "a", count: 64), backbone: "mobilenet_v2", config: "{}", threshold: 1.5,
            thresholdProvenance: "false_reject_rate 0.01"), actor: "admin-key")
        return (p, m)
    }

    private func inspection(_ store: InspectionStore, _ p: Product, _ m: ModelVersion, score: Double,
                            source: String = "cam-1") async throws -> Inspection {
        try await store.recordInspection(NewInspection(
            productId: p.id, modelVersionId: m.id, imageBlob: BlobStore.name(of: Data("\(score)\(source)".utf8)),
            score: score, normalizedScore: score / m.threshold, decision: score >= m.threshold ? .anomalous : .ok,
            threshold: m.threshold, latencyMs: 20, source: source))
    }

    @Test(arguments: backends) func migrationsAreIdempotentAndRefuseANewerSchema(_ backend: Backend) async throws {
        try await TestDatabases.withStore(backend) { store, _, _ in
            // A second migrator (a replica starting later) finds nothing to do.
            let again = try await InspectionStore(driver: store.db)
            #expect(again.schemaVersion == store.schemaVersion)
            let rows = try await store.db.query("SELECT version FROM schema_migrations ORDER BY version", [])
            #expect(try rows.map { try $0.int("version") } == (1...store.schemaVersion).map(Int64.init))
            try await store.db.query("INSERT INTO schema_migrations (version, applied_ms) VALUES (?, 0)",
                                     [.integer(Int64(store.schemaVersion + 1))])
            await #expect(throws: StoreError.schemaTooNew(location: store.db.location, found: store.schemaVersion + 1,
                                                          known: store.schemaVersion)) {
                _ = try await InspectionStore(driver: store.db)
            }
        }
    }

    @Test(arguments: backends) func productsHaveUniqueSafeNames(_ backend: Backend) async throws {
        try await TestDatabases.withStore(backend) { store, _, _ in
            let hostile = "'); DROP TABLE products; --"
            let p = try await store.createProduct(name: "bottle", description: hostile, actor: "a")
            #expect(try await store.product(named: "bottle") == p)
            #expect(try await store.product(named: "bottle").description == hostile)   // bound, stored verbatim
            await #expect(throws: StoreError.self) { _ = try await store.createProduct(name: "bottle", actor: "a") }
            for bad in ["", "../etc", ".hidden", "a b", "a/b", String(repeating: "x", count: 65), "bottle'--"] {
                await #expect(throws: StoreError.self, "\(bad)") { _ = try await store.createProduct(name: bad, actor: "a") }
            }
            await #expect(throws: StoreError.notFound(kind: "product", key: "tile")) {
                _ = try await store.product(named: "tile")
            }
            _ = try await store.createProduct(name: "tile", actor: "a")
            #expect(try await store.products().map(\.name) == ["bottle", "tile"])
        }
    }

    @Test(arguments: backends) func modelVersionsActivateRollBackAndAuditThresholds(_ backend: Backend) async throws {
        try await TestDatabases.withStore(backend) { store, _, _ in
            let (p, v1) = try await model(store)
            let v2 = try await store.addModelVersion(productId: p.id, NewModelVersion(
                modelBlob: String(repeating: "b", count: 64), backbone: "mobilenet_v2", config: "{}",
                metrics: #"{"image_auroc":0.99}"#, threshold: 2, thresholdProvenance: "manual"), actor: "admin-key")
            #expect([v1.version, v2.version] == [1, 2])
            #expect(try await store.activeModelVersion(productId: p.id) == nil)
            _ = try await store.activate(modelVersionId: v2.id, actor: "alice")
            #expect(try await store.activeModelVersion(productId: p.id)?.id == v2.id)
            let back = try await store.activate(modelVersionId: v1.id, actor: "bob")   // roll back
            #expect(back.activatedBy == "bob")
            #expect(try await store.product(id: p.id).activeModelId == v1.id)
            let changed = try await store.setThreshold(modelVersionId: v1.id, threshold: 1.75, provenance: "manual", actor: "carol")
            #expect(changed.threshold == 1.75)
            await #expect(throws: StoreError.self) {
                _ = try await store.setThreshold(modelVersionId: v1.id, threshold: .nan, provenance: "x", actor: "carol")
            }
            await #expect(throws: StoreError.notFound(kind: "model version", key: "999")) {
                _ = try await store.activate(modelVersionId: 999, actor: "x")
            }
            let activations = try await store.auditLog(entity: "product", entityId: String(p.id))
                .filter { $0.action == "activate" }
            #expect(activations.map(\.actor) == ["bob", "alice"])
            #expect(activations[0].detail.contains("\"previous_model_version_id\":\"\(v2.id)\""))
            let threshold = try await store.auditLog(entity: "model_version", entityId: String(v1.id))
                .first { $0.action == "set_threshold" }
            #expect(threshold?.detail.contains("\"from\":\"1.5\"") == true)
            #expect(threshold?.detail.contains("\"to\":\"1.75\"") == true)
        }
    }

    @Test(arguments: backends) func inspectionsPageByCursorAndFilter(_ backend: Backend) async throws {
        try await TestDatabases.withStore(backend) { store, _, _ in
            let (p, m) = try await model(store)
            var made: [Inspection] = []
            for i in 0..<23 { made.append(try await inspection(store, p, m, score: Double(i) / 10)) }
            #expect(try await store.inspection(id: made[4].id) == made[4])
            // Pages of 5 from the newest: every inspection exactly once, in order.
            var seen: [Int64] = []
            var cursor: Int64? = nil
            repeat {
                let page = try await store.inspections(InspectionFilter(productId: p.id, before: cursor, limit: 5))
                seen += page.items.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == made.map(\.id).reversed())
            let flagged = try await store.inspections(InspectionFilter(decision: .anomalous, limit: 100)).items
            #expect(Set(flagged.map(\.id)) == Set(made.filter { $0.score >= 1.5 }.map(\.id)))
            let band = try await store.inspections(InspectionFilter(minScore: 0.5, maxScore: 0.9, limit: 100)).items
            #expect(band.map(\.score).sorted() == [0.5, 0.6, 0.7, 0.8, 0.9])
            #expect(try await store.inspections(InspectionFilter(reviewed: true)).items.isEmpty)
            #expect(try await store.inspectionCount(productId: p.id) == 23)
            await #expect(throws: StoreError.self) {
                _ = try await store.recordInspection(NewInspection(
                    productId: p.id, modelVersionId: m.id, imageBlob: "x", score: .infinity, normalizedScore: 1,
                    decision: .ok, threshold: 1, latencyMs: 1, source: "api"))
            }
        }
    }

    @Test(arguments: backends) func reviewsGrowTheDatasetsAndCanBeUndone(_ backend: Backend) async throws {
        try await TestDatabases.withStore(backend) { store, _, _ in
            let (p, m) = try await model(store)
            let falseReject = try await inspection(store, p, m, score: 2.0)
            let escape = try await inspection(store, p, m, score: 0.2)
            let good = try await inspection(store, p, m, score: 0.1)
            let mask = String(repeating: "c", count: 64)

            let r1 = try await store.review(inspectionId: falseReject.id, verdict: .good, reason: "dust", reviewer: "op1")
            let r2 = try await store.review(inspectionId: escape.id, verdict: .defect, maskBlob: mask, reviewer: "op1")
            let r3 = try await store.review(inspectionId: good.id, verdict: .confirm, reviewer: "op1")
            #expect(r3.datasetItemId == nil)   // a confirmed good part adds nothing
            let goods = try await store.datasetItems(productId: p.id, kind: .good)
            let defects = try await store.datasetItems(productId: p.id, kind: .defect)
            #expect(goods.map(\.imageBlob) == [falseReject.imageBlob] && goods.first?.id == r1.datasetItemId)
            #expect(defects.map(\.maskBlob) == [mask] && defects.first?.originRef == "inspection:\(escape.id)")
            #expect(try await store.inspection(id: escape.id).reviewId == r2.id)
            #expect(Set(try await store.inspections(InspectionFilter(reviewed: true)).items.map(\.id))
                    == [falseReject.id, escape.id, good.id])

            // A second verdict replaces the first: the good item goes, a defect item comes.
            let r4 = try await store.review(inspectionId: falseReject.id, verdict: .confirm, reviewer: "expert")
            #expect(try await store.datasetItems(productId: p.id, kind: .good).isEmpty)
            #expect(try await store.datasetItems(productId: p.id, kind: .defect).count == 2)
            #expect(try await store.reviews(inspectionId: falseReject.id).map { $0.undoneMs != nil } == [true, false])

            // Undo: unreviewed again, its item removed (kept for the record).
            let undone = try await store.undoReview(reviewId: r4.id, actor: "expert")
            #expect(undone.undoneBy == "expert")
            #expect(try await store.inspection(id: falseReject.id).reviewId == nil)
            #expect(try await store.datasetItems(productId: p.id, kind: .defect).count == 1)
            #expect(try await store.datasetItems(productId: p.id, kind: .defect, includeRemoved: true).count == 2)
            await #expect(throws: StoreError.self) { _ = try await store.undoReview(reviewId: r4.id, actor: "expert") }
            await #expect(throws: StoreError.self) {
                _ = try await store.review(inspectionId: good.id, verdict: .good, maskBlob: mask, reviewer: "op1")
            }
            await #expect(throws: StoreError.notFound(kind: "inspection", key: "12345")) {
                _ = try await store.review(inspectionId: 12345, verdict: .good, reviewer: "op1")
            }
            let actions = try await store.auditLog(entity: "inspection", entityId: String(falseReject.id)).map(\.action)
            #expect(actions == ["undo_review", "review", "undo_review", "review"])
        }
    }

    @Test(arguments: backends) func datasetItemsRemoveRestoreAndTakeVerdicts(_ backend: Backend) async throws {
        try await TestDatabases.withStore(backend) { store, _, _ in
            let (p, _) = try await model(store)
            let item = try await store.addDatasetItem(productId: p.id, NewDatasetItem(
                kind: .synthetic, imageBlob: String(repeating: "d", count: 64), maskBlob: String(repeating: "e", count: 64),
                label: "scratch", origin: "synthesis", originRef: "job:1", verdict: .pending), actor: "expert")
            #expect(try await store.datasetItems(productId: p.id, verdict: .pending).map(\.id) == [item.id])
            #expect(try await store.setSampleVerdict(id: item.id, verdict: .accepted, actor: "expert").verdict == .accepted)
            _ = try await store.removeDatasetItem(id: item.id, actor: "expert")
            #expect(try await store.datasetItems(productId: p.id).isEmpty)
            _ = try await store.restoreDatasetItem(id: item.id, actor: "expert")
            #expect(try await store.datasetItems(productId: p.id).map(\.id) == [item.id])
            await #expect(throws: StoreError.notFound(kind: "dataset item", key: "77")) {
                _ = try await store.removeDatasetItem(id: 77, actor: "expert")
            }
            await #expect(throws: StoreError.notFound(kind: "product", key: "99")) {
                _ = try await store.addDatasetItem(productId: 99, NewDatasetItem(kind: .good, imageBlob: "x", origin: "upload"), actor: "e")
            }
        }
    }

    @Test(arguments: backends) func jobsAreClaimedOnceAndTakenOverAfterTheLeaseExpires(_ backend: Backend) async throws {
        try await TestDatabases.withStore(backend) { store, _, _ in
            let (p, _) = try await model(store)
            var queued: [Job] = []
            for i in 0..<6 {
                queued.append(try await store.enqueueJob(kind: "fit", productId: p.id, params: #"{"n":\#(i)}"#, actor: "expert"))
            }
            // Six workers claiming at once get six different jobs.
            let claimed = try await withThrowingTaskGroup(of: Job?.self) { group in
                for w in 0..<6 { group.addTask { try await store.claimJob(owner: "worker-\(w)", leaseMs: 60_000) } }
                return try await group.reduce(into: [Job]()) { if let j = $1 { $0.append(j) } }
            }
            #expect(Set(claimed.map(\.id)) == Set(queued.map(\.id)))
            #expect(try await store.claimJob(owner: "late", leaseMs: 60_000) == nil)

            let job = claimed.first { $0.id == queued[0].id }!
            #expect(try await store.updateJob(jobId: job.id, owner: job.leaseOwner!, stage: "features", done: 3, total: 10, logLine: "3/10"))
            #expect(try await store.updateJob(jobId: job.id, owner: "someone-else", stage: "x", done: 0, total: 0) == false)

            // The holder stops renewing (its replica died): once the lease is over, another worker takes the job.
            let shortLived = try await store.enqueueJob(kind: "evaluate", productId: p.id, params: "{}", actor: "expert")
            let first = try await store.claimJob(owner: "replica-a", leaseMs: 1, kinds: ["evaluate"])
            #expect(first?.id == shortLived.id)
            var second: Job? = nil
            for _ in 0..<200 where second == nil {
                second = try await store.claimJob(owner: "replica-b", leaseMs: 60_000, kinds: ["evaluate"])
                if second == nil { try await Task.sleep(for: .milliseconds(5)) }   // wait for 1 ms of wall time to pass
            }
            #expect(second?.id == shortLived.id && second?.attempts == 2 && second?.leaseOwner == "replica-b")
            #expect(try await store.renewLease(jobId: shortLived.id, owner: "replica-a", leaseMs: 60_000) == false)
            #expect(try await store.finishJob(jobId: shortLived.id, owner: "replica-a", state: .succeeded) == nil)
            let done = try await store.finishJob(jobId: shortLived.id, owner: "replica-b", state: .succeeded, result: #"{"ok":true}"#)
            #expect(done?.state == .succeeded && done?.finishedMs != nil)
            #expect(try await store.job(id: job.id).log == "3/10\n")

            // Cancel: a queued job ends now, a running one is flagged for its worker; an ended one refuses.
            let waiting = try await store.enqueueJob(kind: "fit", productId: nil, params: "{}", actor: "expert")
            #expect(try await store.requestCancel(jobId: waiting.id, actor: "expert").state == .cancelled)
            let running = try await store.requestCancel(jobId: job.id, actor: "expert")
            #expect(running.state == .running && running.cancelRequested)
            await #expect(throws: StoreError.self) { _ = try await store.requestCancel(jobId: shortLived.id, actor: "expert") }
            #expect(try await store.jobs(state: .queued).isEmpty)
        }
    }

    @Test(arguments: backends) func keysAreStoredHashedAndRevocable(_ backend: Backend) async throws {
        try await TestDatabases.withStore(backend) { store, _, _ in
            let (key, record) = try await store.createKey(name: "line-3", role: .operator, actor: "setup")
            #expect(key.hasPrefix("pc_") && key.count == 67 && record.prefix == String(key.prefix(8)))
            #expect(try await store.authenticate(key: key)?.role == .operator)
            #expect(try await store.authenticate(key: key + "x") == nil)
            let stored = try await store.db.query("SELECT * FROM api_keys", [])
            #expect(!stored.contains { $0.values.values.contains(.text(key)) })
            await #expect(throws: StoreError.self) { _ = try await store.createKey(name: "line-3", role: .admin, actor: "s") }
            _ = try await store.revokeKey(name: "line-3", actor: "admin")
            #expect(try await store.authenticate(key: key) == nil)
            #expect(Role.operator < Role.expert && Role.expert < Role.admin)
        }
    }

    @Test(arguments: backends) func concurrentInspectionsAreAllCommitted(_ backend: Backend) async throws {
        try await TestDatabases.withStore(backend) { store, _, _ in
            let (p, m) = try await model(store)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<60 { group.addTask { _ = try await inspection(store, p, m, score: Double(i), source: "cam-\(i % 3)") } }
                try await group.waitForAll()
            }
            #expect(try await store.inspectionCount(productId: p.id) == 60)
        }
    }
}

@Suite struct BlobStoreTests {
    @Test func blobsAreContentAddressedAndNamesAreNeverPaths() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("blobs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let blobs = try BlobStore(root: root)
        let data = Data("a part".utf8)
        let name = try blobs.put(data)
        #expect(name == BlobStore.name(of: data) && name.count == 64)
        #expect(try blobs.put(data) == name)
        #expect(try blobs.get(name) == data)
        #expect(try blobs.url(of: name).path == root.path + "/" + name.prefix(2) + "/" + name)
        let files = try FileManager.default.subpathsOfDirectory(atPath: root.path).filter { !$0.hasSuffix(String(name.prefix(2))) }
        #expect(files == ["\(name.prefix(2))/\(name)"])   // no temporary left behind
        for bad in ["../../etc/passwd", String(repeating: "A", count: 64), String(name.dropLast()), name + "/", ""] {
            #expect(throws: StoreError.self) { _ = try blobs.get(bad) }
        }
        #expect(throws: StoreError.notFound(kind: "blob", key: String(repeating: "0", count: 64))) {
            _ = try blobs.get(String(repeating: "0", count: 64))
        }
    }
}
