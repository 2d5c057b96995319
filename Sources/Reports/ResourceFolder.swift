import Foundation

/// A folder of a target's resources, looked up where SwiftPM puts `<package>_<target>.resources` (beside the
/// executable) instead of through `Bundle.module`, which stops the process when the bundle is missing: a server
/// answers 503 and a report says what it lacks instead.
public enum ResourceFolder {
    /// `folder` inside the bundle directory `bundle`, if it holds `marker`.
    public static func find(bundle: String, folder: String, containing marker: String) -> URL? {
        var candidates: [URL] = []
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent() {
            candidates.append(executable.appendingPathComponent(bundle))
        }
        candidates.append(Bundle.main.bundleURL.appendingPathComponent(bundle))
        // Test runners: the bundles sit beside the .xctest bundle.
        candidates += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent().appendingPathComponent(bundle) }
        return candidates.map { $0.appendingPathComponent(folder) }
            .first { FileManager.default.fileExists(atPath: $0.appendingPathComponent(marker).path) }
    }
}
