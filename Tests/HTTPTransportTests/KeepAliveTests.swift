import Foundation
import HTTPTransport
import Synchronization
import Testing
import TestSupport

@Suite struct KeepAliveTests {
    @Test func sequentialRequestsShareOneConnection() async throws {
        let server = try startServer(handler: echo)
        defer { server.shutdown() }
        let client = try HTTPClient(tls: nil, logger: testLogger)
        defer { client.shutdown() }
        let url = server.url(secure: false)
        let results = await blocking {
            (0..<50).map { index in outcome(client, HTTPRequest(method: "POST", body: Array("\(index)".utf8)), url: url) }
        }

        for (index, result) in results.enumerated() {
            #expect(try result.get().body == Array("\(index)".utf8))
        }
        #expect(server.acceptedConnections == 1)
    }

    @Test func aConnectionTheServerClosedWhileIdleIsReplacedWithoutAnError() async throws {
        let server = try startServer(tls: Certificates.server(), limits: .init(idleTimeout: .milliseconds(150)), handler: echo)
        defer { server.shutdown() }
        let client = try HTTPClient(tls: Certificates.client(), logger: testLogger)
        defer { client.shutdown() }
        let url = server.url(secure: true)
        let (first, second) = await blocking {
            let first = outcome(client, url: url)
            Thread.sleep(forTimeInterval: 0.4)
            return (first, outcome(client, url: url))
        }

        #expect(try first.get().status == 200)
        #expect(try second.get().status == 200)
        #expect(server.acceptedConnections == 2)
    }

    @Test func connectionCloseIsHonouredBothWays() async throws {
        let server = try startServer { request, _ in
            let closing = request.target == "/server-closes"
            return .respond(HTTPResponse(status: 200, headers: closing ? ["Connection": "close"] : [:]))
        }
        defer { server.shutdown() }
        let client = try HTTPClient(tls: nil, logger: testLogger)
        defer { client.shutdown() }
        let url = server.url(secure: false)
        let results = await blocking {
            [outcome(client, HTTPRequest(target: "/server-closes"), url: url),
             outcome(client, HTTPRequest(headers: ["Connection": "close"]), url: url),
             outcome(client, url: url),
             outcome(client, url: url)]
        }

        #expect(results.allSatisfy { (try? $0.get().status) == 200 })
        #expect(try results[0].get().headers["Connection"] == "close")
        #expect(try results[1].get().headers["Connection"] == "close")
        // One connection per closing exchange, then one shared by the last two.
        #expect(server.acceptedConnections == 3)
    }

    @Test func thirtyTwoThreadsOverMutualTLS() async throws {
        let server = try startServer(tls: Certificates.server(), handler: echo)
        defer { server.shutdown() }
        let client = try HTTPClient(tls: Certificates.client(), logger: testLogger)
        defer { client.shutdown() }
        let url = server.url(secure: true)
        let (threads, requestsPerThread) = (32, 50)
        let failures = await blocking {
            let failures = Mutex<[String]>([])
            let done = DispatchGroup()
            for thread in 0..<threads {
                done.enter()
                Thread {
                    defer { done.leave() }
                    for index in 0..<requestsPerThread {
                        let id = "\(thread)-\(index)"
                        let request = HTTPRequest(method: "POST", headers: ["X-Request-ID": id], body: Array("body \(id)".utf8))
                        switch outcome(client, request, url: url) {
                        case .success(let response) where response.body == request.body && response.headers["X-Request-ID"] == id:
                            break
                        case .success(let response):
                            failures.withLock { $0.append("\(id): wrong answer \(response.status)") }
                        case .failure(let error):
                            failures.withLock { $0.append("\(id): \(error)") }
                        }
                    }
                }.start()
            }
            done.wait()
            return failures.withLock { $0 }
        }

        #expect(failures.isEmpty, "\(failures.prefix(5))")
        // Each thread holds at most one connection at a time and the pool keeps up to 32.
        #expect(server.acceptedConnections <= threads)
    }

    @Test func throughputOfOneKeepAliveMutualTLSClient() async throws {
        let server = try startServer(tls: Certificates.server(), handler: echo)
        defer { server.shutdown() }
        let client = try HTTPClient(tls: Certificates.client(), logger: testLogger)
        defer { client.shutdown() }
        let url = server.url(secure: true)
        let body = [UInt8](repeating: 0x41, count: 2048)
        let (count, failures) = await blocking {
            let end = ContinuousClock.now + .seconds(2)
            var (count, failures) = (0, 0)
            while ContinuousClock.now < end {
                if case .success = outcome(client, HTTPRequest(method: "POST", body: body), url: url) { count += 1 } else { failures += 1 }
            }
            return (count, failures)
        }

        print("HTTPTransport throughput: \(count / 2) requests/s (one mutual-TLS keep-alive client, 2 KiB echo)")
        #expect(failures == 0)
        #expect(server.acceptedConnections == 1)
    }
}
