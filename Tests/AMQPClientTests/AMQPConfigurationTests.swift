import AMQPClient
import Testing

@Suite("AMQP configuration")
struct AMQPConfigurationTests {
    @Test("reads AMQP URIs")
    func parsesURLs() throws {
        let plain = try AMQPConfiguration(url: "amqp://worker:s3cret@broker.example:5673/cpis%2Fprod")
        #expect(plain.host == "broker.example")
        #expect(plain.port == 5673)
        #expect(plain.username == "worker")
        #expect(plain.password == "s3cret")
        #expect(plain.virtualHost == "cpis/prod")
        #expect(plain.tls == nil)
        #expect(!plain.redactedURL.contains("s3cret"))

        let defaults = try AMQPConfiguration(url: "amqp://localhost")
        #expect(defaults.port == 5672)
        #expect(defaults.virtualHost == "/")
        #expect(try AMQPConfiguration(url: "amqp://localhost/%2F").virtualHost == "/")

        let tls = AMQPConfiguration.TLS(caCertificateFile: "/ca.pem")
        let secure = try AMQPConfiguration(url: "amqps://localhost", tls: tls)
        #expect(secure.port == 5671)
        #expect(secure.tls == tls)
    }

    @Test("refuses what it cannot use, without echoing the password", arguments: [
        "http://localhost", "localhost:5672", "amqps://user:hunter2@localhost",
    ])
    func refusesBadURLs(url: String) {
        let error = #expect(throws: AMQPError.self) { try AMQPConfiguration(url: url) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("hunter2") == false)
    }

    @Test("backoff grows exponentially up to the maximum, with jitter")
    func backoff() {
        let backoff = AMQPConfiguration.Backoff(initial: .milliseconds(100), maximum: .seconds(2))
        for attempt in 1...12 {
            let ceiling = min(Duration.seconds(2), .milliseconds(100) * (1 << (attempt - 1)))
            let delays = (0..<50).map { _ in backoff.delay(attempt: attempt) }
            #expect(delays.allSatisfy { $0 >= .zero && $0 <= ceiling })
            #expect(Set(delays).count > 1, "no jitter at attempt \(attempt)")
        }
    }

    @Test("cluster nodes read as host:port, the URL's port by default, IPv6 in brackets")
    func nodes() throws {
        #expect(try AMQPConfiguration.Node("rabbit-2.example:5673", defaultPort: 5672) == .init(host: "rabbit-2.example", port: 5673))
        #expect(try AMQPConfiguration.Node(" rabbit-3 ", defaultPort: 5671) == .init(host: "rabbit-3", port: 5671))
        #expect(try AMQPConfiguration.Node("[::1]:5672", defaultPort: 1).description == "[::1]:5672")
        #expect(throws: AMQPError.self) { try AMQPConfiguration.Node("amqp://x/", defaultPort: 1) }
        var configuration = try AMQPConfiguration(url: "amqp://u@rabbit-1:5672/")
        configuration.otherNodes = [.init(host: "rabbit-1", port: 5672), .init(host: "rabbit-2", port: 5672)]
        #expect(configuration.nodes.map(\.description) == ["rabbit-1:5672", "rabbit-2:5672"])
    }
}
