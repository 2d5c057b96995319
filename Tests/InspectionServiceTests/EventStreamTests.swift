import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InspectionService
import InspectionStore
import NIOCore
import StoreTestSupport
import Testing

/// One server-sent event as a client parses it.
struct ServerEvent: Sendable {
    var id: String?
    var name: String
    var data: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:] }
}

/// Parses `text/event-stream` text into complete events (the remainder stays for the next chunk).
func parseEvents(_ text: inout String) -> [ServerEvent] {
    var events: [ServerEvent] = []
    while let end = text.range(of: "\n\n") {
        let block = text[..<end.lowerBound]
        text = String(text[end.upperBound...])
        var event = ServerEvent(id: nil, name: "message", data: "")
        var data: [String] = []
        for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(":") { continue }
            if line.hasPrefix("id: ") { event.id = String(line.dropFirst(4)) }
            if line.hasPrefix("event: ") { event.name = String(line.dropFirst(7)) }
            if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
        }
        guard !data.isEmpty else { continue }   // retry: and keep-alive blocks
        event.data = data.joined(separator: "\n")
        events.append(event)
    }
    return events
}

/// Job progress and live inspections as server-sent events, read by a real HTTP client as they stream.
@Suite(.serialized) struct EventStreamTests {
    /// Opens the stream, runs `meanwhile` once it is open, and reads until `count` events have come.
    func stream(port: Int, path: String, key: String, lastEventId: Int64? = nil, count: Int,
                meanwhile: @Sendable () async throws -> Void = {}) async throws -> (status: Int, type: String, events: [ServerEvent]) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let lastEventId { request.headers.add(name: "Last-Event-ID", value: String(lastEventId)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let type = response.headers.first(name: "Content-Type") ?? ""
        guard response.status == .ok else { return (Int(response.status.code), type, []) }
        try await meanwhile()
        var text = "", events: [ServerEvent] = []
        for try await chunk in response.body {
            text += String(buffer: chunk)
            events += parseEvents(&text)
            if events.count >= count { break }
        }
        return (200, type, events)
    }

    @Test func jobProgressStreamsUntilTheJobEnds() async throws {
        let fixture = try ServiceFixture.shared()
        try await ServiceHarness.with(.sqlite, configure: { $0.jobPollSeconds = 0.05 }) { h, client in
            try await deployModel(h, client)
            for image in fixture.good + fixture.good.prefix(4) {
                _ = try await client.execute(uri: "/api/v1/products/bottle/datasets/good", method: .post,
                                             headers: imageHeaders(h.expert), body: buffer(image))
            }
            let job = object(try await client.execute(uri: "/api/v1/products/bottle/jobs/fit", method: .post,
                                                      headers: jsonHeaders(h.expert), body: buffer(#"{"coreset_ratio": 0.1}"#)))
            let id = job["id"] as! Int
            // The stream ends by itself after the job's end state, so the whole answer can be read.
            let r = try await client.execute(uri: "/api/v1/jobs/\(id)/events", method: .get, headers: auth(h.operator))
            #expect(r.status == .ok)
            #expect(r.headers[.contentType] == "text/event-stream")
            var body = text(r)
            let events = parseEvents(&body)
            #expect(events.count >= 2 && events.allSatisfy { $0.name == "job" }, "\(events.map(\.data))")
            let states = events.map { $0.json["state"] as? String ?? "" }
            #expect(states.last == "succeeded", "\(states)")
            #expect(states.contains("running") || states.contains("queued"))
            // Progress only moves forward within a stage, and no two events are the same.
            #expect(Set(events.map(\.data)).count == events.count)
            #expect((events.last?.json["result"] as? String)?.contains("model_version_id") == true)
            #expect(try await client.execute(uri: "/api/v1/jobs/999/events", method: .get, headers: auth(h.operator)).status == .notFound)
        }
    }

    @Test(arguments: Backend.allCases)
    func inspectionsStreamLiveAndResumeFromLastEventId(_ backend: Backend) async throws {
        let fixture = try ServiceFixture.shared()
        try await ServiceHarness.with(backend) { h, client in
            try await deployModel(h, client)
            let port = try #require(client.port)
            // One inspection before the stream opens: a new stream starts after it.
            let before = object(try await client.execute(uri: "/api/v1/products/bottle/inspect", method: .post,
                                                         headers: imageHeaders(h.operator), body: buffer(fixture.good[3])))
            let ids = IdList()
            let live = try await stream(port: port, path: "/api/v1/products/bottle/events", key: h.operator, count: 3) {
                for image in [fixture.defects[0], fixture.good[0], fixture.good[1]] {
                    let r = try await client.execute(uri: "/api/v1/products/bottle/inspect", method: .post,
                                                     headers: imageHeaders(h.operator), body: buffer(image))
                    await ids.add(object(r)["id"] as! Int)
                }
            }
            #expect(live.type == "text/event-stream")
            let sent = await ids.items
            #expect(live.events.map(\.name) == ["inspection", "inspection", "inspection"])
            #expect(live.events.compactMap { $0.id.flatMap(Int.init) } == sent, "\(live.events.map(\.id))")
            #expect(!sent.contains(before["id"] as! Int))
            #expect(live.events.map { $0.json["id"] as? Int ?? -1 } == sent)
            #expect(live.events.first?.json["decision"] as? String == "anomalous")
            #expect(live.events.allSatisfy { ($0.json["overlay_url"] as? String)?.hasPrefix("/api/v1/blobs/") == true })
            // A client that reconnects with the first event's id gets the two after it at once.
            let resumed = try await stream(port: port, path: "/api/v1/products/bottle/events", key: h.operator,
                                           lastEventId: Int64(sent[0]), count: 2)
            #expect(resumed.events.compactMap { $0.id.flatMap(Int.init) } == Array(sent.dropFirst()))
            // Unknown product, no key.
            #expect(try await stream(port: port, path: "/api/v1/products/nope/events", key: h.operator, count: 1).status == 404)
            #expect(try await stream(port: port, path: "/api/v1/products/bottle/events", key: "pc_wrong", count: 1).status == 401)
        }
    }
}

actor IdList {
    private(set) var items: [Int] = []
    func add(_ id: Int) { items.append(id) }
}
