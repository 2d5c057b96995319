/// Pixel neighbourhood that joins two foreground pixels into one component.
public enum Connectivity: Sendable {
    /// Edge neighbours only (`scipy.ndimage.label` default structure, `cv2` connectivity 4).
    case four
    /// Edge and corner neighbours, a full 3x3 neighbourhood (`cv2.connectedComponents` default,
    /// `scipy.ndimage.label(mask, structure=np.ones((3, 3)))`).
    case eight
}

/// Connected components of a binary mask (any nonzero byte is foreground).
///
/// Labels run 1...count in raster order of each component's first pixel, as `cv2.connectedComponents` and
/// `scipy.ndimage.label` number them; 0 is background. Iterative flood fill with an explicit stack (masks can
/// hold components of millions of pixels), each pixel pushed once.
///
/// ```swift
/// let cc = connectedComponents(mask: [1, 0, 0, 1], width: 2, height: 2)   // diagonal: count 1
/// let cc4 = connectedComponents(mask: [1, 0, 0, 1], width: 2, height: 2, connectivity: .four)  // count 2
/// ```
/// - Parameters:
///   - mask: (H, W) row-major bytes, nonzero = foreground.
/// - Returns: per-pixel labels (H, W) and the number of components.
public func connectedComponents(mask: [UInt8], width: Int, height: Int,
                                connectivity: Connectivity = .eight) -> (labels: [Int32], count: Int) {
    // mask (H, W), labels (H, W)
    precondition(width >= 0 && height >= 0 && mask.count == width * height,
                 "mask holds \(mask.count) bytes, expected \(width) x \(height)")
    var labels = [Int32](repeating: 0, count: width * height)
    var count: Int32 = 0
    var stack: [Int] = []
    for start in 0..<(width * height) where mask[start] != 0 && labels[start] == 0 {
        count += 1
        labels[start] = count
        stack.append(start)
        while let p = stack.popLast() {
            let y = p / width, x = p % width
            for dy in -1...1 {
                let ny = y + dy
                if ny < 0 || ny >= height { continue }
                for dx in -1...1 {
                    let nx = x + dx
                    if nx < 0 || nx >= width || (dx == 0 && dy == 0) { continue }
                    if connectivity == .four && dx != 0 && dy != 0 { continue }
                    let q = ny * width + nx
                    if mask[q] != 0 && labels[q] == 0 { labels[q] = count; stack.append(q) }
                }
            }
        }
    }
    return (labels, Int(count))
}
