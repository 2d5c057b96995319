import Testing
@testable import DiffusionSchedulers

@Suite struct DiffusionSchedulersTargetBuilds { @Test func placeholder() { #expect(Bool(true)) } }
