import Foundation
import Testing
@testable import Datasets

/// A fresh temporary folder with helpers to lay out files with placeholder bytes.
struct TempTree {
    let root: URL
    init(_ name: String = #function) throws {
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("datasets-tests-\(name.filter(\.isLetter))-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }
    @discardableResult
    func touch(_ rel: String, _ text: String = "x") throws -> URL {
        let u = root.appendingPathComponent(rel)
        try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: u)
        return u
    }
    func remove() { try? FileManager.default.removeItem(at: root) }
}

@Suite("Dataset loaders")
struct DatasetsLoaderTests {
    func makeMVTec(_ t: TempTree) throws {
        for f in ["train/good/000.png", "train/good/001.png", "train/good/002.png", "test/good/000.png",
                  "test/scratch/000.png", "test/scratch/001.png", "test/crack/000.png",
                  "ground_truth/scratch/000_mask.png", "ground_truth/scratch/001_mask.png", "ground_truth/crack/000_mask.png"] {
            try t.touch(f)
        }
        try t.touch("train/good/.DS_Store")
        try t.touch("readme.txt")
    }

    @Test func mvtecLayout() throws {
        let t = try TempTree(); defer { t.remove() }
        try makeMVTec(t)
        #expect(DatasetLoader.detectLayout(t.root) == .mvtecAD)
        let ds = try DatasetLoader.load(t.root)
        #expect(ds.layout == .mvtecAD)
        #expect(ds.train.count == 3)
        #expect(ds.test.count == 4)
        #expect(ds.defectTypes == ["crack", "scratch"])
        #expect(ds.test.map { "\($0.defectType)/\($0.image.lastPathComponent)" } == ["good/000.png", "crack/000.png", "scratch/000.png", "scratch/001.png"])
        let good = ds.test[0], scratch1 = ds.test[3]
        #expect(good.mask == nil && good.label == .good)
        #expect(scratch1.label == .defect && scratch1.split == .test)
        #expect(scratch1.mask?.path == t.root.appendingPathComponent("ground_truth/scratch/001_mask.png").path)
        #expect(ds.samples.filter { $0.split == .train }.allSatisfy { $0.label == .good && $0.mask == nil })
    }

    @Test func mvtecMissingMaskNamesTheFile() throws {
        let t = try TempTree(); defer { t.remove() }
        try makeMVTec(t)
        try FileManager.default.removeItem(at: t.root.appendingPathComponent("ground_truth/crack/000_mask.png"))
        let error = try #require(throws: DatasetError.self) { try DatasetLoader.load(t.root) }
        #expect(error.description.contains("ground_truth/crack/000_mask.png"))
        #expect(error.description.contains("test/crack/000.png"))
    }

    @Test func mvtecEmptyTrainingSet() throws {
        let t = try TempTree(); defer { t.remove() }
        try FileManager.default.createDirectory(at: t.root.appendingPathComponent("train/good"), withIntermediateDirectories: true)
        try t.touch("test/good/000.png")
        #expect(throws: DatasetError.emptyTrainingSet(path: t.root.appendingPathComponent("train/good").path)) { try DatasetLoader.load(t.root) }
    }

    @Test func unknownLayoutSaysWhatIsAccepted() throws {
        let t = try TempTree(); defer { t.remove() }
        try t.touch("images/a.png")
        let e = try #require(throws: DatasetError.self) { try DatasetLoader.load(t.root) }
        #expect(e.description.contains("accepted layouts"))
        #expect(e.description.contains("MVTec AD") && e.description.contains("KolektorSDD2") && e.description.contains("CSV"))
        // the MVTec root (a folder of categories) gets a hint to pick one
        let m = try TempTree(); defer { m.remove() }
        try m.touch("bottle/train/good/000.png"); try m.touch("bottle/test/good/000.png")
        let e2 = try #require(throws: DatasetError.self) { try DatasetLoader.load(m.root) }
        #expect(e2.description.contains("bottle"))
        #expect(throws: DatasetError.notFound(path: "/nonexistent/x")) { try DatasetLoader.load(URL(fileURLWithPath: "/nonexistent/x")) }
    }

    @Test func csvManifestAnyOrderQuotedAliases() throws {
        let t = try TempTree(); defer { t.remove() }
        for f in ["imgs/a.png", "imgs/b.png", "imgs/c, d.png", "imgs/e.jpg", "masks/c.png", "imgs/f.png"] { try t.touch(f) }
        let csv = "\u{FEFF}Split,LABEL,image,defect_type,mask\r\n" +
            "train,Normal,imgs/a.png,,\r\n" +
            "train,ok,imgs/b.png,good,\r\n" +
            "\r\n" +
            "test,NG,\"imgs/c, d.png\",\"scr\"\"atch\",masks/c.png\r\n" +
            "test,good,imgs/e.jpg,,\n" +
            "test,Anomaly,imgs/f.png,,\n"
        let url = try t.touch("list.csv", csv)
        #expect(DatasetLoader.detectLayout(url) == .csvManifest)
        let ds = try DatasetLoader.load(url)
        #expect(ds.name == "list")
        #expect(ds.samples.count == 5)
        #expect(ds.train.count == 2)
        let c = ds.samples[2]
        #expect(c.image.lastPathComponent == "c, d.png")
        #expect(c.label == .defect && c.split == .test && c.defectType == "scr\"atch")
        #expect(c.mask?.path == t.root.appendingPathComponent("masks/c.png").path)
        #expect(ds.samples[3].mask == nil && ds.samples[3].label == .good && ds.samples[3].defectType == "good")
        #expect(ds.samples[4].label == .defect && ds.samples[4].defectType == "defect")
    }

    @Test func csvErrorsNameFileAndLine() throws {
        let t = try TempTree(); defer { t.remove() }
        try t.touch("a.png")
        func load(_ text: String) throws -> Dataset { try DatasetLoader.load(try t.touch("m.csv", text)) }
        let path = t.root.appendingPathComponent("m.csv").path
        #expect(throws: DatasetError.missingColumns(file: path, missing: ["label"], found: ["image", "mask", "split"])) {
            try load("image,mask,split\na.png,,train\n")
        }
        #expect(throws: DatasetError.badValue(file: path, line: 3, column: "label", value: "weird", expected: "good/normal/ok or defect/anomaly/ng")) {
            try load("image,mask,label,split\na.png,,good,train\na.png,,weird,test\n")
        }
        #expect(throws: DatasetError.badValue(file: path, line: 2, column: "split", value: "val", expected: "train or test")) {
            try load("image,mask,label,split\na.png,,good,val\n")
        }
        let missing = try #require(throws: DatasetError.self) { try load("image,mask,label,split\na.png,,good,train\nnope.png,,good,test\n") }
        #expect(missing == .missingFile(file: t.root.appendingPathComponent("nope.png").path, referencedBy: "\(path) line 3"))
        #expect(throws: DatasetError.malformedCSV(file: path, line: 2, reason: "3 fields, header has 4")) {
            try load("image,mask,label,split\na.png,good,train\n")
        }
        #expect(throws: DatasetError.malformedCSV(file: path, line: 2, reason: "unterminated quoted field")) {
            try load("image,mask,label,split\n\"a.png,,good,train\n")
        }
        #expect(throws: DatasetError.emptyTrainingSet(path: path)) { try load("image,mask,label,split\na.png,,defect,train\na.png,,good,test\n") }
    }

    @Test func csvQuotedNewlineKeepsLineNumbers() throws {
        let rows = try CSVReader.parse("a,b\n\"x\ny\",2\n\nz,3\n", file: "t.csv")
        #expect(rows.map(\.line) == [1, 2, 5])
        #expect(rows[1].fields == ["x\ny", "2"])
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/work/shared/datasets/magnetic_tile/split.csv")))
    func magneticTileManifest() throws {
        let ds = try DatasetLoader.load(URL(fileURLWithPath: "/work/shared/datasets/magnetic_tile"))
        #expect(ds.layout == .csvManifest && ds.name == "magnetic_tile")
        #expect(ds.train.count == 700)
        #expect(ds.samples.filter { $0.split == .train && $0.label == .defect }.count == 118)
        #expect(ds.test.filter { $0.label == .good }.count == 252)
        #expect(ds.test.filter { $0.label == .defect }.count == 274)
        #expect(ds.defectTypes == ["blowhole", "break", "crack", "fray", "uneven"])
        print(ds.summary)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/work/shared/datasets/mvtec_ad/bottle/train")))
    func mvtecBottle() throws {
        let ds = try DatasetLoader.load(URL(fileURLWithPath: "/work/shared/datasets/mvtec_ad/bottle"))
        #expect(ds.train.count == 209)
        #expect(ds.test.filter { $0.label == .good }.count == 20)
        #expect(ds.test.filter { $0.label == .defect }.count == 63)
        #expect(ds.test.filter { $0.label == .defect }.allSatisfy { $0.mask != nil })
        #expect(ds.defectTypes == ["broken_large", "broken_small", "contamination"])
        print(ds.summary)
    }

    @Test func kolektorLayoutWithInjectedMaskCheck() throws {
        let t = try TempTree(); defer { t.remove() }
        for f in ["train/10000.png", "train/10000_GT.png", "train/10001.png", "train/10001_GT.png",
                  "test/20000.png", "test/20000_GT.png", "test/20001.png", "test/20001_GT.png"] {
            try t.touch(f, f.contains("10001_GT") || f.contains("20000_GT") ? "defect" : "clean")
        }
        #expect(DatasetLoader.detectLayout(t.root) == .kolektorSDD2)
        let ds = try KolektorSDD2Layout.load(t.root) { url in try String(contentsOf: url, encoding: .utf8) == "defect" }
        #expect(ds.samples.map(\.image.lastPathComponent) == ["10000.png", "10001.png", "20000.png", "20001.png"])
        #expect(ds.samples.map(\.label) == [.good, .defect, .defect, .good])
        #expect(ds.samples.map(\.split) == [.train, .train, .test, .test])
        #expect(ds.samples[1].mask?.lastPathComponent == "10001_GT.png" && ds.samples[0].mask == nil)
        #expect(ds.train.count == 1)
        try FileManager.default.removeItem(at: t.root.appendingPathComponent("test/20001_GT.png"))
        let e = try #require(throws: DatasetError.self) { try KolektorSDD2Layout.load(t.root) { _ in false } }
        #expect(e.description.contains("20001_GT.png"))
    }

    @Test func imageFilesSortedAndRecursive() throws {
        let t = try TempTree(); defer { t.remove() }
        for f in ["b.png", "a.JPG", "c.jpeg", "notes.txt", "sub/z.png", "sub/deeper/y.png", ".hidden.png"] { try t.touch(f) }
        let flat = try DatasetLoader.imageFiles(in: t.root)
        #expect(flat.map(\.lastPathComponent) == ["a.JPG", "b.png", "c.jpeg"])
        let all = try DatasetLoader.imageFiles(in: t.root, recursive: true)
        #expect(all.map(\.lastPathComponent) == ["a.JPG", "b.png", "c.jpeg", "y.png", "z.png"])
        #expect(try DatasetLoader.imageFiles(in: t.root.appendingPathComponent("b.png")).count == 1)
        #expect(throws: DatasetError.self) { try DatasetLoader.imageFiles(in: t.root.appendingPathComponent("notes.txt")) }
        let empty = try TempTree("empty"); defer { empty.remove() }
        #expect(throws: DatasetError.self) { try DatasetLoader.imageFiles(in: empty.root) }
    }

    @Test func sampleCodableUsesSnakeCase() throws {
        let s = Sample(image: URL(fileURLWithPath: "/d/a.png"), mask: nil, label: .defect, split: .test, defectType: "crack")
        let json = String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
        #expect(json.contains("\"defect_type\":\"crack\"") && json.contains("\"label\":\"defect\""))
        #expect(try JSONDecoder().decode(Sample.self, from: Data(json.utf8)) == s)
    }
}
