import Foundation
@testable import TensorCore
import Testing

/// KernelRuntime's malloc settings as a process sees them.
@Suite("KernelRuntime")
struct KernelRuntimeTests {
    /// A 48 MiB buffer (a 1,000 x 1,000 image's first layers need 32-96 MiB) comes from the heap, not from a
    /// mapping of its own: glibc would mmap it (its threshold cannot go above 32 MiB) and fault it in afresh on
    /// every image unless M_MMAP_MAX is 0.
    @Test func largeBuffersAreNotMappedOneByOne() throws {
        KernelRuntime.prepare()
        let bytes = 48 << 20
        // What glibc maps for such a request: the size plus its chunk header, in whole pages.
        let mapped = (bytes + 16 + 4095) / 4096 * 4096
        func ownMappings() throws -> Int {
            let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
            return maps.split(separator: "\n").filter { line in
                let range = line.split(separator: " ")[0].split(separator: "-")
                guard range.count == 2, let lo = UInt(range[0], radix: 16), let hi = UInt(range[1], radix: 16) else { return false }
                return hi - lo == UInt(mapped)
            }.count
        }
        let before = try ownMappings()
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: bytes / 4)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 1, count: bytes / 4)
        let during = try ownMappings()
        #expect(buffer[bytes / 4 - 1] == 1)
        #expect(during == before, "a mapping of exactly \(mapped) bytes appeared for the buffer")
    }
}
