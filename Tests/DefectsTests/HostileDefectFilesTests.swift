import Foundation
import Testing
import ImageIO
import TensorCore
@testable import Defects
#if canImport(Glibc)
import Glibc
#endif

/// Issue 11: manifests, review files, replayed records and generator options from files are checked: paths stay
/// inside their folder, wrong types and NaN / huge numbers give errors naming the file, the line or entry and the
/// field; a resumed writer removes the temporaries a killed run left.
@Suite struct HostileDefectFilesTests {
    let image = Image(width: 4, height: 3, channels: 3, pixels: [UInt8](repeating: 90, count: 36))
    let mask = Image(width: 4, height: 3, channels: 1, pixels: [0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 0, 0])

    func folderWithOneSample() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-defects-\(UUID().uuidString)")
        let writer = try SyntheticDefectSet.Writer(folder: dir)
        try writer.write(id: "s0", image: image, mask: mask,
                         record: .init(id: "", image: "", mask: "", generator: "classical", seed: 1))
        return dir
    }

    func writeManifest(_ dir: URL, _ lines: [String]) throws {
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent("manifest.jsonl"))
    }

    @Test func manifestPathsOutsideTheFolderAreRefusedNamingLineAndField() throws {
        let dir = try folderWithOneSample()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = #"{"generator":"classical","id":"s0","image":"images/s0.png","mask":"masks/s0.png","parameters":{},"seed":1}"#
        for (image, mask, field) in [("/etc/passwd", "masks/s0.png", "image"), ("images/s0.png", "../../secret.png", "mask"),
                                     ("images/../../x.png", "masks/s0.png", "image"), ("", "masks/s0.png", "image"),
                                     ("images/s0.png", ".", "mask")] {
            let line = #"{"generator":"classical","id":"s1","image":"\#(image)","mask":"\#(mask)","parameters":{},"seed":2}"#
            try writeManifest(dir, [good, line])
            do {
                _ = try SyntheticDefectSet.pairs(in: dir)
                Issue.record("accepted \(image) / \(mask)")
            } catch let SyntheticDefectSetError.badManifestLine(file, lineNumber, reason) {
                #expect(file.hasSuffix("manifest.jsonl") && lineNumber == 2 && reason.hasPrefix(field), "\(reason)")
            }
        }
    }

    @Test func manifestLinesOfTheWrongShapeNameTheField() throws {
        let dir = try folderWithOneSample()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (line, expected) in [(#"{"generator":"classical","id":"s1","image":"a","mask":"b","parameters":{},"seed":-4}"#, "does not fit its field"),
                                 (#"{"generator":"classical","id":5,"image":"a","mask":"b","parameters":{},"seed":1}"#, "field id"),
                                 (#"{"generator":"classical","id":"s1","image":"a","mask":"b","parameters":{"x":1},"seed":1}"#, "field parameters"),
                                 (#"{"id":"s1","image":"a","mask":"b","parameters":{},"seed":1}"#, "missing field generator"),
                                 (#"[1, 2, 3]"#, "the line")] {
            try writeManifest(dir, [line, "{}"])
            do {
                _ = try SyntheticDefectSet.records(in: dir)
                Issue.record("accepted \(line)")
            } catch let SyntheticDefectSetError.badManifestLine(_, lineNumber, reason) {
                #expect(lineNumber == 1 && reason.contains(expected) && !reason.contains("CodingKeys"), "\(line): \(reason)")
            }
        }
        // A FIFO in place of the manifest is refused, not waited on.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("manifest.jsonl"))
        #expect(mkfifo(dir.appendingPathComponent("manifest.jsonl").path, 0o600) == 0)
        let error = #expect(throws: (any Error).self) { try SyntheticDefectSet.records(in: dir) }
        #expect("\(error!)".contains("FIFO"), "\(error!)")
    }

    @Test func reviewFilesOfTheWrongShapeNameTheFieldAndFoldersAreRefused() throws {
        let dir = try folderWithOneSample()
        defer { try? FileManager.default.removeItem(at: dir) }
        let review = dir.appendingPathComponent("review.json")
        for (text, expected) in [(#"{"accepted": [1], "rejected": []}"#, "field accepted.0"),
                                 (#"{"accepted": "s0", "rejected": []}"#, "field accepted"),
                                 (#"{"accepted": []}"#, "missing field rejected"),
                                 ("not json", "not a JSON object")] {
            try Data(text.utf8).write(to: review)
            do {
                _ = try SyntheticDefectReview.load(folder: dir)
                Issue.record("accepted \(text)")
            } catch let SyntheticDefectSetError.badReview(file, reason) {
                #expect(file == review.path && reason.contains(expected), "\(reason)")
            }
        }
        try FileManager.default.removeItem(at: review)
        try FileManager.default.createDirectory(at: review, withIntermediateDirectories: false)
        let error = #expect(throws: SyntheticDefectSetError.self) { try SyntheticDefectReview.load(folder: dir) }
        #expect(error?.description.contains("directory") == true)
        #expect(throws: SyntheticDefectSetError.self) { try ReviewSheet.html(folder: dir) }
    }

    @Test func replayedRecordsWithNaNOrHugeParametersAreRefused() throws {
        func record(_ method: String, _ parameters: [String: String]) -> SyntheticDefectRecord {
            SyntheticDefectRecord(id: "r", image: "images/r.png", mask: "masks/r.png", generator: "classical", seed: 1,
                                  sourceImage: "/nonexistent/good.png", sourceMask: "/nonexistent/mask.png", method: method,
                                  parameters: parameters.merging(["alpha_threshold": "0.05"]) { a, _ in a })
        }
        let cutPaste = ["defect_image": "/nonexistent/d.png", "region_index": "0", "padding": "4", "scale": "1", "angle_deg": "0",
                        "x": "0", "y": "0", "feather_sigma": "1", "match_colour": "true"]
        let perlin = ["mask_source": "perlin", "mask_seed": "1", "perlin_min_area": "0.01", "perlin_max_area": "0.1",
                      "perlin_max_cells_log2": "4", "perlin_octaves": "1", "brightness": "20", "contrast": "1"]
        let cases: [(String, [String: String], String)] = [
            ("cut_paste", ["scale": "nan"], "scale"), ("cut_paste", ["scale": "1e300"], "scale"),
            ("cut_paste", ["padding": "9223372036854775807"], "padding"), ("cut_paste", ["feather_sigma": "inf"], "feather_sigma"),
            ("cut_paste", ["x": "-9223372036854775807"], "x"), ("cut_paste", ["region_index": "-1"], "region_index"),
            ("cut_paste", ["angle_deg": "nan"], "angle_deg"),
            ("perlin_intensity", ["perlin_max_cells_log2": "200"], "maxCellsLog2"),
            ("perlin_intensity", ["perlin_octaves": "-1"], "octaves"), ("perlin_intensity", ["perlin_min_area": "nan"], "area"),
            ("perlin_intensity", ["brightness": "1e308"], "brightness"), ("perlin_intensity", ["contrast": "-inf"], "contrast"),
            ("perlin_intensity", ["alpha_threshold": "nan"], "alpha_threshold"),
        ]
        for (method, change, expected) in cases {
            let base = method == "cut_paste" ? cutPaste : perlin
            do {
                _ = try ClassicalDefectGenerator.regenerate(record: record(method, change.merging(base) { a, _ in a }))
                Issue.record("replayed \(change)")
            } catch let DefectSynthesisError.badRecord(id, reason) {
                #expect(id == "r" && reason.contains(expected), "\(change): \(reason)")
            } catch {
                Issue.record("\(change): expected badRecord, got \(error)")
            }
        }
    }

    @Test func generatorOptionsFromAFileAreRangeChecked() throws {
        let good = try JSONEncoder().encode(ClassicalGeneratorOptions())
        #expect(try ClassicalGeneratorOptions(json: good, file: "opts.json") == ClassicalGeneratorOptions())
        var object = try JSONSerialization.jsonObject(with: good) as! [String: Any]
        for (key, value, expected) in [("featherSigma", 1e300 as Any, "feather sigma"), ("cropPadding", -4, "crop padding"),
                                       ("angleRange", [0, 1e300], "angle range"), ("minRegionArea", "four", "field minRegionArea"),
                                       ("alphaThreshold", 7, "alpha threshold")] {
            let saved = object[key]
            object[key] = value
            let data = try JSONSerialization.data(withJSONObject: object)
            object[key] = saved
            do {
                _ = try ClassicalGeneratorOptions(json: data, file: "opts.json")
                Issue.record("accepted \(key) = \(value)")
            } catch {
                #expect("\(error)".contains("opts.json") && "\(error)".contains(expected), "\(error)")
            }
        }
        var options = ClassicalGeneratorOptions()
        options.angleRange = -Double.infinity...0
        #expect(throws: DefectSynthesisError.self) { try options.validate() }
    }

    @Test func aResumedWriterRemovesTheTemporariesAKilledRunLeft() throws {
        let dir = try folderWithOneSample()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        let uuid = UUID().uuidString
        // What a run killed between writing and renaming leaves: fresh temporaries (seconds old, not an hour).
        let left = ["images/.s1.png.\(uuid).tmp", "masks/.s1.png.\(uuid).tmp", ".manifest.jsonl.\(uuid).tmp"]
        for path in left { try Data("partial".utf8).write(to: dir.appendingPathComponent(path)) }
        let otherTemporary = ".review.json.\(uuid).tmp"       // not the writer's: left alone
        try Data("x".utf8).write(to: dir.appendingPathComponent(otherTemporary))
        let resumed = try SyntheticDefectSet.Writer(folder: dir)
        #expect(Set(resumed.removedTemporaries) == Set(left))
        #expect(resumed.keptTemporaries.isEmpty)
        for path in left { #expect(!fm.fileExists(atPath: dir.appendingPathComponent(path).path)) }
        #expect(fm.fileExists(atPath: dir.appendingPathComponent(otherTemporary).path))
        #expect(resumed.existingIDs == ["s0"])

        // While that writer holds the folder, a second one keeps young temporaries (they may be in flight) and lists them.
        try Data("partial".utf8).write(to: dir.appendingPathComponent("images/.s2.png.\(uuid).tmp"))
        let second = try SyntheticDefectSet.Writer(folder: dir)
        #expect(second.removedTemporaries.isEmpty)
        #expect(second.keptTemporaries == ["images/.s2.png.*.tmp"])
        withExtendedLifetime(resumed) {}
        #expect(throws: DefectSynthesisError.self) {
            try second.write(id: "../escape", image: image, mask: mask,
                             record: .init(id: "", image: "", mask: "", generator: "classical", seed: 1))
        }
    }
}
