import Foundation
import HTTPTypes
import Hummingbird
import InspectionStore
import NIOCore
import NIOFoundationCompat

/// One route of the REST API: how it is called, who may call it, and what it does. The router and the OpenAPI
/// document are both built from the one table (`InspectionAPI.routes`), so they cannot disagree.
struct APIRoute: Sendable {
    var method: HTTPRequest.Method
    /// OpenAPI form: `/api/v1/products/{product}/inspect`.
    var path: String
    /// nil: public (health, readiness, the document itself).
    var role: Role?
    var operationId: String
    var summary: String
    /// Query parameters: name, type, description. Types: `string`, `number`, `boolean`, `integer [MIN...[MAX]]`,
    /// `text MIN...MAX` (printable characters), `enum A|B|C` (see `OpenAPIDocument.querySchema`).
    var query: [(name: String, type: String, description: String)] = []
    /// Request body media types -> schema name (nil: none).
    var body: (mediaTypes: [String], schema: String?)? = nil
    /// The success status and schema name (nil: no JSON body, e.g. an image).
    var success: (status: Int, schema: String?, mediaType: String) = (200, nil, "application/json")
    var handler: @Sendable (Request, ServiceContext) async throws -> Response

    /// Hummingbird's form: `/api/v1/products/:product/inspect`.
    var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? ":" + part.dropFirst().dropLast() : String(part)
        }.joined(separator: "/")
    }

    var pathParameters: [String] {
        path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) }
    }
}

/// Reading a request's parts with 400s that name the parameter.
enum RequestParts {
    static func query<T: LosslessStringConvertible>(_ request: Request, _ name: String, as: T.Type) throws -> T? {
        guard let text = request.uri.queryParameters[name[...]] else { return nil }
        guard let value = T(String(text)) else {
            throw HTTPError(.badRequest, message: "query parameter '\(name)': '\(text.prefix(40))' is not a valid \(T.self)")
        }
        return value
    }

    static func queryEnum<T: RawRepresentable>(_ request: Request, _ name: String, as: T.Type) throws -> T?
    where T.RawValue == String, T: CaseIterable {
        guard let text = request.uri.queryParameters[name[...]] else { return nil }
        guard let value = T(rawValue: String(text)) else {
            throw HTTPError(.badRequest, message: "query parameter '\(name)': '\(text.prefix(40))' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// `?limit=`: 1 to `max`, `default` when absent.
    static func limit(_ request: Request, default value: Int, max: Int) throws -> Int {
        let limit = try query(request, "limit", as: Int.self) ?? value
        guard (1...max).contains(limit) else { throw HTTPError(.badRequest, message: "query parameter 'limit' must be 1-\(max)") }
        return limit
    }

    static func id(_ context: ServiceContext, _ name: String) throws -> Int64 {
        let text = try context.parameters.require(name)
        guard let v = Int64(text), v > 0 else {
            throw HTTPError(.badRequest, message: "path parameter '\(name)': '\(text.prefix(40))' is not a positive integer")
        }
        return v
    }

    /// The whole body, refused with 413 past `limit` bytes (before it is all read).
    static func body(_ request: Request, limit: Int, option: String = "--max-upload-mb") async throws -> Data {
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: limit)
            return Data(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw HTTPError(.contentTooLarge, message: "the body is larger than \(limit) bytes (\(option))")
        }
    }

    static func json<T: Decodable>(_ request: Request, _ context: ServiceContext, as type: T.Type) async throws -> T {
        let data = try await body(request, limit: 1 << 20)
        guard !data.isEmpty else { throw HTTPError(.badRequest, message: "the request needs a JSON body") }
        do {
            return try context.requestDecoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            // Foundation reports a number that does not fit its field (1e30 for an integer, -1 for an unsigned one)
            // as invalid JSON at the root; say what it is when the body does parse.
            if case let .dataCorrupted(c) = error, c.codingPath.isEmpty, (try? JSONSerialization.jsonObject(with: data)) != nil {
                throw HTTPError(.badRequest, message: "malformed JSON: a number is out of its field's range (a negative, fractional or too large value for an integer field)")
            }
            throw HTTPError(.badRequest, message: "malformed JSON: \(ErrorMiddleware.describe(error))")
        }
    }
}

extension ResponseEncodable {
    func response(_ status: HTTPResponse.Status, _ request: Request, _ context: ServiceContext) throws -> Response {
        var response = try self.response(from: request, context: context)
        response.status = status
        return response
    }
}
