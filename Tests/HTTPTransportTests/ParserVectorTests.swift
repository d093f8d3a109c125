import Foundation
import HTTPTransport
import Testing

// Framing cases ported from SwiftNIO's NIOHTTP1Tests (HTTPDecoderTest.swift and
// HTTPDecoderLengthTest.swift, Copyright (c) 2017-2021 Apple Inc. and the SwiftNIO project authors,
// Apache License 2.0: https://github.com/apple/swift-nio), rewritten as byte-exact requests sent to
// our HTTPServer over a real socket, with the answers RFC 9112 asks of a server in front of
// other organisations' systems: one way to read each message, or a refusal.

/// The HTTP/1.1 server's request parser, held to each framing rule with byte-exact vectors.
@Suite("HTTP request parsing: byte vectors")
struct ParserVectorTests {
    /// Sends `request` to a fresh echo server; returns what came back before the server closed.
    private func exchange(_ request: String, halfClose: Bool = false) async throws -> String {
        let server = try startServer(handler: echo)
        defer { server.shutdown() }
        let port = server.port
        return await blocking { rawExchange(port: port, sending: Array(request.utf8), halfClose: halfClose) }
    }

    @Test("refused with 400: ambiguous or malformed framing and heads", arguments: [
        // Both Transfer-Encoding and Content-Length: the request-smuggling ambiguity.
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        // Duplicate Content-Length, even agreeing, and a list of them.
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\nab",
        // Content-Length that is not digits.
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\nab",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2a\r\n\r\nab",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
        // Obsolete line folding.
        "GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n\tb\r\n\r\n",
        // Invalid chunk sizes: not hex, signed, spaced, overflowing, missing.
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nab\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2 \r\nab\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n 2\r\nab\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\nab\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\r\nab\r\n0\r\n\r\n",
        // A chunk longer than its size.
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n",
        // Not HTTP/1.x: HTTP/0.9's simple request.
        "GET /a-file\r\n\r\n",
        // Header names with white space or none; control characters; bare LF and bare CR line ends.
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET / HTTP/1.1\r\n: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHo\u{0}st: x\r\n\r\n",
        "GET / HTTP/1.1\nHost: x\n\n",
        "GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n",
        // Request lines with extra or missing parts.
        "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
    ])
    func refused(request: String) async throws {
        let answer = try await exchange(request)
        #expect(answer.hasPrefix("HTTP/1.1 400 "), "\(request.debugDescription) → \(answer.prefix(40).debugDescription)")
    }

    @Test("other versions of HTTP get 505; transfer codings other than chunked 501", arguments: [
        ("GET / HTTP/0.9\r\nHost: x\r\n\r\n", "505"),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", "505"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "501"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", "501"),
    ])
    func unsupported(request: String, status: String) async throws {
        let answer = try await exchange(request)
        #expect(answer.hasPrefix("HTTP/1.1 \(status) "), "\(request.debugDescription) → \(answer.prefix(40).debugDescription)")
    }

    @Test("heads and lines over the limit get 431")
    func limits() async throws {
        let longLine = "GET /\(String(repeating: "a", count: 20_000)) HTTP/1.1\r\nHost: x\r\n\r\n"
        let manyHeaders = "GET / HTTP/1.1\r\nHost: x\r\n" + String(repeating: "X-Header: value\r\n", count: 2_000) + "\r\n"
        for request in [longLine, manyHeaders] {
            let answer = try await exchange(request)
            #expect(answer.hasPrefix("HTTP/1.1 431 "), "\(answer.prefix(40).debugDescription)")
        }
    }

    @Test("accepted as RFC 9112 reads them: blank lines before a request, chunk extensions, trailers, tokens for methods")
    func accepted() async throws {
        let cases: [(String, String)] = [
            ("\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", ""),
            ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2;ext=1\r\nab\r\n1\r\nc\r\n0\r\nX-Trailer: t\r\n\r\n", "abc"),
            ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 003\r\nConnection: close\r\n\r\nabc", "abc"),
            ("SOURCE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", ""),
            ("GET / HTTP/1.1\r\nHost: x\r\nX-Value: \u{00e9}t\u{00e9}\r\nConnection: close\r\n\r\n", ""),
        ]
        for (request, body) in cases {
            let answer = try await exchange(request)
            #expect(answer.hasPrefix("HTTP/1.1 200 "), "\(request.debugDescription) → \(answer.prefix(40).debugDescription)")
            #expect(answer.hasSuffix("\r\n\r\n\(body)"), "\(answer.debugDescription)")
        }
    }

    @Test("pipelined requests are answered in order, each with its own body")
    func pipelined() async throws {
        let answer = try await exchange(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-Request-ID: 1\r\n\r\none"
            + "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Request-ID: 2\r\n\r\n3\r\ntwo\r\n0\r\n\r\n"
            + "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-Request-ID: 3\r\nConnection: close\r\n\r\nthree")
        let responses = answer.components(separatedBy: "HTTP/1.1 200 ").dropFirst()
        #expect(responses.count == 3, "\(answer.debugDescription)")
        for (index, (response, body)) in zip(responses, ["one", "two", "three"]).enumerated() {
            #expect(response.contains("X-Request-ID: \(index + 1)\r\n") && response.hasSuffix("\r\n\r\n\(body)"), "\(response.debugDescription)")
        }
    }

    @Test("a request line, head or body cut off by the client gets no answer, and the server goes on", arguments: [
        "GET / HT", "GET / HTTP/1.1\r\nHost: x", "GET / HTTP/1.1\r\nHost: x\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    ])
    func cutOff(request: String) async throws {
        let answer = try await exchange(request, halfClose: true)
        #expect(!answer.contains("200"), "\(request.debugDescription) → \(answer.debugDescription)")
    }
}
