import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Reports

/// The web app (`/` and `/ui/*`): plain HTML, CSS and JavaScript modules from the target's resources, no build step.
/// The pages talk to the documented REST API only, with the key the user signs in with held in the tab's
/// sessionStorage and sent as a Bearer header (never a cookie, so no request is sent with credentials by another
/// site). Every page answer carries a Content-Security-Policy that allows this origin's scripts only.
struct WebApp: Sendable {
    static let contentTypes = ["html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
                               "js": "text/javascript; charset=utf-8"]

    /// Where the app's files are: the resource bundle SwiftPM builds beside the binary
    /// (PatchCoreSwift_InspectionService.resources); `Bundle.module` would stop the process when it is missing, a
    /// server answers 503 instead.
    let folder: URL?
    /// The files served, by name: the folder's at start-up plus the shared chart module (charts.js, charts.css from
    /// the Reports target); nothing else is ever read, whatever the path asks for.
    let files: [String: URL]

    init() {
        folder = ResourceFolder.find(bundle: "PatchCoreSwift_InspectionService.resources", folder: "WebUI", containing: "index.html")
        var files: [String: URL] = [:]
        for name in folder.flatMap({ try? FileManager.default.contentsOfDirectory(atPath: $0.path) }) ?? [] {
            files[name] = folder?.appendingPathComponent(name)
        }
        if let charts = ChartAssets.folder {
            for name in ChartAssets.files { files[name] = charts.appendingPathComponent(name) }
        }
        self.files = files
    }

    static let securityHeaders: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        .cacheControl: "no-cache",
    ]

    func add(to router: Router<ServiceContext>) {
        router.get("/") { _, _ in try serve("index.html") }
        router.get("/ui/{file}") { _, context in try serve(try context.parameters.require("file")) }
    }

    static let missing = HTTPError(.serviceUnavailable, message: "the web app's files (PatchCoreSwift_InspectionService.resources beside the binary) are missing")

    func serve(_ name: String) throws -> Response {
        guard let folder else { throw Self.missing }
        guard let file = files[name], let type = Self.contentTypes[(name as NSString).pathExtension] else {
            throw HTTPError(.notFound, message: "no page '\(name.prefix(64))'")
        }
        guard let data = FileManager.default.contents(atPath: file.path) else { throw Self.missing }
        var headers = Self.securityHeaders
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
