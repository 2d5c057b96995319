import Foundation
import ImageIO
import TensorCore

/// One synthetic defect: the image (the good image's size and channels), its 0/255 one-channel mask, and the record
/// that regenerates it.
public struct ClassicalDefectSample: Sendable, Equatable {
    public var image: Image
    public var mask: Image
    public var record: SyntheticDefectRecord
}

/// Makes defects without a diffusion model: `cut_paste` (real defect crops pasted onto good images at a random
/// position / scale / rotation, feathered alpha, optional colour matching), `perlin_texture` (DRAEM-style foreign
/// texture blended inside a Perlin or given mask) and `perlin_intensity` (brightness / contrast change inside one).
///
/// Every sample is drawn from its own seed: first all random choices (a `ClassicalDefectPlan`), then a render that
/// uses no randomness. The manifest record holds the seed, the source files and the plan, so `sample(seed:)` with the
/// same inputs or `regenerate(record:)` alone reproduce the sample byte for byte. The output mask is exactly the
/// pixels whose blend weight is above `options.alphaThreshold`; every other pixel equals the good image's.
///
/// ```swift
/// let masks = try DefectMaskSampler(dataset: try DatasetLoader.load(dataURL))   // train-split defects
/// let gen = try ClassicalDefectGenerator(goodImages: goodURLs, masks: masks)
/// let s = try gen.sample(seed: ClassicalDefectGenerator.sampleSeed(baseSeed: 7, index: 42))
/// try ImageFile.writePNG(s.image, to: out); try ImageFile.writePNG(s.mask, to: maskOut)
/// ```
public struct ClassicalDefectGenerator: Sendable {
    public let goodImages: [URL]
    /// Given masks: `cut_paste` crops the entries that carry a defect image; the procedural methods may paint inside
    /// any entry (`options.givenMaskProbability`).
    public let masks: DefectMaskSampler?
    public let options: ClassicalGeneratorOptions
    /// The methods actually drawn from (see `ClassicalGeneratorOptions.methods`).
    public let methods: [ClassicalMethod]
    /// Indices of `masks.entries` with a defect image.
    let defectEntries: [Int]
    /// Where defects may go (nil: anywhere).
    public let placement: PlacementRegion?

    /// - Throws: `DefectSynthesisError` when there is no good image, the options are invalid, or a requested method
    ///   cannot run (`cut_paste` without real defect images).
    public init(goodImages: [URL], masks: DefectMaskSampler? = nil, options: ClassicalGeneratorOptions = .init(),
                placement: PlacementRegion? = nil) throws {
        try options.validate()
        guard !goodImages.isEmpty else { throw DefectSynthesisError.noGoodImages(source: "good image list") }
        let defectEntries = masks.map { m in m.entries.indices.filter { m.entries[$0].image != nil } } ?? []
        var methods = options.methods ?? ClassicalMethod.allCases.filter { $0.isProcedural || !defectEntries.isEmpty }
        if methods.contains(.cutPaste) && defectEntries.isEmpty {
            let hint = masks == nil ? "no real defects were given"
                : "the masks of \(masks!.source) come without defect images (mask files alone have no defect pixels)"
            throw DefectSynthesisError.methodUnavailable(method: ClassicalMethod.cutPaste.rawValue, reason:
                "\(hint); give a data set with defect images and masks, or use the procedural methods " +
                "(\(ClassicalMethod.allCases.filter(\.isProcedural).map(\.rawValue).joined(separator: ", ")))")
        }
        methods = ClassicalMethod.allCases.filter(methods.contains)  // a stable order
        self.goodImages = goodImages
        self.masks = masks
        self.options = options
        self.methods = methods
        self.defectEntries = defectEntries
        self.placement = placement
    }

    /// The seed of sample `index` of a run with `baseSeed`: SplitMix64(baseSeed + index).next().
    public static func sampleSeed(baseSeed: UInt64, index: Int) -> UInt64 {
        var rng = SplitMix64(seed: baseSeed &+ UInt64(truncatingIfNeeded: index))
        return rng.next()
    }

    /// The sample for `seed`; with a placement region, the first draw (`seed`, then seeds derived from it) whose
    /// defect lies in the region.
    public func sample(seed: UInt64) throws -> ClassicalDefectSample {
        guard let placement else { return try draw(seed: seed) }
        var trySeed = seed
        for attempt in 1...PlacementRegion.maxDraws {
            let sample = try draw(seed: trySeed)
            if placement.contains(sample.mask) { return sample }
            trySeed = Self.sampleSeed(baseSeed: seed, index: attempt)
        }
        throw DefectSynthesisError.invalidArgument("no draw of \(PlacementRegion.maxDraws) for sample seed \(seed) put its defect inside \(placement.source) (at least \(Int(placement.minInside * 100)) % of its pixels); give a larger region or none")
    }

    func draw(seed: UInt64) throws -> ClassicalDefectSample {
        var rng = SplitMix64(seed: seed)
        let method = methods[rng.index(methods.count)]
        let goodURL = goodImages[rng.index(goodImages.count)]
        let good = try Self.load(goodURL)
        let plan: ClassicalDefectPlan
        switch method {
        case .cutPaste:
            plan = .cutPaste(try drawCutPaste(&rng, good: good))
        case .perlinTexture:
            let mask = try drawMask(&rng, width: good.width, height: good.height)
            let texture: ClassicalDefectPlan.TexturePlan
            if rng.chance(options.noiseTextureProbability) {
                texture = .noise(seed: rng.next())
            } else {
                texture = .goodPatch(goodImages[rng.index(goodImages.count)], shiftX: rng.index(good.width),
                                     shiftY: rng.index(good.height), flipHorizontal: rng.chance(0.5), flipVertical: rng.chance(0.5))
            }
            plan = .perlinTexture(mask: mask, texture: texture, beta: rng.uniform(options.betaRange))
        case .perlinIntensity:
            let mask = try drawMask(&rng, width: good.width, height: good.height)
            let magnitude = rng.uniform(options.brightnessRange)
            let brightness = rng.chance(0.5) ? magnitude : -magnitude
            plan = .perlinIntensity(mask: mask, brightness: brightness, contrast: rng.uniform(options.contrastRange))
        }
        return try render(plan, good: good, goodURL: goodURL, seed: seed, alphaThreshold: options.alphaThreshold)
    }

    /// Redraws a sample from its manifest record alone (source files, method and parameters; no generator state).
    /// - Throws: `DefectSynthesisError.badRecord` for a record this generator did not write, or `.unreadable`.
    public static func regenerate(record: SyntheticDefectRecord) throws -> ClassicalDefectSample {
        guard record.generator == "classical" else {
            throw DefectSynthesisError.badRecord(id: record.id, reason: "generator is '\(record.generator)', not classical")
        }
        guard let source = record.sourceImage else { throw DefectSynthesisError.badRecord(id: record.id, reason: "missing source_image") }
        let plan = try ClassicalDefectPlan(record: record)
        guard let text = record.parameters["alpha_threshold"], let threshold = Double(text) else {
            throw DefectSynthesisError.badRecord(id: record.id, reason: "missing or bad parameter alpha_threshold")
        }
        guard threshold.isFinite, threshold >= 0, threshold < 1 else {
            throw DefectSynthesisError.badRecord(id: record.id, reason: "parameter alpha_threshold = \(text) is out of range (expected [0, 1))")
        }
        let goodURL = URL(fileURLWithPath: source)
        var sample = try ClassicalDefectGenerator.renderStatic(plan, good: try load(goodURL), goodURL: goodURL,
                                                               seed: record.seed, alphaThreshold: threshold)
        sample.record.id = record.id; sample.record.image = record.image; sample.record.mask = record.mask
        return sample
    }

    // MARK: drawing

    func drawCutPaste(_ rng: inout SplitMix64, good: Image) throws -> ClassicalDefectPlan.CutPastePlan {
        let entry = masks!.entries[defectEntries[rng.index(defectEntries.count)]]
        let source = try Self.defectSource(image: entry.image!, mask: entry.maskFile)
        let regions = source.regions.regions
        let large = regions.indices.filter { regions[$0].area >= options.minRegionArea }
        let candidates = large.isEmpty ? Array(regions.indices) : large
        let regionIndex = candidates[rng.index(candidates.count)]
        let box = regions[regionIndex].box.padded(by: options.cropPadding, width: source.image.width, height: source.image.height)
        var scale = rng.uniform(options.scaleRange)
        let angle = rng.uniform(options.angleRange)
        // Shrink a crop that would not fit the good image once rotated.
        var (hx, hy) = CutPaste.halfExtent(width: box.width, height: box.height, scale: scale, angleDegrees: angle)
        let fit = min(Double(good.width) / (2 * hx), Double(good.height) / (2 * hy))
        if fit < 1 {
            scale *= fit
            (hx, hy) = CutPaste.halfExtent(width: box.width, height: box.height, scale: scale, angleDegrees: angle)
        }
        // Top-left x such that the rotated crop's box [o - h, o + h], o = x + cw / 2, lies inside the image.
        let xlo = Int((hx - Double(box.width) / 2).rounded(.up)), xhi = Int((Double(good.width) - hx - Double(box.width) / 2).rounded(.down))
        let ylo = Int((hy - Double(box.height) / 2).rounded(.up)), yhi = Int((Double(good.height) - hy - Double(box.height) / 2).rounded(.down))
        let x = rng.int(xlo...max(xlo, xhi)), y = rng.int(ylo...max(ylo, yhi))
        return .init(defectImage: entry.image!, defectMask: entry.maskFile, regionIndex: regionIndex, padding: options.cropPadding,
                     scale: scale, angleDegrees: angle, x: x, y: y, featherSigma: options.featherSigma, matchColour: options.matchColour)
    }

    func drawMask(_ rng: inout SplitMix64, width: Int, height: Int) throws -> ClassicalDefectPlan.MaskPlan {
        if let masks, !masks.isEmpty, rng.chance(options.givenMaskProbability) {
            let drawn = try masks.sample(width: width, height: height, rng: &rng)
            return .file(masks.entries[drawn.entryIndex].maskFile, placement: drawn.placement)
        }
        return .perlin(seed: rng.next(), options: options.perlin)
    }

    // MARK: rendering (no randomness below)

    func render(_ plan: ClassicalDefectPlan, good: Image, goodURL: URL, seed: UInt64,
                alphaThreshold: Double) throws -> ClassicalDefectSample {
        try Self.renderStatic(plan, good: good, goodURL: goodURL, seed: seed, alphaThreshold: alphaThreshold)
    }

    static func renderStatic(_ plan: ClassicalDefectPlan, good: Image, goodURL: URL, seed: UInt64,
                             alphaThreshold: Double) throws -> ClassicalDefectSample {
        var parameters = plan.parameters(alphaThreshold: alphaThreshold)
        let image: Image, mask: Image
        switch plan {
        case let .cutPaste(p):
            let source = try defectSource(image: p.defectImage, mask: p.defectMask)
            guard source.regions.regions.indices.contains(p.regionIndex) else {
                throw DefectSynthesisError.invalidArgument("\(p.defectMask.path) has \(source.regions.regions.count) region(s); region_index \(p.regionIndex) does not exist")
            }
            let defect = good.channels == 1 ? source.image.toGray() : source.image.toRGB()
            let (crop, cropMask, box) = CutPaste.crop(defect: defect, regions: source.regions,
                                                      region: source.regions.regions[p.regionIndex], padding: p.padding)
            let result = CutPaste.paste(crop: crop, cropMask: cropMask, onto: good, scale: p.scale, angleDegrees: p.angleDegrees,
                                        x: p.x, y: p.y, featherSigma: p.featherSigma, matchColour: p.matchColour,
                                        alphaThreshold: alphaThreshold)
            image = result.image
            mask = result.mask
            parameters["crop_box"] = "\(box.x0),\(box.y0),\(box.x1),\(box.y1)"
            parameters["colour_shift"] = result.colourShift.map { String(format: "%.2f", $0) }.joined(separator: ",")
            if source.maskResized { parameters["mask_resized"] = "true" }
        case let .perlinTexture(m, t, beta):
            mask = try renderMask(m, width: good.width, height: good.height)
            let texture: Image
            switch t {
            case let .goodPatch(url, sx, sy, fh, fv):
                let other = try load(url)
                texture = TextureBlend.patchTexture(from: good.channels == 1 ? other.toGray() : other.toRGB(),
                                                    width: good.width, height: good.height, shiftX: sx, shiftY: sy,
                                                    flipHorizontal: fh, flipVertical: fv)
            case let .noise(s):
                texture = TextureBlend.noiseTexture(width: good.width, height: good.height, channels: good.channels, seed: s)
            }
            image = TextureBlend.blend(image: good, texture: texture, mask: mask, beta: beta)
        case let .perlinIntensity(m, b, k):
            mask = try renderMask(m, width: good.width, height: good.height)
            image = IntensityChange.apply(to: good, mask: mask, brightness: b, contrast: k)
        }
        let record = SyntheticDefectRecord(id: "", image: "", mask: "", generator: "classical", seed: seed,
                                           sourceImage: goodURL.path, sourceMask: plan.sourceMask?.path,
                                           method: plan.method.rawValue, parameters: parameters)
        return ClassicalDefectSample(image: image, mask: mask, record: record)
    }

    static func renderMask(_ plan: ClassicalDefectPlan.MaskPlan, width: Int, height: Int) throws -> Image {
        switch plan {
        case let .perlin(seed, options):
            return PerlinMask.draw(width: width, height: height, seed: seed, options: options)
        case let .file(url, placement):
            let image: Image
            do { image = try ImageFile.read(url) } catch { throw DefectSynthesisError.unreadable(file: url.path, reason: "\(error)") }
            return DefectMaskSampler.place(DefectMaskSampler.binarized(image), placement, width: width, height: height)
        }
    }

    /// A good image as 1 or 3 channels (other channel counts become RGB).
    static func load(_ url: URL) throws -> Image {
        let image: Image
        do { image = try ImageFile.read(url) } catch { throw DefectSynthesisError.unreadable(file: url.path, reason: "\(error)") }
        return image.channels == 1 || image.channels == 3 ? image : image.toRGB()
    }

    /// A defective image with its mask's regions; a mask of another size than its image is resized (nearest) to it.
    static func defectSource(image: URL, mask: URL) throws -> (image: Image, regions: DefectRegionMap, maskResized: Bool) {
        let picture = try load(image)
        var m: Image
        do { m = DefectMaskSampler.binarized(try ImageFile.read(mask)) } catch {
            throw DefectSynthesisError.unreadable(file: mask.path, reason: "\(error)")
        }
        let resized = m.width != picture.width || m.height != picture.height
        if resized { m = m.resizedNearest(width: picture.width, height: picture.height) }
        let regions = DefectRegionMap(mask: m)
        guard !regions.isEmpty else {
            throw DefectSynthesisError.noMasks(source: mask.path, reason: "empty mask\(resized ? " after resizing to its image" : "")")
        }
        return (picture, regions, resized)
    }
}
