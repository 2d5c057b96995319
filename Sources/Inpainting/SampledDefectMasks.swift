import Foundation
import Defects
import ImageIO
import TensorCore

/// `DefectMaskProvider` over a `DefectMaskSampler`: expert-drawn mask files (`--masks DIR`) or a data set's real
/// defect masks (`--defect-masks-from DATASET`), as DIAG samples them. The job picks the mask (`index`, drawn with the
/// sample's generator); this adapter draws its placement (flips, scale, shift, per the sampler's `augmentation`) with
/// the sample's mask generator and renders it at the good image's size, so the written mask matches the image and
/// the draw is reproducible from the sample's seed.
///
/// The record gets the mask file as `source_mask` and the placement in the same parameters the classical generator
/// writes (`mask_source=file`, `mask_flip_h`, `mask_flip_v`, `mask_scale`, `mask_shift_x`, `mask_shift_y`): with the
/// record's `source_image` size, `DefectMaskSampler.place(mask, placement, width:height:)` redraws the mask.
///
/// ```swift
/// let sampler = try DefectMaskSampler(dataset: try DatasetLoader.load(URL(fileURLWithPath: "ksdd2")))
/// let job = DiffusionSynthesisJob(settings: settings, goodImages: goods, masks: SampledDefectMasks(sampler))
/// ```
public struct SampledDefectMasks: DefectMaskProvider, Sendable {
    public var sampler: DefectMaskSampler

    public init(_ sampler: DefectMaskSampler) { self.sampler = sampler }

    public var count: Int { sampler.entries.count }

    /// Entry `index` placed at `width` x `height`. An entry that vanishes at that size (a thin line under nearest
    /// downsizing) even without augmentation throws `DefectSynthesisError.noMasks` (the job skips the sample).
    public func mask(at index: Int, width: Int, height: Int, using rng: inout SplitMix64) throws -> ProvidedMask {
        guard sampler.entries.indices.contains(index) else {
            throw InpaintingError.invalidArgument("mask index \(index) out of range 0..<\(sampler.entries.count)")
        }
        let entry = sampler.entries[index]
        // A sampler over this one entry: the draw of flips / scale / shift (and its fallbacks) stays the sampler's.
        let one = DefectMaskSampler(entries: [entry], augmentation: sampler.augmentation, source: entry.maskFile.path)
        let drawn = try one.sample(width: width, height: height, rng: &rng)
        let p = drawn.placement
        return ProvidedMask(mask: drawn.mask, source: entry.maskFile.path, parameters: [
            "mask_source": "file",
            "mask_flip_h": "\(p.flipHorizontal)", "mask_flip_v": "\(p.flipVertical)", "mask_scale": "\(p.scale)",
            "mask_shift_x": "\(p.shiftX)", "mask_shift_y": "\(p.shiftY)",
        ])
    }

    /// Entry `index` placed at its own size.
    public func mask(at index: Int, using rng: inout SplitMix64) throws -> (mask: Image, source: String) {
        guard sampler.entries.indices.contains(index) else {
            throw InpaintingError.invalidArgument("mask index \(index) out of range 0..<\(sampler.entries.count)")
        }
        let m = sampler.entries[index].mask
        let drawn = try mask(at: index, width: m.width, height: m.height, using: &rng)
        return (drawn.mask, drawn.source)
    }
}
