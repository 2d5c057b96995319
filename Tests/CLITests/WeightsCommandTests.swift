import Foundation
import Testing

@Test func weightsListShowsEveryKnownBackbone() throws {
    let r = try CLIRunner.run(["weights", "list"])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    for name in ["mobilenet_v2", "resnet50", "wide_resnet50_2", "efficientnet_lite2"] {
        #expect(r.stdout.contains(name))
    }
}

@Test func verifyingACorruptCachedFileFailsAndNamesIt() throws {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent("pc-cache-\(UUID().uuidString)")
    let weights = cache.appendingPathComponent("weights")
    try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: cache) }
    let bogus = weights.appendingPathComponent("mobilenet_v2-b0353104.pth")
    try Data("not weights".utf8).write(to: bogus)
    let r = try CLIRunner.run(["weights", "verify", "mobilenet_v2"], environment: ["PATCHCORE_CACHE": cache.path])
    #expect(r.status != 0)
    #expect(r.stderr.contains(bogus.path) && r.stderr.contains("SHA-256"), "failures go to standard error: \(r.stderr)")
}
