import HTTPTypes
import Hummingbird
import InspectionStore

/// Reads `Authorization: Bearer <key>` (or `X-API-Key: <key>`), looks the key's hash up in the store and puts the
/// key's record in the context. A key that is sent but unknown or revoked is refused here (401); a request with no
/// key goes on, and each route's `context.require(role)` decides.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = ServiceContext
    let store: InspectionStore

    func handle(_ request: Request, context: ServiceContext,
                next: (Request, ServiceContext) async throws -> Response) async throws -> Response {
        var context = context
        if let key = Self.key(in: request) {
            guard let identity = try await store.authenticate(key: key) else {
                throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: "unknown or revoked API key")
            }
            context.identity = identity
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
