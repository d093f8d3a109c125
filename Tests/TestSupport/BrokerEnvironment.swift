import AMQPClient
import Foundation
import Logging
import Synchronization
import Testing

/// The real broker the integration tests talk to, found through environment variables with the
/// defaults of `Deploy/local-broker.sh` (which `Deploy/test.sh` starts and exports).
/// Shared by the test targets that talk to the real broker.
public enum BrokerEnvironment {
    public static let environment = ProcessInfo.processInfo.environment
    public static let amqpURL = environment["CPIS_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5682/"
    public static let amqpsURL = environment["CPIS_AMQPS_URL"] ?? "amqps://guest:guest@localhost:5681/"
    public static let tlsDirectory = environment["CPIS_TLS_DIR"] ?? ".local/broker/certs"
    public static let rabbitmqctl = environment["CPIS_RABBITMQCTL"] ?? ".local/broker/rabbitmqctl"

    public static var logger: Logger {
        var logger = Logger(label: "test.amqp")
        logger.logLevel = .warning
        return logger
    }

    public static func tls(ca: String = "ca.pem", clientCertificate: Bool = true) -> AMQPConfiguration.TLS {
        AMQPConfiguration.TLS(
            caCertificateFile: "\(tlsDirectory)/\(ca)",
            certificateFile: clientCertificate ? "\(tlsDirectory)/client.pem" : nil,
            keyFile: clientCertificate ? "\(tlsDirectory)/client.key" : nil)
    }

    public static func configuration(tls: Bool = false, heartbeat: Duration = .seconds(30)) throws -> AMQPConfiguration {
        var configuration = tls ? try AMQPConfiguration(url: amqpsURL, tls: Self.tls())
                                : try AMQPConfiguration(url: amqpURL)
        configuration.heartbeat = heartbeat
        configuration.connectionName = "test-\(UUID().uuidString.prefix(8))"
        configuration.reconnectBackoff = .init(initial: .milliseconds(100), maximum: .seconds(1))
        return configuration
    }

    public static func connect(tls: Bool = false, heartbeat: Duration = .seconds(30),
                        onReturnedMessage: (@Sendable (AMQPReturnedMessage) -> Void)? = nil) async throws
        -> AMQPConnection
    {
        do {
            return try await AMQPConnection.connect(configuration(tls: tls, heartbeat: heartbeat), logger: logger,
                                                    onReturnedMessage: onReturnedMessage)
        } catch {
            Issue.record("no broker at \(amqpURL)? Run the tests with Deploy/test.sh, which starts one. \(error)")
            throw error
        }
    }

    public static func uniqueName(_ purpose: String) -> String {
        "test.\(purpose).\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs `rabbitmqctl` against the test node and returns what it printed. Exit status 69 (the
    /// command line tool could not reach the node, seen now and then on a busy machine) is tried
    /// again, twice, a second apart; any other failure throws with what the tool said.
    @discardableResult
    public static func ctl(_ arguments: String...) throws -> String {
        var attempt = 1
        while true {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: rabbitmqctl)
            process.arguments = arguments
            let output = Pipe()
            let errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            let said = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            if process.terminationStatus == 0 { return String(decoding: data, as: UTF8.self) }
            if process.terminationStatus == 69, attempt < 3 {
                attempt += 1
                Thread.sleep(forTimeInterval: 1)
                continue
            }
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey:
                "rabbitmqctl \(arguments.joined(separator: " ")) exited \(process.terminationStatus): "
                + String(decoding: said, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)])
        }
    }

    /// The messages left in a queue, counted from a fresh connection so that whatever the test's own
    /// connection had not settled is back in the queue and counted too.
    public static func messagesLeft(in queue: String) async throws -> Int {
        let observer = try await connect()
        let state = try await observer.inspect(queue: queue)
        try await observer.deleteQueue(queue)
        await observer.close()
        return state.readyMessages
    }
}

/// Collects deliveries from the connection's thread so a test can wait for them.
public final class DeliveryInbox: Sendable {
    private let deliveries = Mutex<[AMQPDelivery]>([])

    public init() {}

    public var handler: @Sendable (AMQPDelivery) -> Void {
        { delivery in self.deliveries.withLock { $0.append(delivery) } }
    }

    public var all: [AMQPDelivery] { deliveries.withLock { $0 } }

    /// Waits until `predicate` holds for what has arrived, or fails the test after `timeout`.
    @discardableResult
    public func wait(for description: String, timeout: Duration = .seconds(20),
              until predicate: ([AMQPDelivery]) -> Bool) async throws -> [AMQPDelivery] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let current = all
            if predicate(current) { return current }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("timed out waiting for \(description); got \(all.count) deliveries")
        return all
    }

    @discardableResult
    public func wait(count: Int, timeout: Duration = .seconds(20)) async throws -> [AMQPDelivery] {
        try await wait(for: "\(count) deliveries", timeout: timeout) { $0.count >= count }
    }
}
