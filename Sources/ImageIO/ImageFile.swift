import Foundation

/// Reading and writing image files. (Placeholder signatures; implemented with libpng / libjpeg-turbo.)
public enum ImageFile {
    /// Decodes a PNG or JPEG (detected by magic bytes) to 8-bit gray, RGB or RGBA.
    public static func read(_ url: URL) throws -> Image {
        throw ImageError.unreadable(file: url.path, reason: "decoder not implemented yet")
    }

    /// Encodes an 8-bit image as PNG, atomically.
    public static func writePNG(_ image: Image, to url: URL) throws {
        throw ImageError.writeFailed(file: url.path, reason: "encoder not implemented yet")
    }
}
