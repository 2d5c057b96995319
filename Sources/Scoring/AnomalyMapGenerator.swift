import TensorCore

/// Pixel anomaly maps from patch scores, as patchcore-inspection `RescaleSegmentor`:
/// patch scores (N, H0, W0) -> bilinear upsampling (align_corners=False) to the model input size
/// -> Gaussian blur, sigma 4, truncate 4 (radius 16), mode 'reflect' (`scipy.ndimage.gaussian_filter`).
///
/// anomalib's `AnomalyMapGenerator` differs slightly: nearest-neighbour upsampling
/// (`F.interpolate` default mode) and kornia's GaussianBlur2d (kernel 2*int(4*sigma+0.5)+1 = 33,
/// reflect padding that excludes the edge sample). This type follows patchcore-inspection.
///
/// ```swift
/// let maps = try AnomalyMapGenerator(height: 224, width: 224).maps(patchScores: scores, grid: (28, 28))
/// maps.shape   // [N, 224, 224]
/// ```
public struct AnomalyMapGenerator: Sendable, Codable, Equatable {
    /// Output (model input) height.
    public var height: Int
    /// Output (model input) width.
    public var width: Int
    /// Gaussian sigma in output pixels (4 in PatchCore).
    public var sigma: Double

    public init(height: Int, width: Int, sigma: Double = 4) {
        self.height = height
        self.width = width
        self.sigma = sigma
    }

    /// patchScores: N * H0 * W0 scores in (n, y, x) order -> maps (N, height, width).
    public func maps(patchScores: [Float], grid: (height: Int, width: Int)) throws -> Tensor {
        guard height > 0, width > 0, sigma > 0 else {
            throw ScoringError.invalidParameter(name: "anomaly map size/sigma", value: "\(height)x\(width), sigma \(sigma)",
                                                expected: "positive size and sigma")
        }
        let plane = grid.height * grid.width
        guard plane > 0, patchScores.count % plane == 0, !patchScores.isEmpty else {
            throw ScoringError.shapeMismatch(what: "patch scores", expected: "N * \(grid.height) * \(grid.width) values",
                                             actual: [patchScores.count])
        }
        let n = patchScores.count / plane
        let grid4 = Tensor(shape: [n, 1, grid.height, grid.width], scalars: patchScores)
        let upsampled = resizeBilinear(grid4, height: height, width: width)
        return gaussianBlur(upsampled, sigma: sigma).reshaped([n, height, width])
    }
}
