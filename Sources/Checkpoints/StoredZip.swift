import Foundation
import TensorCore
import ZIPFoundation

/// A minimal, bounded reader of zip archives: the ones torch.save writes (torch >= 1.6), and the image archives
/// the service takes as dataset uploads.
///
/// torch writes every entry *stored* (uncompressed, data aligned to 64 bytes), so an entry is just a byte range
/// of the file: this reader parses the central directory (including zip64 records) of a memory-mapped file and
/// hands out slices of the mapping without copying. ZIPFoundation, which would copy each entry through a
/// consumer closure, is used only as a fallback for compressed entries (an archive re-packed by another tool).
///
/// ```swift
/// let zip = try StoredZip(data: mapped, file: url.path)
/// let pickle = try zip.contents(of: "archive/data.pkl")
/// ```
public struct StoredZip: Sendable {
    struct Entry: Sendable {
        var name: String
        var method: Int
        var compressedSize: Int
        var uncompressedSize: Int
        var localHeaderOffset: Int
    }

    let data: Data
    let file: String
    /// The file `data` maps, when there is one: deflated entries are then streamed from it instead of from a copy.
    let url: URL?
    let limits: InputLimits
    private(set) var entries: [String: Entry] = [:]
    /// Names in central-directory order.
    public private(set) var names: [String] = []

    public init(data: Data, file: String, url: URL? = nil, limits: InputLimits = InputLimits.current) throws {
        self.data = data
        self.file = file
        self.url = url
        self.limits = limits
        try readCentralDirectory()
    }

    init(data: Data, url: URL) throws {
        try self.init(data: data, file: url.path, url: url)
    }

    private func malformed(_ reason: String) -> CheckpointError { .malformed(file: file, reason: "zip: \(reason)") }

    private func u16(_ at: Int) -> Int {
        data.withUnsafeBytes { Int(UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt16.self))) }
    }
    private func u32(_ at: Int) -> Int {
        data.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
    }
    private func u64(_ at: Int) throws -> Int {
        let v = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        guard v <= UInt64(Int32.max) * UInt64(Int32.max) else { throw malformed("implausible 64-bit field \(v)") }
        return Int(v)
    }

    /// `count` bytes at `at` lie inside the file.
    private func inside(_ at: Int, _ count: Int) -> Bool { at >= 0 && count >= 0 && at <= data.count - count }

    private mutating func readCentralDirectory() throws {
        // End of central directory: 22 bytes + comment (<= 65535), searched backwards from the end.
        let n = data.count
        var eocd = -1
        var i = n - 22
        while i >= max(0, n - 22 - 65_535) {
            if u32(i) == 0x0605_4b50 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else {
            throw CheckpointError.truncated(file: file, expectedBytes: n + 22, actualBytes: n)  // no end record
        }
        var entryCount = u16(eocd + 10)
        var cdSize = u32(eocd + 12)
        var cdOffset = u32(eocd + 16)
        // zip64: a locator (20 bytes) right before the end record points to the zip64 end record.
        if eocd >= 20, u32(eocd - 20) == 0x0706_4b50 {
            let z64 = try u64(eocd - 20 + 8)
            guard inside(z64, 56), u32(z64) == 0x0606_4b50 else { throw malformed("bad zip64 end record") }
            entryCount = try u64(z64 + 32)
            cdSize = try u64(z64 + 40)
            cdOffset = try u64(z64 + 48)
        }
        guard inside(cdOffset, cdSize) else {
            throw CheckpointError.truncated(file: file, expectedBytes: TorchCheckpoint.saturatingSum(cdOffset, cdSize), actualBytes: n)
        }
        let cdEnd = cdOffset + cdSize
        var p = cdOffset
        for _ in 0..<entryCount {
            guard inside(p, 46), p + 46 <= cdEnd else {
                throw malformed("central directory truncated: entry at byte \(p) of \(entryCount) declared entries lies outside it")
            }
            guard u32(p) == 0x0201_4b50 else { throw malformed("bad central directory entry at byte \(p)") }
            let method = u16(p + 10)
            var compressed = u32(p + 20)
            var uncompressed = u32(p + 24)
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32)
            var localOffset = u32(p + 42)
            guard inside(p + 46, nameLength + extraLength + commentLength), p + 46 + nameLength + extraLength + commentLength <= cdEnd else {
                throw malformed("central directory entry at byte \(p) overruns the directory")
            }
            let name = data.withUnsafeBytes {
                String(decoding: UnsafeRawBufferPointer(rebasing: $0[(p + 46)..<(p + 46 + nameLength)]), as: UTF8.self)
            }
            // zip64 extended information (id 1): only the fields saturated at 0xFFFFFFFF are present, in this order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(e), size = u16(e + 2)
                guard e + 4 + size <= extraEnd else { throw malformed("extra field of '\(name)' overruns its entry") }
                if id == 1 {
                    var f = e + 4
                    if uncompressed == 0xFFFF_FFFF, f + 8 <= e + 4 + size { uncompressed = try u64(f); f += 8 }
                    if compressed == 0xFFFF_FFFF, f + 8 <= e + 4 + size { compressed = try u64(f); f += 8 }
                    if localOffset == 0xFFFF_FFFF, f + 8 <= e + 4 + size { localOffset = try u64(f); f += 8 }
                }
                e += 4 + size
            }
            try checkName(name)
            guard entries[name] == nil else { throw malformed("entry '\(name)' appears twice") }
            guard compressed >= 0, uncompressed >= 0, inside(localOffset, 30) else {
                throw malformed("entry '\(name)': local header offset \(localOffset) is outside the file")
            }
            // Stored entries are slices of the file; only an inflated one would allocate its declared size.
            if method != 0 {
                try limits.checkTensor(shape: [uncompressed], bytesPerElement: 1, file: file,
                                       tensor: "zip entry '\(name)' (uncompressed size)")
            }
            entries[name] = Entry(name: name, method: method, compressedSize: compressed,
                                  uncompressedSize: uncompressed, localHeaderOffset: localOffset)
            names.append(name)
            p += 46 + nameLength + extraLength + commentLength
        }
    }

    /// The size entry `name` declares once extracted (checked against the limits when it is compressed).
    public func uncompressedSize(of name: String) -> Int? { entries[name]?.uncompressedSize }

    /// Names torch never writes and that would escape a folder if extracted: refused outright.
    private func checkName(_ name: String) throws {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, !name.hasPrefix("/"), !name.contains("\\"), !name.contains("\0"),
              !parts.contains(where: { $0 == ".." }) else {
            throw malformed("entry name '\(name)' is empty, absolute or climbs out of the archive")
        }
    }

    /// The bytes of entry `name`: a slice of the mapping for stored entries, inflated via ZIPFoundation otherwise.
    public func contents(of name: String) throws -> Data {
        guard let entry = entries[name] else { throw malformed("no entry '\(name)'") }
        let h = entry.localHeaderOffset
        guard inside(h, 30), u32(h) == 0x0403_4b50 else { throw malformed("bad local header for '\(name)'") }
        let start = h + 30 + u16(h + 26) + u16(h + 28)
        guard inside(start, entry.compressedSize) else {
            throw CheckpointError.truncated(file: file, expectedBytes: TorchCheckpoint.saturatingSum(start, entry.compressedSize),
                                            actualBytes: data.count)
        }
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.uncompressedSize else { throw malformed("stored entry '\(name)' changes size") }
            return data[(data.startIndex + start) ..< (data.startIndex + start + entry.compressedSize)]
        case 8:
            return try inflate(entry)
        default:
            throw malformed("entry '\(name)' uses compression method \(entry.method); only stored and deflate are supported")
        }
    }

    /// Inflates a deflated entry; never produces more than its declared (and limit-checked) size.
    private func inflate(_ declared: Entry) throws -> Data {
        let name = declared.name
        let limit = declared.uncompressedSize
        do {
            let archive = try url.map { try Archive(url: $0, accessMode: .read) } ?? Archive(data: data, accessMode: .read)
            guard let entry = archive[name] else { throw malformed("no entry '\(name)'") }
            var out = Data()
            _ = try archive.extract(entry) { chunk in
                guard chunk.count <= limit - out.count else {
                    throw malformed("entry '\(name)' inflates to more than its declared \(limit) bytes")
                }
                out.append(chunk)
            }
            guard out.count == limit else {
                throw malformed("entry '\(name)' inflates to \(out.count) bytes, its header says \(limit)")
            }
            return out
        } catch let error as CheckpointError {
            throw error
        } catch {
            // ZIPFoundation's errors are enums without a path; say what failed instead of quoting them.
            throw malformed("cannot inflate '\(name)' (\(String(describing: error)))")
        }
    }
}
