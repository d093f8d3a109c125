import Foundation
@testable import HTTPTransport
import Testing

/// Looking up a host name counts against the request's deadline, however long the resolver takes.
@Suite struct NameResolutionTests {
    /// A client whose resolver waits for `gate` (10 s at most, so that a client that waits for its
    /// resolver fails the test instead of hanging it), then answers `127.0.0.1` for any name and
    /// signals `finished`.
    private func client(resolvingAfter gate: DispatchSemaphore, finished: DispatchSemaphore) throws -> HTTPClient {
        try HTTPClient(tls: nil, connectTimeout: .seconds(30), maximumIdleConnectionsPerHost: 1, idleTimeout: .seconds(60),
                       maximumResponseBodyBytes: 1024, logger: testLogger) { _, port throws(IOError) in
            _ = gate.wait(timeout: .now() + 10)
            defer { finished.signal() }
            return try Socket.addresses(of: "127.0.0.1", port: port)
        }
    }

    @Test func aLookupSlowerThanTheDeadlineTimesOutAtTheDeadline() async throws {
        let gate = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let client = try client(resolvingAfter: gate, finished: finished)
        defer { client.shutdown() }
        let (result, elapsed) = await blocking {
            let start = ContinuousClock.now
            let result = outcome(client, url: URL(string: "http://stalled.example:9")!, timeout: .milliseconds(300))
            return (result, ContinuousClock.now - start)
        }
        // The request has given up while the lookup is still stalled; the abandoned lookup ends once released.
        gate.signal()
        let lookupEnded = await blocking { finished.wait(timeout: .now() + 5) == .success }

        let error = try #require(result.failure)
        #expect(error.code == .timeout)
        #expect(!error.requestMayHaveBeenProcessed)
        #expect(elapsed >= .milliseconds(300))
        #expect(elapsed < .seconds(5))
        #expect(lookupEnded)
    }

    @Test func aLookupThatAnswersInTimeIsUsed() async throws {
        let server = try startServer(handler: echo)
        defer { server.shutdown() }
        // Opened before use: a semaphore made with a value must not end below it (Dispatch traps).
        let gate = DispatchSemaphore(value: 0)
        gate.signal()
        let client = try client(resolvingAfter: gate, finished: DispatchSemaphore(value: 0))
        defer { client.shutdown() }
        let url = URL(string: "http://only-the-test-resolver-knows.example:\(server.port)")!
        let result = await blocking { outcome(client, HTTPRequest(method: "POST", body: [4]), url: url) }

        #expect(try result.get().body == [4])
    }
}
