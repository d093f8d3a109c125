import Foundation
import HTTPTransport
import Synchronization
import Testing
import TestSupport

@Suite struct FailureTests {
    @Test func noResponseTimesOutAndMayHaveBeenProcessed() async throws {
        let server = try startServer { _, _ in .noResponse }
        defer { server.shutdown() }
        let client = try HTTPClient(tls: nil, logger: testLogger)
        defer { client.shutdown() }
        let url = server.url(secure: false)
        let (result, elapsed) = await blocking {
            let start = ContinuousClock.now
            let result = outcome(client, url: url, timeout: .milliseconds(300))
            return (result, ContinuousClock.now - start)
        }

        let error = try #require(result.failure)
        #expect(error.code == .timeout)
        #expect(error.requestMayHaveBeenProcessed)
        #expect(elapsed >= .milliseconds(300))
        #expect(elapsed < .seconds(2))
    }

    @Test func aResetMidBodyIsAClosedConnection() async throws {
        let server = try startServer(tls: Certificates.server()) { _, _ in
            .resetMidBody(HTTPResponse(status: 200, body: [UInt8](repeating: 0x42, count: 256 * 1024)))
        }
        defer { server.shutdown() }
        let client = try HTTPClient(tls: Certificates.client(), logger: testLogger)
        defer { client.shutdown() }
        let url = server.url(secure: true)
        let result = await blocking { outcome(client, url: url) }

        let error = try #require(result.failure)
        #expect(error.code == .connectionClosed)
        #expect(error.requestMayHaveBeenProcessed)
    }

    @Test func closingWithoutAnAnswerIsAClosedConnection() async throws {
        let server = try startServer { _, _ in .close }
        defer { server.shutdown() }
        let client = try HTTPClient(tls: nil, logger: testLogger)
        defer { client.shutdown() }
        let url = server.url(secure: false)
        let result = await blocking { outcome(client, HTTPRequest(method: "POST", body: [1]), url: url) }

        let error = try #require(result.failure)
        #expect(error.code == .connectionClosed)
        #expect(error.requestMayHaveBeenProcessed)
    }

    @Test func anOversizeBodyGets413AndTheServerGoesOn() async throws {
        let server = try startServer(limits: .init(maximumBodyBytes: 1024 * 1024), handler: echo)
        defer { server.shutdown() }
        let client = try HTTPClient(tls: nil, logger: testLogger)
        defer { client.shutdown() }
        let url = server.url(secure: false)
        let (oversize, normal) = await blocking {
            (outcome(client, HTTPRequest(method: "POST", body: [UInt8](repeating: 0, count: 2 * 1024 * 1024)), url: url),
             outcome(client, HTTPRequest(method: "POST", body: [7]), url: url))
        }

        #expect(try oversize.get().status == 413)
        #expect(try oversize.get().headers["Connection"] == "close")
        #expect(try normal.get().body == [7])
    }

    @Test func garbageGets400AndTheServerGoesOn() async throws {
        let server = try startServer(handler: echo)
        defer { server.shutdown() }
        let client = try HTTPClient(tls: nil, logger: testLogger)
        defer { client.shutdown() }
        let port = server.port
        let url = server.url(secure: false)
        let malformed = [
            "this is not http\r\n\r\n",
            "\u{16}\u{03}\u{01}\u{00}\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nx\r\n0\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        ]
        let (answers, normal) = await blocking {
            (malformed.map { rawExchange(port: port, sending: Array($0.utf8)) },
             outcome(client, HTTPRequest(method: "POST", body: [9]), url: url))
        }

        for (request, answer) in zip(malformed, answers) {
            #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(request.debugDescription)")
        }
        #expect(try normal.get().body == [9])
    }

    @Test func shutdownIsPromptWithAHeldConnectionAndLaterRequestsCannotConnect() async throws {
        let handlerStarted = DispatchSemaphore(value: 0)
        let server = try startServer { _, _ in
            handlerStarted.signal()
            return .noResponse
        }
        let client = try HTTPClient(tls: nil, logger: testLogger)
        defer { client.shutdown() }
        let url = server.url(secure: false)
        let (held, shutdownTook, later) = await blocking {
            let held = Mutex<Result<HTTPResponse, HTTPTransportError>?>(nil)
            let finished = DispatchSemaphore(value: 0)
            Thread {
                let result = outcome(client, url: url, timeout: .seconds(10))
                held.withLock { $0 = result }
                finished.signal()
            }.start()
            handlerStarted.wait()
            let start = ContinuousClock.now
            server.shutdown()
            let shutdownTook = ContinuousClock.now - start
            finished.wait()
            return (held.withLock { $0 }, shutdownTook, outcome(client, url: url))
        }

        #expect(shutdownTook < .seconds(1))
        #expect(held?.failure?.code == .connectionClosed)
        #expect(later.failure?.code == .connectFailed)
        #expect(later.failure?.requestMayHaveBeenProcessed == false)
    }

    @Test func aShutDownClientRefusesRequests() async throws {
        let client = try HTTPClient(tls: nil, logger: testLogger)
        client.shutdown()
        let result = await blocking { outcome(client, url: URL(string: "http://127.0.0.1:9")!) }

        #expect(result.failure?.code == .shutDown)
        #expect(result.failure?.requestMayHaveBeenProcessed == false)
    }
}
