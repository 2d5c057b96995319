import Foundation

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
        let unet = try Self.jsonObject(at: url(.unet).appendingPathComponent("config.json"))
        let vae = try Self.jsonObject(at: url(.vae).appendingPathComponent("config.json"))
        let blocks = (vae["block_out_channels"] as? [Any])?.count ?? 4
        let factor = 1 << max(0, blocks - 1)
        if let side = unet["sample_size"] as? Int, side > 0 { return (side * factor, side * factor) }
        // A (height, width) pair.
        if let hw = unet["sample_size"] as? [Int], hw.count == 2, hw.allSatisfy({ $0 > 0 }) {
            return (hw[1] * factor, hw[0] * factor)
        }
        let side = family == .stableDiffusionXL ? 1024 : 512
        return (side, side)
    }
}
