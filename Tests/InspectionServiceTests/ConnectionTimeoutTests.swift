import Foundation
import Glibc
import InspectionService
import StoreTestSupport
import Testing

/// Slow clients: a connection that never completes its request head (slowloris, a silent client) is closed by the
/// server after the idle timeout instead of holding a descriptor for as long as the client likes.
@Suite(.serialized) struct ConnectionTimeoutTests {
    /// Opens a TCP connection to loopback, sends `bytes`, and waits (up to `limit` s, a socket receive timeout)
    /// for the server to close it. Returns true when the server closed it, false when the wait ran out.
    func serverCloses(port: Int, after bytes: String, limit: Int) throws -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0, "connect to 127.0.0.1:\(port) failed")
        var timeout = timeval(tv_sec: limit, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if !bytes.isEmpty {
            let sent = bytes.utf8CString.withUnsafeBufferPointer { send(fd, $0.baseAddress, bytes.utf8.count, 0) }
            try #require(sent == bytes.utf8.count)
        }
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &scratch, scratch.count, 0)
            if n == 0 { return true }                      // orderly close by the server
            if n < 0 { return errno == ECONNRESET }        // EAGAIN: the limit ran out with the connection open
        }
    }

    @Test func silentAndHalfHeadConnectionsAreClosedAfterTheIdleTimeout() async throws {
        try await ServiceHarness.with(.sqlite, configure: { $0.idleTimeoutSeconds = 1 }) { h, client in
            let port = try #require(client.port)
            let half = "POST /api/v1/products/bottle/inspect HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(h.operator)\r\n"
            #expect(try serverCloses(port: port, after: half, limit: 20))
            #expect(try serverCloses(port: port, after: "", limit: 20))
            // The server is still there for well-behaved clients.
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
        }
    }

    @Test func withALongIdleTimeoutAHalfHeadIsStillOpen() async throws {
        // The control: the closing above is the idle timeout's doing, not the server dropping half requests.
        try await ServiceHarness.with(.sqlite, configure: { $0.idleTimeoutSeconds = 600 }) { h, client in
            let port = try #require(client.port)
            #expect(try !serverCloses(port: port, after: "POST /api/v1/products/bottle/inspect HTTP/1.1\r\n", limit: 2))
        }
    }
}
