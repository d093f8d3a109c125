import Foundation
import HTTPTransport
import Synchronization
import Testing
import TestSupport

@Suite struct TLSTests {
    @Test func theServerRefusesAClientWithoutACertificate() async throws {
        let handled = Atomic<Int>(0)
        let server = try startServer(tls: Certificates.server()) { request, peer in
            handled.add(1, ordering: .relaxed)
            return echo(request, peer)
        }
        defer { server.shutdown() }
        let anonymous = try HTTPClient(tls: Certificates.client(withCertificate: false), logger: testLogger)
        let identified = try HTTPClient(tls: Certificates.client(), logger: testLogger)
        defer {
            anonymous.shutdown()
            identified.shutdown()
        }
        let url = server.url(secure: true)
        let (refused, accepted) = await blocking { (outcome(anonymous, url: url), outcome(identified, url: url)) }

        let error = try #require(refused.failure)
        #expect(error.code == .tlsHandshakeFailed)
        #expect(error.message.contains("certificate"))
        #expect(!error.requestMayHaveBeenProcessed)
        #expect(try accepted.get().status == 200, "the server keeps serving after a failed handshake")
        #expect(handled.load(ordering: .relaxed) == 1)
    }

    @Test func aClientTrustingAnotherCARejectsTheServer() async throws {
        let server = try startServer(tls: Certificates.server(), handler: echo)
        defer { server.shutdown() }
        let client = try HTTPClient(tls: Certificates.client(ca: "rogue-ca.pem"), logger: testLogger)
        defer { client.shutdown() }
        let url = server.url(secure: true)
        let result = await blocking { outcome(client, url: url) }

        let error = try #require(result.failure)
        #expect(error.code == .tlsHandshakeFailed)
        #expect(error.message.contains("certificate verify failed"))
        #expect(!error.requestMayHaveBeenProcessed)
    }

    @Test func theClientChecksTheServerCertificateNamesTheHost() async throws {
        // The certificate names localhost, 127.0.0.1 and ::1, not 127.0.0.2.
        let server = try startServer(host: "127.0.0.2", tls: Certificates.server(requireClientCertificates: false), handler: echo)
        defer { server.shutdown() }
        let verifying = try HTTPClient(tls: Certificates.client(withCertificate: false), logger: testLogger)
        let trusting = try HTTPClient(tls: Certificates.client(withCertificate: false, verifyHostname: false), logger: testLogger)
        defer {
            verifying.shutdown()
            trusting.shutdown()
        }
        let url = server.url(secure: true)
        let (mismatch, unchecked) = await blocking { (outcome(verifying, url: url), outcome(trusting, url: url)) }

        let error = try #require(mismatch.failure)
        #expect(error.code == .tlsHandshakeFailed)
        #expect(error.message.contains("IP address mismatch"))
        #expect(try unchecked.get().status == 200, "the chain itself is trusted")
    }

    @Test func aHostNameInTheCertificateIsAccepted() async throws {
        let server = try startServer(tls: Certificates.server(), handler: echo)
        defer { server.shutdown() }
        let client = try HTTPClient(tls: Certificates.client(), logger: testLogger)
        defer { client.shutdown() }
        // "localhost" is checked as a DNS name (and sent as SNI); it may resolve to ::1 first, where
        // nothing listens, and the client then tries 127.0.0.1.
        let url = server.url(secure: true, host: "localhost")
        let result = await blocking { outcome(client, HTTPRequest(method: "POST", body: [1, 2, 3]), url: url) }

        #expect(try result.get().body == [1, 2, 3])
    }

    @Test func anIPv6AddressInTheCertificateIsAccepted() async throws {
        let server = try startServer(host: "::1", tls: Certificates.server()) { request, peer in
            .respond(HTTPResponse(status: 200, body: Array(peer.address.utf8)))
        }
        defer { server.shutdown() }
        let client = try HTTPClient(tls: Certificates.client(), logger: testLogger)
        defer { client.shutdown() }
        let url = server.url(secure: true)
        let result = await blocking { outcome(client, url: url) }

        #expect(String(decoding: try result.get().body, as: UTF8.self).hasPrefix("[::1]:"))
    }

    @Test func unusableFilesAreReportedWhenTheClientOrServerIsMade() throws {
        let mismatch = #expect(throws: HTTPTransportError.self) {
            _ = try HTTPServer(tls: .server(certificateFile: Certificates.path("server.pem"), keyFile: Certificates.path("client.key")))
        }
        #expect(mismatch?.code == .invalidConfiguration)
        #expect(mismatch?.message.contains("does not match") == true)

        let missing = #expect(throws: HTTPTransportError.self) {
            _ = try HTTPClient(tls: .client(caFile: "/nonexistent/ca.pem"))
        }
        #expect(missing?.code == .invalidConfiguration)
        #expect(missing?.message.contains("/nonexistent/ca.pem") == true)

        let notACertificate = #expect(throws: HTTPTransportError.self) {
            try TLSConfiguration.client(caFile: Certificates.path("client.key")).validate()
        }
        #expect(notACertificate?.code == .invalidConfiguration)

        let wrongRole = #expect(throws: HTTPTransportError.self) {
            _ = try HTTPClient(tls: Certificates.server())
        }
        #expect(wrongRole?.code == .invalidConfiguration)
    }
}
