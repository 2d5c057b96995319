import Testing
@testable import Inpainting

@Suite struct InpaintingTargetBuilds { @Test func placeholder() { #expect(Bool(true)) } }
