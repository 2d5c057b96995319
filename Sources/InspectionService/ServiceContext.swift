import Foundation
import Hummingbird
import InspectionStore
import Logging

/// Each request's context: Hummingbird's core storage plus the API key that signed the request, if any.
public struct ServiceContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `APIKeyMiddleware` when the request carries a valid key.
    public var identity: APIKey?
    /// The request carried a key that is unknown or revoked: refused by every route that needs a key, ignored by
    /// the public ones (a probe with a stale header still gets its health answer).
    public var unknownKey = false

    public init(source: Source) {
        coreContext = .init(source: source)
        identity = nil
    }

    private var missingKey: HTTPError {
        unknownKey ? HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: "unknown or revoked API key")
            : HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"],
                        message: "this route needs an API key (Authorization: Bearer <key>)")
    }

    /// JSON in and out with snake_case names, as the OpenAPI document describes.
    public var requestDecoder: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }

    public var responseEncoder: JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys]
        return e
    }

    /// The key that signed this request (the router has already checked its role); 401 when there is none.
    public func caller() throws -> APIKey {
        guard let identity else { throw missingKey }
        return identity
    }

    /// 401 without a key, 403 with a key whose role is below `role`.
    public func require(_ role: Role) throws -> APIKey {
        guard let identity else { throw missingKey }
        guard identity.role >= role else {
            throw HTTPError(.forbidden, message: "this route needs the \(role.rawValue) role; key '\(identity.name)' is \(identity.role.rawValue)")
        }
        return identity
    }
}
