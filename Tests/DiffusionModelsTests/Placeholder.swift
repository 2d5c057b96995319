import Testing
@testable import DiffusionModels

@Suite struct DiffusionModelsTargetBuilds { @Test func placeholder() { #expect(Bool(true)) } }
