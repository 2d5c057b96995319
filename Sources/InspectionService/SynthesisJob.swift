import Defects
import Foundation
import ImageIO
import Inpainting
import InspectionStore
import PatchCore

/// Parameters of a synthesize job (`POST /api/v1/products/{product}/jobs/synthesize`).
struct SynthesizeJobParams: Codable, Sendable {
    /// `classical` (cut-paste of the product's real defects, Perlin texture / intensity) or `diffusion` (the
    /// configured inpainting model paints `prompts` into the product's defect masks).
    var generator: String
    /// Samples to make (diffusion: per prompt).
    var count: Int
    var seed: UInt64?
    /// Classical methods to draw from (default: every one the product's data allows).
    var methods: [String]?
    var prompts: [String]?
    var negativePrompt: String?
    var steps: Int?
    var guidanceScale: Double?
    var strength: Double?
    /// Pixels of context kept around the mask when the model works on a crop of the image (diffusers'
    /// `padding_mask_crop`): small defects get the model's full resolution.
    var paddingMaskCrop: Int?
    /// The defect label the samples get (default: `synthetic`).
    var label: String?
    /// The expert's own placement: a good image of the product (`good_item_id`) and a mask painted on it
    /// (`mask_base64`, a PNG at the image's size, white = defect): every sample is that image with a defect made
    /// exactly there. Without them samples take the product's good images and its real defects' masks.
    var goodItemId: Int64?
    var maskBase64: String?
    /// The stored painted mask (set by the server from `mask_base64`; never taken from a client).
    var maskBlob: String?

    static let generators = ["classical", "diffusion"]
    static let maxPrompts = 16

    /// Checks everything a client can get wrong, so it is a 400 now rather than a failed job later.
    func validate(maxSamples: Int, diffusers: URL?) throws {
        func bad(_ field: String, _ problem: String) -> StoreError { .invalid(field: field, problem: problem) }
        guard Self.generators.contains(generator) else {
            throw bad("generator", "must be one of \(Self.generators.joined(separator: ", ")), got '\(generator)'")
        }
        guard (1...maxSamples).contains(count) else { throw bad("count", "must be in 1...\(maxSamples), got \(count)") }
        if let label, !InspectionAPI.isLabel(label) {
            throw bad("label", "at most 64 printable characters")
        }
        if maskBlob != nil { throw bad("mask_blob", "is set by the server; send mask_base64") }
        if (goodItemId == nil) != (maskBase64 == nil) {
            throw bad(goodItemId == nil ? "good_item_id" : "mask_base64", "a painted mask goes with the good image it was painted on: give good_item_id and mask_base64 together")
        }
        if maskBase64 != nil, methods?.contains(ClassicalMethod.cutPaste.rawValue) == true {
            throw bad("methods", "cut_paste copies real defects from the defect set; into a painted mask use perlin_texture or perlin_intensity")
        }
        if generator == "classical" {
            for (field, value) in [("prompts", prompts != nil), ("negative_prompt", negativePrompt != nil), ("steps", steps != nil),
                                   ("guidance_scale", guidanceScale != nil), ("strength", strength != nil),
                                   ("padding_mask_crop", paddingMaskCrop != nil)] where value {
                throw bad(field, "applies to the diffusion generator only")
            }
            if let methods { _ = try classicalMethods(methods) }
            return
        }
        if methods != nil { throw bad("methods", "applies to the classical generator only") }
        guard diffusers != nil else {
            throw StoreError.conflict("no diffusion model is configured on this server (start `patchcore serve` with --diffusers DIR); the classical generator needs none")
        }
        guard let prompts, (1...Self.maxPrompts).contains(prompts.count) else {
            throw bad("prompts", "the diffusion generator needs 1...\(Self.maxPrompts) prompts")
        }
        for text in prompts { try PromptText.validate(text, field: "prompts") }
        if let negativePrompt { try PromptText.validate(negativePrompt, field: "negative_prompt") }
        if let paddingMaskCrop, !(0...Int(PromptText.maxPaddingMaskCrop)).contains(paddingMaskCrop) {
            throw bad("padding_mask_crop", "must be in 0...\(PromptText.maxPaddingMaskCrop) pixels, got \(paddingMaskCrop)")
        }
        guard count * prompts.count <= maxSamples else {
            throw bad("count", "\(count) per prompt x \(prompts.count) prompts is over \(maxSamples) samples")
        }
        do {
            try settings(model: "check", width: 512, height: 512, scheduler: "check").validate()
        } catch {
            throw bad("synthesis settings", "\(error)")
        }
    }

    func classicalMethods(_ names: [String]) throws -> [ClassicalMethod] {
        guard !names.isEmpty else { throw StoreError.invalid(field: "methods", problem: "give at least one method or leave it out") }
        return try names.map { name in
            guard let m = ClassicalMethod(rawValue: name) else {
                throw StoreError.invalid(field: "methods", problem: "unknown method '\(name)' (known: \(ClassicalMethod.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return m
        }
    }

    func settings(model: String, width: Int, height: Int, scheduler: String) -> DiffusionSynthesisSettings {
        DiffusionSynthesisSettings(model: model, prompts: prompts ?? [], negativePrompt: negativePrompt, perPrompt: count,
                                   steps: steps ?? 30, guidanceScale: guidanceScale ?? 7.5, strength: strength ?? 1.0,
                                   paddingMaskCrop: paddingMaskCrop, width: width, height: height, scheduler: scheduler, seed: seed ?? 0)
    }
}

extension JobWorker {
    /// Makes synthetic defects from the product's good images (and its defect images' masks) and adds each one, as
    /// it is made, to the product's synthetic set with the verdict `pending`: an expert accepts or rejects it, and
    /// only accepted samples feed a positive bank. Sample k of the job is `job:<id>/<sample id>`; a job taken over
    /// after a replica died skips the samples already stored and makes the same remaining ones (seeds derive from
    /// the job's seed and k alone).
    func synthesize(_ job: Job, progress: Progress) async throws -> String {
        let params = try JSONDecoder.snakeCase.decode(SynthesizeJobParams.self, from: Data(job.params.utf8))
        guard let productId = job.productId else { throw StoreError.invalid(field: "product", problem: "a synthesize job needs a product") }
        // Records name their sources as dataset items, never as the server's blob paths.
        var itemOfPath: [String: String] = [:]
        let goods: [DatasetItem]
        let masks: DefectMaskSampler?
        if let painted = params.maskBlob, let goodId = params.goodItemId {
            // The expert's placement: that image, that mask, no flip, shift or scale.
            goods = [try await store.datasetItem(id: goodId)]
            let maskURL = try blobs.url(of: painted)
            itemOfPath[maskURL.path] = "mask painted on dataset item \(goodId)"
            masks = try DefectMaskSampler(masks: [(mask: maskURL, image: nil)], augmentation: .none,
                                          source: "the mask painted on dataset item \(goodId)")
        } else {
            goods = try await store.datasetItems(productId: productId, kind: .good)
            let defects = try await store.datasetItems(productId: productId, kind: .defect, verdict: .accepted).filter { $0.maskBlob != nil }
            for item in defects {
                itemOfPath[try blobs.url(of: item.imageBlob).path] = "dataset item \(item.id)"
                itemOfPath[try blobs.url(of: item.maskBlob!).path] = "mask of dataset item \(item.id)"
            }
            masks = defects.isEmpty ? nil : try DefectMaskSampler(
                masks: defects.map { (mask: try blobs.url(of: $0.maskBlob!), image: try blobs.url(of: $0.imageBlob)) },
                source: "the product's defect set")
        }
        guard !goods.isEmpty else {
            throw StoreError.invalid(field: "dataset", problem: "the product has no good images to paint defects into; upload some to its good set")
        }
        for item in goods { itemOfPath[try blobs.url(of: item.imageBlob).path] = "dataset item \(item.id)" }
        let prefix = "job:\(job.id)/"
        let stored = Set(try await store.datasetItems(productId: productId, kind: .synthetic, includeRemoved: true)
            .compactMap(\.originRef).filter { $0.hasPrefix(prefix) })
        let importer = SampleImporter(store: store, blobs: blobs, productId: productId, job: job,
                                      label: params.label ?? "synthetic", itemOfPath: itemOfPath, stored: stored)
        let goodURLs = try goods.map { try blobs.url(of: $0.imageBlob) }
        if params.generator == "classical" {
            var options = ClassicalGeneratorOptions()
            options.methods = try params.methods.map(params.classicalMethods)
            if params.maskBlob != nil { options.givenMaskProbability = 1 }   // always inside the painted mask
            // A mask painted for the job is the placement itself; otherwise defects stay on the part (the region
            // painted for the product, else the good images' foreground).
            let region = params.maskBlob == nil
                ? try ProductPlacement.resolve(try await store.product(id: productId), goods: goodURLs, blobs: blobs).region : nil
            let generator = try ClassicalDefectGenerator(goodImages: goodURLs, masks: masks, options: options, placement: region)
            let seed = params.seed ?? 0
            for k in 0..<params.count {
                try Task.checkCancellation()
                let id = ClassicalSynthesisJob.id(index: k)
                if !importer.has(id) {
                    let sample = try generator.sample(seed: ClassicalDefectGenerator.sampleSeed(baseSeed: seed, index: k))
                    try await importer.add(id: id, image: ImageFile.encodePNG(sample.image, name: id),
                                           mask: ImageFile.encodePNG(sample.mask, name: id), record: sample.record)
                }
                progress.set(stage: "synthesize", done: k + 1, total: params.count)
            }
        } else {
            guard let diffusers else {
                throw StoreError.conflict("no diffusion model is configured on this replica (--diffusers DIR)")
            }
            guard let masks else {
                throw StoreError.invalid(field: "dataset", problem: "diffusion paints into the masks of the product's defect images, and none has a mask; upload defects with masks (x.png + x_mask.png)")
            }
            try await diffusion(params, folder: diffusers, goods: goodURLs, masks: masks, importer: importer, job: job,
                                progress: progress)
        }
        let compact = JSONEncoder()
        compact.outputFormatting = [.sortedKeys]
        return String(decoding: try compact.encode(["samples": importer.added + stored.count, "made": importer.added,
                                                    "already_stored": stored.count]), as: UTF8.self)
    }

    /// Runs the library's diffusion synthesis job into a scratch folder under the data directory (its writer resumes
    /// there after a restart) on its own thread, importing each finished sample into the store while it runs.
    private func diffusion(_ params: SynthesizeJobParams, folder diffusers: URL, goods: [URL], masks: DefectMaskSampler,
                           importer: SampleImporter, job: Job, progress: Progress) async throws {
        let folder = try DiffusersModelFolder.open(diffusers)
        let model = try InpaintingModel.load(folder)
        let size = try folder.nativeSize()
        let settings = params.settings(model: folder.root.lastPathComponent, width: size.width, height: size.height,
                                       scheduler: type(of: model.scheduler).className)
        let synthesis = DiffusionSynthesisJob(settings: settings, goodImages: goods, masks: SampledDefectMasks(masks))
        let scratch = blobs.root.deletingLastPathComponent().appendingPathComponent("synthesis/job-\(job.id)")
        let writer = try SyntheticDefectSet.Writer(folder: scratch)
        let total = synthesis.plan().count
        // Progress in denoising steps over the whole job (sample k of n at step i of s is (k - 1) s + i of n s), so
        // the bar and its ETA move with every step, not only between samples.
        let run = Task.detached {
            var sample = 1, samples = total
            try synthesis.run(pipeline: InpaintingPipeline(model: model), writer: writer) { event in
                switch event {
                case let .started(_, number, count, _, _): sample = number; samples = count
                case let .step(_, step):
                    progress.set(stage: "diffusion steps", done: (sample - 1) * step.count + step.index + 1, total: samples * step.count)
                default: break
                }
            }
        }
        func importFinished() async throws {
            for record in try SyntheticDefectSet.records(in: scratch) where !importer.has(record.id) {
                try await importer.add(id: record.id, image: Data(contentsOf: scratch.appendingPathComponent(record.image)),
                                       mask: Data(contentsOf: scratch.appendingPathComponent(record.mask)), record: record)
            }
        }
        try await withTaskCancellationHandler {
            while true {
                let finished = await withTaskGroup(of: Bool.self) { group in
                    group.addTask { _ = try? await run.value; return true }
                    group.addTask { try? await Task.sleep(for: .seconds(1)); return false }
                    let first = await group.next()!
                    group.cancelAll()
                    return first
                }
                try await importFinished()
                if finished { break }
            }
        } onCancel: { run.cancel() }
        _ = try await run.value
        progress.set(stage: "synthesize", done: total, total: total)   // samples made
        try? FileManager.default.removeItem(at: scratch)
    }
}

/// Adds the samples of one synthesize job to the product's synthetic set, pending the expert's verdict.
final class SampleImporter: @unchecked Sendable {
    let store: InspectionStore
    let blobs: BlobStore
    let productId: Int64
    let job: Job
    let label: String
    let itemOfPath: [String: String]
    private var stored: Set<String>
    private(set) var added = 0

    init(store: InspectionStore, blobs: BlobStore, productId: Int64, job: Job, label: String,
         itemOfPath: [String: String], stored: Set<String>) {
        self.store = store; self.blobs = blobs; self.productId = productId; self.job = job; self.label = label
        self.itemOfPath = itemOfPath; self.stored = stored
    }

    func reference(_ id: String) -> String { "job:\(job.id)/\(id)" }
    func has(_ id: String) -> Bool { stored.contains(reference(id)) }

    func add(id: String, image: Data, mask: Data, record: SyntheticDefectRecord) async throws {
        // Any value naming a server file (a source image, a texture) becomes the dataset item it is.
        let parameters = record.parameters.mapValues { itemOfPath[$0] ?? ($0.hasPrefix("/") ? URL(fileURLWithPath: $0).lastPathComponent : $0) }
        var details: [String: Any] = ["generator": record.generator, "seed": String(record.seed), "sample": id,
                                      "parameters": parameters]
        if let m = record.method { details["method"] = m }
        if let p = record.prompt { details["prompt"] = p }
        if let n = record.negativePrompt { details["negative_prompt"] = n }
        if let s = record.sourceImage { details["source_image"] = itemOfPath[s] ?? URL(fileURLWithPath: s).lastPathComponent }
        if let s = record.sourceMask { details["source_mask"] = itemOfPath[s] ?? URL(fileURLWithPath: s).lastPathComponent }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: details, options: [.sortedKeys]), as: UTF8.self)
        _ = try await store.addDatasetItem(productId: productId, NewDatasetItem(
            kind: .synthetic, imageBlob: try blobs.put(image), maskBlob: try blobs.put(mask), label: label,
            origin: "synthesis", originRef: reference(id), verdict: .pending, details: json), actor: "job:\(job.id)")
        stored.insert(reference(id))
        added += 1
    }
}
