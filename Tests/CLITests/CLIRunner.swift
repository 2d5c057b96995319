import Foundation
import Datasets

/// Runs the built `patchcore` executable, which SwiftPM places beside the test bundle.
struct CLIRunner {
    struct Result { var status: Int32; var stdout: String; var stderr: String }

    static var executable: URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        // On Linux the test binary is <bin>/<Package>PackageTests.xctest; on macOS it is inside a bundle.
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("patchcore").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("patchcore")
    }

    static func run(_ arguments: [String], environment: [String: String] = [:], executable: URL = executable,
                    standardInput: Data? = nil) throws -> Result {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let input = Pipe()
        p.standardInput = standardInput == nil ? FileHandle.nullDevice : input
        try p.run()
        if let standardInput {
            input.fileHandleForWriting.write(standardInput)
            try input.fileHandleForWriting.close()
        }
        // Read both pipes concurrently so a chatty child cannot block on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// A demo data set (`DemoDataset`) plus the defective images of a second demo set listed as TRAINING defects, in one CSV
/// manifest: the smallest data with real training defects for the dual-bank and ablation tests.
struct DemoWithTrainingDefects {
    let root: URL
    let demo: URL
    let manifest: URL

    init(prefix: String, seed: UInt64, defectSeed: UInt64, trainDefects: Int, size: Int) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        demo = root.appendingPathComponent("data")
        let main = try DemoDataset.generate(at: demo, seed: seed, trainCount: 10, testGoodCount: 4, testDefectCount: 6, size: size)
        let extra = try DemoDataset.generate(at: root.appendingPathComponent("defects"), seed: defectSeed, trainCount: 1,
                                             testGoodCount: 0, testDefectCount: trainDefects, size: size)
        var lines = ["image,mask,label,split,defect_type"]
        for s in main.samples { lines.append("\(s.image.path),\(s.mask?.path ?? ""),\(s.label.rawValue),\(s.split.rawValue),\(s.defectType)") }
        for s in extra.samples where s.label == .defect {
            lines.append("\(s.image.path),\(s.mask!.path),defect,train,\(s.defectType)")
        }
        manifest = root.appendingPathComponent("split.csv")
        try lines.joined(separator: "\n").write(to: manifest, atomically: true, encoding: .utf8)
    }
}
