import Foundation
import Hummingbird
import ImageIO
import InspectionStore
import Logging
import PatchCore
import TensorCore

/// Turns the library's and the store's errors into HTTP answers: a client's mistake is a 4xx naming what is wrong,
/// an unreachable database a 503, and anything else a 500 whose detail goes to the log, not to the client.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ServiceContext
    /// The service's data folder: library errors name files by path, and a client is never shown where the server
    /// keeps its files (`<data-dir>` instead).
    let dataDirectory: URL

    func handle(_ request: Request, context: ServiceContext,
                next: (Request, ServiceContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPResponseError {
            throw error
        } catch {
            throw Self.httpError(error, logger: context.logger, hiding: dataDirectory)
        }
    }

    static func httpError(_ error: any Error, logger: Logger, hiding folder: URL?) -> HTTPError {
        let http = httpError(error, logger: logger)
        guard let folder, let body = http.body, body.contains(folder.path) else { return http }
        return HTTPError(http.status, headers: http.headers,
                         message: body.replacingOccurrences(of: folder.standardizedFileURL.path, with: "<data-dir>")
                            .replacingOccurrences(of: folder.path, with: "<data-dir>"))
    }

    private static func httpError(_ error: any Error, logger: Logger) -> HTTPError {
        switch error {
        case let e as StoreError:
            switch e {
            case .notFound: return HTTPError(.notFound, message: e.description)
            case .conflict: return HTTPError(.conflict, message: e.description)
            case .invalid, .badBlob: return HTTPError(.badRequest, message: e.description)
            case .unavailable, .closed:
                logger.error("store unavailable: \(e.description)")
                return HTTPError(.serviceUnavailable, headers: [.retryAfter: "5"], message: "the database is unavailable; nothing was recorded")
            case .schemaTooNew, .corruptRow, .queryFailed:
                logger.error("store error: \(e.description)")
                return HTTPError(.internalServerError, message: "internal store error (see the server log)")
            }
        case let e as ImageError:
            switch e {
            case .notAnImage, .unsupported: return HTTPError(.unsupportedMediaType, message: e.description)
            case .exceedsLimit: return HTTPError(.contentTooLarge, message: e.description)
            default: return HTTPError(.unprocessableContent, message: e.description)
            }
        case let e as InputFileError:
            return HTTPError(.unprocessableContent, message: e.description)
        case let e as InputLimitError:
            return HTTPError(.contentTooLarge, message: e.description)
        case let e as PatchCoreError:
            return HTTPError(.unprocessableContent, message: e.description)
        case let e as DecodingError:
            return HTTPError(.badRequest, message: "malformed JSON: \(Self.describe(e))")
        case is CancellationError:
            return HTTPError(.serviceUnavailable, message: "the server is shutting down")
        default:
            logger.error("unexpected error: \(String(describing: error))")
            return HTTPError(.internalServerError, message: "internal error (see the server log)")
        }
    }

    /// A decoding error as "field 'x': problem", without Swift's coding-path dump. Fields are named as the client
    /// wrote them: the API's JSON is snake_case, and a snake-case decoder reports its Swift property names.
    static func describe(_ error: DecodingError) -> String {
        func snake(_ name: String) -> String {
            name.reduce(into: "") { out, c in out += c.isUppercase ? "_" + c.lowercased() : String(c) }
        }
        func path(_ keys: [any CodingKey]) -> String {
            keys.isEmpty ? "the body" : "field '" + keys.map { $0.intValue.map { "[\($0)]" } ?? snake($0.stringValue) }.joined(separator: ".") + "'"
        }
        switch error {
        case let .keyNotFound(key, c): return "\(path(c.codingPath + [key])) is missing"
        case let .typeMismatch(type, c): return "\(path(c.codingPath)) should be \(type)"
        case let .valueNotFound(type, c): return "\(path(c.codingPath)) should be \(type), found null"
        case let .dataCorrupted(c): return "\(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
