/// Pillow's 8-bit LANCZOS resample (libImaging/Resample.c), the `resample="lanczos"` of diffusers'
/// `VaeImageProcessor`, which prepares SD / SDXL inpainting images and masks. The coefficients and both passes are
/// `PillowResample.swift`'s, with the Lanczos-3 filter.
extension Image {
    /// Pillow `Image.resize((width, height), LANCZOS, box)` for gray and RGB 8-bit images, pixel-exact.
    /// `box` is the source region `(x0, y0, x1, y1)` in (fractional) pixels, the whole image when nil.
    /// The same size without a box returns the image unchanged, as Pillow does.
    ///
    /// ```swift
    /// let small = image.resizedLanczos(width: 512, height: 512)
    /// ```
    public func resizedLanczos(width newWidth: Int, height newHeight: Int,
                               box: (x0: Double, y0: Double, x1: Double, y1: Double)? = nil) -> Image {
        resampled(width: newWidth, height: newHeight, filter: .lanczos, box: box)
    }
}
