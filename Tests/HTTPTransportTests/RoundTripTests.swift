import Foundation
import HTTPTransport
import Synchronization
import Testing
import TestSupport

@Suite struct RoundTripTests {
    @Test func plainHTTPRoundTrip() async throws {
        let seen = Mutex<HTTPRequest?>(nil)
        let server = try startServer { request, peer in
            seen.withLock { $0 = request }
            var headers: HTTPHeaders = ["Content-Type": "text/plain"]
            headers.add(name: "X-Peer", value: peer.certificateSubject ?? "none")
            return .respond(HTTPResponse(status: 201, headers: headers, body: Array("got \(request.body.count)".utf8)))
        }
        defer { server.shutdown() }
        let client = try HTTPClient(tls: nil, logger: testLogger)
        defer { client.shutdown() }
        let request = HTTPRequest(method: "POST", target: "/smsp/pds?x=1", headers: ["Content-Type": "text/xml", "SOAPAction": "urn:a"],
                                  body: Array("<hello/>".utf8))
        let url = server.url(secure: false)
        let result = await blocking { outcome(client, request, url: url) }

        let response = try result.get()
        #expect(response.status == 201)
        #expect(response.reason == "Created")
        #expect(String(decoding: response.body, as: UTF8.self) == "got 8")
        #expect(response.headers["content-type"] == "text/plain")
        #expect(response.headers["X-Peer"] == "none")
        let received = try #require(seen.withLock { $0 })
        #expect(received.method == "POST")
        #expect(received.target == "/smsp/pds?x=1")
        #expect(received.headers["soapaction"] == "urn:a")
        #expect(received.headers["Host"] == "127.0.0.1:\(server.port)")
        #expect(received.body == Array("<hello/>".utf8))
    }

    @Test func mutualTLSRoundTripShowsTheClientCertificateSubject() async throws {
        let server = try startServer(tls: Certificates.server()) { request, peer in
            .respond(HTTPResponse(status: 200, body: Array((peer.certificateSubject ?? "no certificate").utf8) + request.body))
        }
        defer { server.shutdown() }
        let client = try HTTPClient(tls: Certificates.client(), logger: testLogger)
        defer { client.shutdown() }
        let url = server.url(secure: true)
        let result = await blocking { outcome(client, HTTPRequest(method: "POST", body: Array(" ok".utf8)), url: url) }

        let body = String(decoding: try result.get().body, as: UTF8.self)
        #expect(body == "CN=cpis-worker,O=CP-IS SMSP development,C=GB ok")
    }

    @Test func chunkedRequestBodiesAreDecoded() async throws {
        let server = try startServer(handler: echo)
        defer { server.shutdown() }
        let request = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n"
        let port = server.port
        let answer = await blocking { rawExchange(port: port, sending: Array(request.utf8)) }

        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(answer.contains("Content-Length: 12\r\n"))
        #expect(answer.contains("Connection: close\r\n"))
        #expect(answer.hasSuffix("\r\n\r\nhello, world"))
    }

    @Test func headRequestsGetTheLengthButNoBody() async throws {
        let server = try startServer { _, _ in .respond(HTTPResponse(status: 200, body: Array("0123456789".utf8))) }
        defer { server.shutdown() }
        let client = try HTTPClient(tls: nil, logger: testLogger)
        defer { client.shutdown() }
        let url = server.url(secure: false)
        let results = await blocking { [outcome(client, HTTPRequest(method: "HEAD"), url: url), outcome(client, url: url)] }

        #expect(try results[0].get().headers["Content-Length"] == "10")
        #expect(try results[0].get().body.isEmpty)
        #expect(try results[1].get().body == Array("0123456789".utf8))
        #expect(server.acceptedConnections == 1)
    }

    @Test func headersAreOrderedCaseInsensitiveAndMultiValued() {
        var headers: HTTPHeaders = ["Accept": "text/xml", "X-Trace": "a"]
        headers.add(name: "x-trace", value: "b")
        #expect(headers["X-TRACE"] == "a")
        #expect(headers.values(for: "x-trace") == ["a", "b"])
        #expect(headers.map(\.name) == ["Accept", "X-Trace", "x-trace"])
        headers["X-Trace"] = "c"
        #expect(headers.map(\.value) == ["text/xml", "c"])
        headers["accept"] = nil
        #expect(headers.count == 1)
        headers.add(name: "Connection", value: "keep-alive, Close")
        #expect(headers.contains("connection", token: "close"))
        #expect(!headers.contains("connection", token: "upgrade"))
    }

    @Test func requestsThatCannotBeSentFailBeforeConnecting() async throws {
        let client = try HTTPClient(tls: nil, logger: testLogger)
        defer { client.shutdown() }
        let injected = HTTPRequest(headers: ["X-Evil": "a\r\nX-Injected: b"])
        let results = await blocking {
            [outcome(client, injected, url: URL(string: "http://127.0.0.1:9")!),
             outcome(client, url: URL(string: "http://127.0.0.1:9/path")!),
             outcome(client, url: URL(string: "https://127.0.0.1:9")!)]
        }
        #expect(results[0].failure?.code == .invalidRequest)
        #expect(results[1].failure?.code == .invalidRequest)
        #expect(results[1].failure?.message.contains("HTTPRequest.target") == true)
        #expect(results[2].failure?.code == .invalidConfiguration)
        #expect(results.allSatisfy { $0.failure?.requestMayHaveBeenProcessed == false })
    }
}
