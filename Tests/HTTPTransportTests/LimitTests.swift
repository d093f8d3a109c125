import Foundation
import Logging
import HTTPTransport
import Testing

/// The server's bounds on what clients may take: connections in all and per client, head and body
/// sizes. (Heads over the default limit and Content-Length bodies over it are in ParserVectorTests
/// and FailureTests.)
@Suite struct LimitTests {
    @Test func aClientOverItsConnectionLimitIsRefusedUntilOneOfItsConnectionsCloses() async throws {
        let server = try startServer(limits: .init(maximumConnectionsPerClient: 2), handler: echo)
        defer { server.shutdown() }
        let port = server.port
        let seen = await blocking {
            var open = [RawConnection(port: port), RawConnection(port: port)]
            let answers = open.map { $0?.get() }
            let thirdRefused = RawConnection(port: port)?.isClosedByServer ?? false
            let refusedThen = server.refusedConnections
            let secondAfterRefusal = open[1]?.get()
            #if os(Linux)
            // Linux routes all of 127.0.0.0/8 to the loopback interface: another client address.
            let otherClient = RawConnection(port: port, from: "127.0.0.2")?.get()
            #else
            let otherClient: String? = nil
            #endif
            open.removeFirst()
            // The server frees the slot once its thread has seen the close: try until it has.
            let afterClose = withExtendedLifetime(open) {
                eventually { RawConnection(port: port)?.get().hasPrefix("HTTP/1.1 200 ") == true }
            }
            return (answers, thirdRefused, refusedThen, secondAfterRefusal, otherClient, afterClose)
        }

        let (answers, thirdRefused, refusedThen, secondAfterRefusal, otherClient, afterClose) = seen
        for answer in answers {
            #expect(answer?.hasPrefix("HTTP/1.1 200 ") == true, "\(answer.debugDescription)")
        }
        #expect(thirdRefused)
        #expect(refusedThen == 1)
        #expect(secondAfterRefusal?.hasPrefix("HTTP/1.1 200 ") == true)
        if let otherClient {
            #expect(otherClient.hasPrefix("HTTP/1.1 200 "), "the limit is per client address")
        }
        #expect(afterClose)
    }

    /// A worker calls the SMSP on one connection per slot, all from one address: a server given no
    /// limit per client (the SMSP simulator) must not refuse it below its limit in all. (A default
    /// of 64 per client once made the simulator refuse a 256-slot worker's connections.)
    @Test func withoutALimitPerClientOneClientMayOpenAsManyConnectionsAsTheServerAllows() async throws {
        let server = try startServer(limits: .init(maximumConnections: 100), handler: echo)
        defer { server.shutdown() }
        let port = server.port
        let (answers, overLimitRefused) = await blocking {
            let open = (0..<100).map { _ in RawConnection(port: port) }
            let answers = open.map { $0?.get() }
            let overLimitRefused = RawConnection(port: port)?.isClosedByServer ?? false
            return withExtendedLifetime(open) { (answers, overLimitRefused) }
        }

        #expect(answers.count { $0?.hasPrefix("HTTP/1.1 200 ") == true } == 100)
        #expect(overLimitRefused, "the limit in all still holds")
        #expect(server.refusedConnections == 1)
    }

    /// A client reconnecting in a loop after a refusal is logged once (with a count the next time),
    /// not once per attempt; the refusals are all counted.
    @Test func refusalsAreLoggedOnceAMinutePerClientAndAllCounted() async throws {
        let log = RecordingLogHandler()
        let server = try HTTPServer(host: "127.0.0.1", port: 0, tls: nil, limits: .init(maximumConnectionsPerClient: 1),
                                    logger: Logger(label: "test.http") { _ in log })
        try server.start(handler: echo)
        defer { server.shutdown() }
        let port = server.port
        let refusals = await blocking {
            let held = RawConnection(port: port)
            _ = held?.get()
            let refusals = (0..<20).map { _ in RawConnection(port: port)?.isClosedByServer ?? false }
            return withExtendedLifetime(held) { refusals }
        }

        #expect(refusals.allSatisfy { $0 })
        #expect(server.refusedConnections == 20)
        let warnings = log.recorded.filter { $0.hasPrefix("connection refused") }
        #expect(warnings == ["connection refused: at the connection limit per client"], "\(warnings)")
    }

    @Test func aConnectionOverTheServersLimitIsRefused() async throws {
        let server = try startServer(limits: .init(maximumConnections: 2), handler: echo)
        defer { server.shutdown() }
        let port = server.port
        let (answers, thirdRefused) = await blocking {
            let open = [RawConnection(port: port), RawConnection(port: port)]
            let answers = open.map { $0?.get() }
            let thirdRefused = RawConnection(port: port)?.isClosedByServer ?? false
            return (answers + open.map { $0?.get() }, thirdRefused)
        }

        for answer in answers {
            #expect(answer?.hasPrefix("HTTP/1.1 200 ") == true, "\(answer.debugDescription)")
        }
        #expect(thirdRefused)
        #expect(server.refusedConnections == 1)
        #expect(server.acceptedConnections == 2)
    }

    @Test func aConfiguredHeadLimitGets431() async throws {
        let server = try startServer(limits: .init(maximumHeaderBytes: 1024), handler: echo)
        defer { server.shutdown() }
        let port = server.port
        @Sendable func request(headerBytes: Int) -> [UInt8] {
            Array("GET / HTTP/1.1\r\nHost: x\r\nX-Padding: \(String(repeating: "p", count: headerBytes))\r\nConnection: close\r\n\r\n".utf8)
        }
        let (under, over) = await blocking {
            (rawExchange(port: port, sending: request(headerBytes: 500)), rawExchange(port: port, sending: request(headerBytes: 2000)))
        }

        #expect(under.hasPrefix("HTTP/1.1 200 "), "\(under.prefix(40).debugDescription)")
        #expect(over.hasPrefix("HTTP/1.1 431 "), "\(over.prefix(40).debugDescription)")
    }

    @Test func aChunkedBodyOverTheLimitGets413() async throws {
        let server = try startServer(limits: .init(maximumBodyBytes: 1000), handler: echo)
        defer { server.shutdown() }
        let port = server.port
        @Sendable func request(chunks: Int) -> [UInt8] {
            let chunk = "190\r\n\(String(repeating: "c", count: 400))\r\n" // 0x190 = 400 bytes
            return Array("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\(String(repeating: chunk, count: chunks))0\r\n\r\n".utf8)
        }
        let (under, over) = await blocking {
            (rawExchange(port: port, sending: request(chunks: 2)), rawExchange(port: port, sending: request(chunks: 3)))
        }

        #expect(under.hasPrefix("HTTP/1.1 200 "), "\(under.prefix(40).debugDescription)")
        #expect(over.hasPrefix("HTTP/1.1 413 "), "\(over.prefix(40).debugDescription)")
    }
}

/// Checks `condition` every 20 ms until it holds (`true`) or 5 s pass (`false`).
private func eventually(_ condition: () -> Bool) -> Bool {
    let end = ContinuousClock.now + .seconds(5)
    while ContinuousClock.now < end {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return false
}
