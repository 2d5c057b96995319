import TensorCore

/// Geometric transforms for sizes that come from input (a file's header, a config file, a request): each checks the
/// size of its result against `InputLimits` (pixels and side) before allocating it, and throws
/// `ImageError.exceedsLimit` naming `file` and the transform ("the result of resize to 256 on the short side is
/// 256x256000000, more than the limit 65535 pixels per side"). A transform that is not told the file names the image
/// it was given ("image"); a caller that knows the path can rename it with `ImageError.naming(_:)`.
///
/// The non-throwing originals (`resized(width:height:)`, ...) remain for sizes the program chose itself.
///
/// ```swift
/// let x = try image.resized(shorterSide: 256, file: url.path).centerCropped(width: 224, height: 224, file: url.path)
/// ```
extension Image {
    /// Throws `.exceedsLimit` unless a `width` x `height` result of `transform` fits `limits`.
    public static func checkTransform(_ transform: String, width: Int, height: Int, file: String,
                                      limits: InputLimits = .current) throws {
        do {
            try limits.checkImage(width: width, height: height, file: file, field: "the result of \(transform)")
        } catch let e as InputLimitError { throw ImageError.exceedsLimit(e) }
    }

    /// `resizedSize(width:height:shorterSide:)`, refused when the result (or `s` itself) is outside `limits`.
    public static func resizedSize(width: Int, height: Int, shorterSide s: Int, file: String,
                                   limits: InputLimits = .current) throws -> (width: Int, height: Int) {
        let transform = "resize to \(s) on the short side"
        guard width > 0, height > 0, s > 0 else {
            throw ImageError.exceedsLimit(InputLimitError(file: file, field: "the result of \(transform)",
                                                          requested: "\(width)x\(height) to \(s)", limit: "at least 1x1"))
        }
        let size = resizedSize(width: width, height: height, shorterSide: s)
        try checkTransform(transform, width: size.width, height: size.height, file: file, limits: limits)
        return size
    }

    /// `resized(width:height:)` (PIL bilinear), refused before allocating when the result is outside `limits`.
    public func resized(width newWidth: Int, height newHeight: Int, file: String,
                        limits: InputLimits = .current) throws -> Image {
        try Image.checkTransform("resize to \(newWidth)x\(newHeight)", width: newWidth, height: newHeight,
                                 file: file, limits: limits)
        return resized(width: newWidth, height: newHeight)
    }

    /// `resized(shorterSide:nearest:)` (torchvision `Resize(S)`), refused before allocating when the result is
    /// outside `limits`: a 1 x 65,500 image resized to 256 on the short side would be 256 x 16,768,000.
    public func resized(shorterSide s: Int, nearest: Bool = false, file: String,
                        limits: InputLimits = .current) throws -> Image {
        let size = try Image.resizedSize(width: width, height: height, shorterSide: s, file: file, limits: limits)
        return nearest ? resizedNearest(width: size.width, height: size.height)
                       : resized(width: size.width, height: size.height)
    }

    /// `resizedNearest(width:height:)`, refused before allocating when the result is outside `limits`.
    public func resizedNearest(width newWidth: Int, height newHeight: Int, file: String,
                               limits: InputLimits = .current) throws -> Image {
        try Image.checkTransform("nearest resize to \(newWidth)x\(newHeight)", width: newWidth, height: newHeight,
                                 file: file, limits: limits)
        return resizedNearest(width: newWidth, height: newHeight)
    }

    /// `resizedLanczos(width:height:box:)`, refused when the result is outside `limits` or the box is not a finite,
    /// non-empty region inside the image (Pillow's own rule).
    public func resizedLanczos(width newWidth: Int, height newHeight: Int,
                               box: (x0: Double, y0: Double, x1: Double, y1: Double)? = nil, file: String,
                               limits: InputLimits = .current) throws -> Image {
        try Image.checkTransform("Lanczos resize to \(newWidth)x\(newHeight)", width: newWidth, height: newHeight,
                                 file: file, limits: limits)
        if let b = box {
            let finite = b.x0.isFinite && b.y0.isFinite && b.x1.isFinite && b.y1.isFinite
            guard finite, b.x0 >= 0, b.y0 >= 0, b.x1 <= Double(width), b.y1 <= Double(height),
                  b.x1 >= b.x0, b.y1 >= b.y0 else {
                throw ImageError.shapeMismatch(what: "\(file): box of Lanczos resize to \(newWidth)x\(newHeight)",
                                               expected: "inside 0,0,\(width),\(height) with x0 <= x1, y0 <= y1",
                                               actual: "\(b.x0),\(b.y0),\(b.x1),\(b.y1)")
            }
        }
        return resizedLanczos(width: newWidth, height: newHeight, box: box)
    }

    /// `cropped(x:y:width:height:)`, refused before allocating when the crop is outside `limits`.
    public func cropped(x: Int, y: Int, width cw: Int, height chh: Int, file: String,
                        limits: InputLimits = .current) throws -> Image {
        try Image.checkTransform("crop to \(cw)x\(chh)", width: cw, height: chh, file: file, limits: limits)
        return cropped(x: x, y: y, width: cw, height: chh)
    }

    /// `centerCropped(width:height:)`, refused before allocating when the crop is outside `limits`.
    public func centerCropped(width cw: Int, height chh: Int, file: String,
                              limits: InputLimits = .current) throws -> Image {
        try Image.checkTransform("center crop to \(cw)x\(chh)", width: cw, height: chh, file: file, limits: limits)
        return centerCropped(width: cw, height: chh)
    }
}

extension Heatmap {
    /// `project(_:covering:ontoWidth:height:)`, refused before allocating when the original's size is outside
    /// `limits` (`file` names the original image).
    public static func project(_ map: Tensor, covering region: (x: Double, y: Double, width: Double, height: Double),
                               ontoWidth width: Int, height: Int, file: String,
                               limits: InputLimits = .current) throws -> Tensor {
        try Image.checkTransform("projection of the heatmap onto \(width)x\(height)", width: width, height: height,
                                 file: file, limits: limits)
        return project(map, covering: region, ontoWidth: width, height: height)
    }
}
