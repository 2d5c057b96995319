import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// Server-sent events (`text/event-stream`) from a poll of the store: `next` is asked every `interval` for what
/// happened since its last call. Polling the store rather than listening inside the process is what lets a client
/// of one replica see what another replica did; the interval bounds the delay. A comment line is sent after 15 s
/// of silence so proxies keep the connection; the stream ends when `next` says so, when the client goes, or when
/// the server shuts down (so a graceful shutdown is not held open by a dashboard).
enum EventStream {
    struct Event: Sendable {
        var id: Int64?
        var name: String
        var data: Data

        var text: String {
            var s = ""
            if let id { s += "id: \(id)\n" }
            s += "event: \(name)\n"
            // JSON from a compact encoder has no newline; a data line must not contain one.
            s += "data: " + String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\n", with: "\ndata: ") + "\n\n"
            return s
        }
    }

    static let keepAlive: Duration = .seconds(15)

    static func response(interval: Duration = .milliseconds(250),
                         next: @escaping @Sendable () async throws -> (events: [Event], done: Bool)) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var quiet: Duration = .zero
            // The client retries after this many ms when the connection drops.
            try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let (events, done) = try await next()
                if !events.isEmpty {
                    try await writer.write(ByteBuffer(string: events.map(\.text).joined()))
                    quiet = .zero
                } else if quiet >= keepAlive {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    quiet = .zero
                }
                if done { break }
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    break
                }
                quiet += interval
            }
            try await writer.finish(nil)
        })
    }

    /// The `Last-Event-ID` a reconnecting client sends, when it is an id this service gave.
    static func lastEventId(_ request: Request) -> Int64? {
        request.headers[HTTPField.Name("Last-Event-ID")!].flatMap { Int64($0) }.flatMap { $0 >= 0 ? $0 : nil }
    }
}

/// What one stream remembers between polls. Only that stream's task touches it, one poll after another, so it
/// needs no lock.
final class StreamState<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

extension JSONEncoder {
    /// One line per document, as an event's data line needs.
    static var compactSnakeCase: JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys]
        return e
    }
}
