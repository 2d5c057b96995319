import Foundation

/// A self-contained HTML report (one file: styles, chart code, chart data and images inside it) built from
/// headings, paragraphs, tables, charts and image galleries. Every piece of text is escaped; charts are drawn in
/// the page by charts.js from the specs embedded as JSON.
///
/// ```swift
/// var page = ReportPage(title: "bottle: PatchCore evaluation")
/// page.table(id: "metrics", headers: ["metric", "value"], rows: [["image AUROC", "1.0000"]])
/// page.chart(id: "roc", label: "ROC curve", spec: .curves([...], xLabel: "FPR", yLabel: "TPR", diagonal: true))
/// try AtomicFile.write(Data(page.html(assets: ChartAssets.load()).utf8), to: url)
/// ```
public struct ReportPage: Sendable {
    public struct GalleryItem: Sendable {
        public var caption: String
        public var detail: String
        public var png: Data?
        public init(caption: String, detail: String, png: Data?) { self.caption = caption; self.detail = detail; self.png = png }
    }

    public var title: String
    private var body: [String] = []
    private var charts: [(id: String, spec: ChartSpec)] = []

    public init(title: String) { self.title = title }

    public mutating func heading(_ text: String, level: Int = 2) {
        let h = min(max(level, 2), 4)
        body.append("<h\(h)>\(HTML.escape(text))</h\(h)>")
    }

    public mutating func paragraph(_ text: String, muted: Bool = false) {
        body.append("<p\(muted ? " class=\"muted\"" : "")>\(HTML.escape(text))</p>")
    }

    /// A table; cells that parse as numbers are right-aligned.
    public mutating func table(id: String, headers: [String], rows: [[String]]) {
        var s = "<table id=\"\(HTML.escape(id))\"><thead><tr>"
        s += headers.map { "<th scope=\"col\">\(HTML.escape($0))</th>" }.joined() + "</tr></thead><tbody>"
        for row in rows {
            s += "<tr>" + row.enumerated().map { i, cell in
                let numeric = Double(cell.split(separator: " ").first.map(String.init) ?? "") != nil
                return i == 0 ? "<th scope=\"row\">\(HTML.escape(cell))</th>"
                              : "<td\(numeric ? " class=\"num\"" : "")>\(HTML.escape(cell))</td>"
            }.joined() + "</tr>"
        }
        body.append(s + "</tbody></table>")
    }

    /// An SVG drawn in the page from `spec`; `label` is its accessible name and caption.
    public mutating func chart(id: String, label: String, spec: ChartSpec) {
        charts([(id, label, spec)])
    }

    /// Charts side by side (one column on a narrow screen).
    public mutating func charts(_ list: [(id: String, label: String, spec: ChartSpec)]) {
        var s = "<div class=\"charts\">"
        for c in list {
            charts.append((c.id, c.spec))
            s += "<figure><svg id=\"\(HTML.escape(c.id))\" role=\"img\" aria-label=\"\(HTML.escape(c.label))\"></svg>"
            s += "<figcaption>\(HTML.escape(c.label))</figcaption></figure>"
        }
        body.append(s + "</div>")
    }

    /// Images (PNG, embedded as data URLs) with their captions; an item without an image says so.
    public mutating func gallery(id: String, items: [GalleryItem]) {
        var s = "<div class=\"gallery\" id=\"\(HTML.escape(id))\">"
        for item in items {
            s += "<figure>"
            if let png = item.png {
                s += "<img alt=\"\(HTML.escape(item.caption))\" src=\"data:image/png;base64,\(png.base64EncodedString())\">"
            } else {
                s += "<div class=\"no-image\">no overlay written</div>"
            }
            s += "<figcaption><b>\(HTML.escape(item.caption))</b><br>\(HTML.escape(item.detail))</figcaption></figure>"
        }
        body.append(s + "</div>")
    }

    /// The page. Without `assets` (the resource bundle is not beside the binary) the tables and images are there
    /// and the charts' places say why they are empty.
    public func html(assets: ChartAssets?) throws -> String {
        var specs: [String: ChartSpec] = [:]
        for c in charts { specs[c.id] = c.spec }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = HTML.scriptJSON(try encoder.encode(specs))
        var s = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(HTML.escape(title))</title>
        <style>
        \(Self.pageStyles)
        \(assets?.styles ?? "")
        </style>
        </head>
        <body>
        <h1>\(HTML.escape(title))</h1>

        """
        if assets == nil, !charts.isEmpty {
            s += "<p class=\"warning\" id=\"charts-missing\">Charts not drawn: \(ChartAssets.bundleName) (charts.js) was not beside the patchcore binary when this report was written.</p>\n"
        }
        s += body.joined(separator: "\n")
        s += "\n<script type=\"application/json\" id=\"chart-specs\">\(data)</script>\n"
        if let assets, !charts.isEmpty {
            // charts.js inline (a module script may hold export statements; nothing imports them here).
            s += "<script type=\"module\">\n\(assets.script.replacingOccurrences(of: "</script", with: "<\\/script"))\n"
            s += "drawCharts(document, JSON.parse(document.getElementById('chart-specs').textContent));\n"
            s += "document.body.dataset.chartsDrawn = 'true';\n</script>\n"
        }
        return s + "</body>\n</html>\n"
    }

    static let pageStyles = """
    body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #16181d; background: #fff; margin: 1.5rem auto; max-width: 1100px; padding: 0 1rem; }
    h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
    table { border-collapse: collapse; margin: .5rem 0; } th, td { border-bottom: 1px solid #d5d9e0; padding: .25rem .6rem; text-align: left; }
    td.num { text-align: right; font-variant-numeric: tabular-nums; }
    figure { margin: 0; } figcaption { font-size: .85rem; color: #4f5662; }
    .gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: .8rem; }
    .gallery img { width: 100%; height: auto; image-rendering: auto; border: 1px solid #d5d9e0; }
    .no-image { aspect-ratio: 1; display: grid; place-items: center; background: #eef0f3; color: #4f5662; }
    .muted { color: #4f5662; } .warning { background: #fde2e1; color: #a3120f; padding: .5rem; }
    """
}
