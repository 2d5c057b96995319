import Foundation

/// Why an inpainting run could not start or was skipped. Model-file problems are `DiffusionModelError`s (missing file,
/// bad or unsupported config) and scheduler problems `SchedulerError`s; they pass through unchanged.
public enum InpaintingError: Error, CustomStringConvertible, Equatable, Sendable, LocalizedError {
    /// The folder's UNet is not an inpainting UNet (it takes `inChannels` channels, inpainting takes 9).
    case notAnInpaintingModel(file: String, inChannels: Int)
    /// The mask has no pixel at or above half intensity: nothing to paint (the sample is skipped).
    case emptyMask(source: String)
    /// An argument out of range (steps, strength, guidance, working size, ...), with how to fix it.
    case invalidArgument(String)
    /// A component returned a tensor of the wrong shape (a wiring bug or a mismatched model folder).
    case shapeMismatch(what: String, expected: [Int], actual: [Int])

    public var description: String {
        switch self {
        case let .notAnInpaintingModel(file, c):
            return "\(file): in_channels = \(c): this is a text-to-image UNet, not an inpainting one (in_channels = 9: "
                + "latents, mask, masked-image latents). Download an inpainting model, e.g. "
                + "diffusers/stable-diffusion-xl-1.0-inpainting-0.1 or stable-diffusion-v1-5/stable-diffusion-inpainting."
        case let .emptyMask(source): return "\(source): the mask is empty (no pixel >= 128); nothing to inpaint"
        case let .invalidArgument(m): return m
        case let .shapeMismatch(what, e, a): return "\(what) has shape \(a), expected \(e)"
        }
    }

    public var errorDescription: String? { description }
}
