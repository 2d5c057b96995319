/// Antialiased bilinear resize, a port of Pillow's `Image.resize(size, BILINEAR)` (libImaging/Resample.c)
/// for 8-bit images, which is what torchvision `Resize` runs on PIL images. The coefficients and both passes are
/// `PillowResample.swift`'s, with the triangle filter (support 1).
extension Image {
    /// Resized copy, pixel-exact with PIL BILINEAR (and so torchvision `Resize` on PIL images) for
    /// gray and RGB. RGBA is resampled per channel without PIL's alpha premultiplication: call `toRGB()`
    /// first for parity. A zero or negative target size gives an empty image.
    ///
    /// ```swift
    /// let small = image.resized(width: 256, height: 256)
    /// ```
    public func resized(width newWidth: Int, height newHeight: Int) -> Image {
        resampled(width: newWidth, height: newHeight, filter: .bilinear)
    }
}
