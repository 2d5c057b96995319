import Defects
import Foundation
import ImageIO
import InspectionStore
import TensorCore

/// Where a product's classical synthetic defects may go: the region an expert painted once for the product, else
/// the good images' estimated foreground, else anywhere (a texture that fills the frame, or no good images). The
/// synthesize job and the placement route resolve it the same way, so the studio shows what jobs will use.
enum ProductPlacement {
    enum Source: String, Codable, Sendable { case painted, estimated, none }

    static func resolve(_ product: Product, goods: [URL], blobs: BlobStore,
                        limits: InputLimits = .current) throws -> (region: PlacementRegion?, source: Source) {
        if let painted = product.placementBlob {
            let mask = try ImageFile.decode(try blobs.get(painted), file: "the placement region of \(product.name)", limits: limits)
            return (PlacementRegion(mask: mask, source: "the placement region painted for \(product.name)"), .painted)
        }
        guard !goods.isEmpty, let estimated = try PlacementRegion.estimate(goodImages: goods) else { return (nil, .none) }
        return (estimated, .estimated)
    }

    /// A painted region sent as `mask_base64` (PNG or JPEG, white = the part, any size: it meets each image by
    /// nearest lookup): checked and stored; its blob name.
    static func store(_ encoded: String, blobs: BlobStore, limits: InputLimits) throws -> String {
        guard let data = Data(base64Encoded: encoded), !data.isEmpty else {
            throw StoreError.invalid(field: "mask_base64", problem: "is not base64")
        }
        let mask = try ImageFile.decode(data, file: "mask_base64", limits: limits)
        guard PlacementRegion(mask: mask, source: "mask_base64").mask.pixels.contains(where: { $0 > 127 }) else {
            throw StoreError.invalid(field: "mask_base64", problem: "the region is empty (no pixel above 127): paint the part white")
        }
        return try blobs.put(data)
    }
}
