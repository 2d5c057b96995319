import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InspectionService
import StoreTestSupport
import Testing

/// The web app's files: the pages and the chart module shared with the report.html files, served with the
/// security headers; nothing else, whatever the path asks for.
@Suite("Web app files")
struct WebAppTests {
    @Test func servesItsPagesAndTheSharedChartModuleOnly() async throws {
        try await ServiceHarness.with(.sqlite) { _, client in
            let index = try await client.execute(uri: "/", method: .get)
            #expect(index.status == .ok)
            let page = String(buffer: index.body)
            #expect(page.contains("/ui/charts.css") && page.contains("/ui/app.js"))
            let charts = try await client.execute(uri: "/ui/charts.js", method: .get)
            #expect(charts.status == .ok)
            #expect(charts.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(charts.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("script-src 'self'") == true)
            #expect(String(buffer: charts.body).contains("export function drawCharts"))
            #expect(try await client.execute(uri: "/ui/charts.css", method: .get).status == .ok)
            // calibration.js imports the chart module by the path it is served at.
            #expect(String(buffer: try await client.execute(uri: "/ui/calibration.js", method: .get).body).contains("from './charts.js'"))
            for path in ["/ui/..%2FPackage.swift", "/ui/ResourceFolder.swift", "/ui/nothing.js", "/ui/charts.js.map"] {
                #expect(try await client.execute(uri: path, method: .get).status == .notFound, "\(path)")
            }
        }
    }
}
