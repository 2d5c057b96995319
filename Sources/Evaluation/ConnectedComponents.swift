import Foundation

/// Connected components of a binary mask with 8-connectivity (a full 3x3 neighbourhood), as
/// `cv2.connectedComponents(mask)` (default connectivity 8, used by anomalib's AUPRO) and
/// `scipy.ndimage.label(mask, structure=np.ones((3, 3)))`.
///
/// ```swift
/// let (labels, count) = connectedComponents8(mask: [1, 0, 0, 1], width: 2, height: 2)  // diagonal: 1 region
/// ```
/// - Returns: per-pixel labels (0 = background, 1...count in raster order of each region's first pixel).
func connectedComponents8(mask: [UInt8], width: Int, height: Int) -> (labels: [Int32], count: Int) {
    // mask (H, W), labels (H, W)
    var labels = [Int32](repeating: 0, count: width * height)
    var count: Int32 = 0
    var stack: [Int] = []
    for start in 0..<(width * height) where mask[start] != 0 && labels[start] == 0 {
        count += 1
        labels[start] = count
        stack.append(start)
        while let p = stack.popLast() {   // flood fill, each pixel pushed once
            let y = p / width, x = p % width
            for dy in -1...1 {
                let ny = y + dy
                if ny < 0 || ny >= height { continue }
                for dx in -1...1 {
                    let nx = x + dx
                    if nx < 0 || nx >= width || (dx == 0 && dy == 0) { continue }
                    let q = ny * width + nx
                    if mask[q] != 0 && labels[q] == 0 { labels[q] = count; stack.append(q) }
                }
            }
        }
    }
    return (labels, Int(count))
}
