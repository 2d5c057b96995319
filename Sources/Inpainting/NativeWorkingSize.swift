import Foundation
import DiffusionModels
import TensorCore

extension DiffusersModelFolder {
    /// The working size the model was trained at, as diffusers' pipelines default `height` and `width`:
    /// `unet.config.sample_size * vae_scale_factor` with `vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)`
    /// (port of `StableDiffusionInpaintPipeline.__call__` / `StableDiffusionXLInpaintPipeline.default_sample_size`).
    /// 512 for SD 1.5 / 2 inpainting, 1024 for SDXL inpainting. When the configs do not say, the family's usual size.
    ///
    /// ```swift
    /// let size = try DiffusersModelFolder.open(url).nativeSize()   // (1024, 1024) for sdxl-1.0-inpainting-0.1
    /// ```
    public func nativeSize() throws -> (width: Int, height: Int) {
        let unetFile = url(.unet).appendingPathComponent("config.json")
        let vaeFile = url(.vae).appendingPathComponent("config.json")
        let unet = try Self.jsonObject(at: unetFile)
        let vae = try Self.jsonObject(at: vaeFile)
        let blocks = (vae["block_out_channels"] as? [Any])?.count ?? 4
        guard DiffusionConfigRanges.blocks.contains(blocks) else {
            throw DiffusionModelError.outOfRange(file: vaeFile.path, field: "block_out_channels (count)", value: "\(blocks)",
                                                 allowed: "\(DiffusionConfigRanges.blocks)")
        }
        let factor = 1 << (blocks - 1)
        // Checked: sample_size comes from the file; the product must also be an image size the limits allow.
        func scaled(_ h: Int, _ w: Int) throws -> (width: Int, height: Int) {
            let field = "sample_size x vae scale factor \(factor)"
            let size = (width: try CheckedSize.product(w, factor, file: unetFile.path, field: field),
                        height: try CheckedSize.product(h, factor, file: unetFile.path, field: field))
            try InputLimits.current.checkImage(width: size.width, height: size.height, file: unetFile.path, field: field)
            return size
        }
        if let side = unet["sample_size"] as? Int, side > 0 { return try scaled(side, side) }
        // A (height, width) pair.
        if let hw = unet["sample_size"] as? [Int], hw.count == 2, hw.allSatisfy({ $0 > 0 }) {
            return try scaled(hw[0], hw[1])
        }
        let side = family == .stableDiffusionXL ? 1024 : 512
        return (side, side)
    }
}
