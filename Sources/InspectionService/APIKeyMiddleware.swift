import HTTPTypes
import Hummingbird
import InspectionStore

/// Reads `Authorization: Bearer <key>` (or `X-API-Key: <key>`), looks the key's hash up in the store and puts the
/// key's record in the context. An unknown or revoked key is marked, and a request with no key goes on: each route's
/// `context.require(role)` decides (401 for both on every route that needs a key).
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = ServiceContext
    let store: InspectionStore

    func handle(_ request: Request, context: ServiceContext,
                next: (Request, ServiceContext) async throws -> Response) async throws -> Response {
        var context = context
        if let key = Self.key(in: request) {
            if let identity = try await store.authenticate(key: key) {
                context.identity = identity
            } else {
                context.unknownKey = true
            }
        }
        return try await next(request, context)
    }

    static func key(in request: Request) -> String? {
        if let auth = request.headers[.authorization] {
            let parts = auth.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { return String(parts[1]).trimmingCharacters(in: .whitespaces) }
            return auth   // malformed: treated as a key, which will not match
        }
        if let key = request.headers[HTTPField.Name("X-API-Key")!] { return key }
        return nil
    }
}
