import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InspectionService
import InspectionStore
import StoreTestSupport
import Testing

/// `--watch DIR=PRODUCT` end to end: a camera writes images into a folder; each is inspected once complete and
/// moved to done/ (or failed/) with its result beside it.
@Suite(.serialized) struct HotFolderTests {
    /// Waits (polling, bounded) until `condition` holds; the hot folder works on its own clock.
    func eventually(_ what: String, within seconds: Double = 60, _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out after \(seconds) s waiting for \(what)")
    }

    @Test func imagesWrittenIntoTheFolderAreInspectedAndFiled() async throws {
        let fixture = try ServiceFixture.shared()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try await ServiceHarness.with(.sqlite, configure: {
            $0.watch = [(folder, "bottle")]
            $0.hotFolderPollSeconds = 0.1
        }) { h, client in
            try await deployModel(h, client)
            // Written then renamed in (as camera software does), a corrupt file, and a non-image that stays put.
            try fixture.defects[1].write(to: folder.appendingPathComponent(".part-0001.png.tmp"))
            try FileManager.default.moveItem(at: folder.appendingPathComponent(".part-0001.png.tmp"),
                                             to: folder.appendingPathComponent("part-0001.png"))
            try fixture.good[2].write(to: folder.appendingPathComponent("part-0002.PNG"))
            try Data("not an image".utf8).write(to: folder.appendingPathComponent("part-0003.jpg"))
            try Data("notes".utf8).write(to: folder.appendingPathComponent("notes.txt"))
            let done = folder.appendingPathComponent("done"), failed = folder.appendingPathComponent("failed")
            try await eventually("the three images filed") {
                FileManager.default.fileExists(atPath: done.appendingPathComponent("part-0001.png.json").path)
                    && FileManager.default.fileExists(atPath: done.appendingPathComponent("part-0002.PNG.json").path)
                    && FileManager.default.fileExists(atPath: failed.appendingPathComponent("part-0003.jpg.json").path)
            }
            let result = try JSONSerialization.jsonObject(with: Data(contentsOf: done.appendingPathComponent("part-0001.png.json"))) as! [String: Any]
            #expect(result["decision"] as? String == "anomalous")
            #expect(result["source"] as? String == "hot-folder:\(folder.lastPathComponent)")
            #expect(try Data(contentsOf: done.appendingPathComponent("part-0001.png")) == fixture.defects[1])
            let error = try JSONSerialization.jsonObject(with: Data(contentsOf: failed.appendingPathComponent("part-0003.jpg.json"))) as! [String: Any]
            #expect((error["error"] as? String)?.contains("not a PNG or JPEG") == true, "\(error)")
            #expect(error["status"] as? String == "415")
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("notes.txt").path))
            #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("part-0001.png").path))
            // Committed once each, with the folder as their source.
            let stored = try await h.server.store.inspections(InspectionFilter(limit: 10)).items
            #expect(stored.count == 2 && stored.allSatisfy { $0.source.hasPrefix("hot-folder:") })
            // The same name again is filed beside the first, never over it.
            try fixture.good[2].write(to: folder.appendingPathComponent("part-0002.PNG"))
            try await eventually("the second part-0002 filed") {
                FileManager.default.fileExists(atPath: done.appendingPathComponent("part-0002-1.PNG.json").path)
            }
            #expect(try await h.server.store.inspectionCount() == 3)
        }
    }
}
