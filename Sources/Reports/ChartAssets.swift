import Foundation

/// The chart module and its styles (`Charts/charts.js`, `Charts/charts.css`): served by the web app at `/ui/` and
/// inlined into every report.html, so one piece of code draws the project's charts.
public struct ChartAssets: Sendable {
    public static let files = ["charts.js", "charts.css"]
    public static let bundleName = "PatchCoreSwift_Reports.resources"

    public var script: String
    public var styles: String

    public init(script: String, styles: String) { self.script = script; self.styles = styles }

    /// The folder holding the files, nil when the resource bundle is not beside the binary.
    public static let folder: URL? = ResourceFolder.find(bundle: bundleName, folder: "Charts", containing: "charts.js")

    /// The files' text, nil when the resource bundle is not beside the binary.
    public static func load() -> ChartAssets? {
        guard let folder,
              let script = try? String(contentsOf: folder.appendingPathComponent("charts.js"), encoding: .utf8),
              let styles = try? String(contentsOf: folder.appendingPathComponent("charts.css"), encoding: .utf8)
        else { return nil }
        return ChartAssets(script: script, styles: styles)
    }
}
