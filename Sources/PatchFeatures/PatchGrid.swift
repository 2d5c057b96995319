/// Geometry of the patch grid that patch features are laid out on.
///
/// Feature row `(n * height + y) * width + x` belongs to image `n`, grid cell `(y, x)`; the cell
/// covers about `strideY x strideX` input pixels (input size / grid size).
///
/// ```swift
/// let grid = PatchGrid(batch: 1, height: 28, width: 28, inputHeight: 224, inputWidth: 224)
/// grid.stride   // (8.0, 8.0)
/// ```
public struct PatchGrid: Sendable, Codable, Equatable {
    /// Images N.
    public var batch: Int
    /// Grid height H0 (rows of the finest tap).
    public var height: Int
    /// Grid width W0 (columns of the finest tap).
    public var width: Int
    /// Model input height / H0.
    public var strideY: Double
    /// Model input width / W0.
    public var strideX: Double

    public init(batch: Int, height: Int, width: Int, inputHeight: Int, inputWidth: Int) {
        self.batch = batch
        self.height = height
        self.width = width
        self.strideY = height > 0 ? Double(inputHeight) / Double(height) : 0
        self.strideX = width > 0 ? Double(inputWidth) / Double(width) : 0
    }

    /// Patches per image, H0 * W0.
    public var patchesPerImage: Int { height * width }
    /// All patches, N * H0 * W0.
    public var patchCount: Int { batch * height * width }
    public var stride: (y: Double, x: Double) { (strideY, strideX) }

    enum CodingKeys: String, CodingKey {
        case batch, height, width
        case strideY = "stride_y"
        case strideX = "stride_x"
    }
}
