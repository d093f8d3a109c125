import Foundation
import HTTPTransport
import Testing

/// The client against a scripted server, for responses the module's own server never sends.
@Suite struct ResponseParsingTests {
    @Test func chunkedCloseDelimitedAndInterimResponsesAreRead() async throws {
        let port = serveScripted([
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
            "HTTP/1.0 204 No Content\r\n\r\n",
        ])
        let client = try HTTPClient(tls: nil, logger: testLogger)
        defer { client.shutdown() }
        let url = URL(string: "http://127.0.0.1:\(port)")!
        // The scripted server closes after each response, and says so: whether a pooled connection
        // the server closed without saying so is noticed in time is a race, tested (with a margin)
        // in KeepAliveTests.
        let results = await blocking { (0..<3).map { _ in outcome(client, url: url) } }

        #expect(String(decoding: try results[0].get().body, as: UTF8.self) == "Wikipedia")
        #expect(String(decoding: try results[1].get().body, as: UTF8.self) == "until the end")
        #expect(try results[2].get().status == 204)
    }

    @Test func brokenResponsesFailWithTheRightCode() async throws {
        let port = serveScripted([
            "SSH-2.0-OpenSSH\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\nshort",
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + String(repeating: "x", count: 100),
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n123456",
        ])
        let client = try HTTPClient(tls: nil, maximumResponseBodyBytes: 50, logger: testLogger)
        defer { client.shutdown() }
        let url = URL(string: "http://127.0.0.1:\(port)")!
        let results = await blocking { (0..<4).map { _ in outcome(client, url: url) } }

        #expect(results[0].failure?.code == .protocolError)
        #expect(results[1].failure?.code == .connectionClosed)
        #expect(results[2].failure?.code == .bodyTooLarge)
        #expect(results[3].failure?.code == .protocolError)
        #expect(results.allSatisfy { $0.failure?.requestMayHaveBeenProcessed == true })
    }
}
