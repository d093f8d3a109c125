import AMQPClient
import ArgumentParser
import Foundation
import Logging

/// Proves the broker round trip: declare, publish with confirm, consume, ack.
struct BrokerCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker-check",
        abstract: "Publish a message with a broker confirm, consume it with a manual ack, and report the round trip."
    )

    @OptionGroup var broker: BrokerOptions

    @Option(help: "How many messages to send through the broker.")
    var count: Int = 10

    func run() async throws {
        try bootstrapLoggingFromEnvironment()
        let logger = Logger(label: "cpis.broker-check")
        let configuration = try await broker.configuration(connectionName: "cpis broker-check")
        print("connecting to \(configuration.redactedURL)")
        let connection = try await AMQPConnection.connect(configuration, logger: logger)

        // A private, temporary queue: exclusive to this connection, removed when it closes.
        let queue = "cpis.broker-check.\(UUID().uuidString.lowercased())"
        try await connection.declare(AMQPQueue(name: queue, durable: false, exclusive: true, autoDelete: true))
        let arrivals = AsyncStream<AMQPDelivery>.makeStream()
        try await connection.consume(AMQPConsumer(queue: queue, tag: "broker-check", prefetch: 10)) {
            arrivals.continuation.yield($0)
        }

        var roundTrips: [Duration] = []
        var iterator = arrivals.stream.makeAsyncIterator()
        for index in 1...max(1, count) {
            let started = ContinuousClock.now
            let message = AMQPMessage("broker check \(index)", properties: AMQPProperties(
                contentType: "text/plain", messageId: UUID().uuidString))
            try await connection.publish(message, routingKey: queue, mandatory: true)
            guard let delivery = await iterator.next() else { throw ValidationError("the consumer stopped") }
            guard delivery.message == message else {
                throw ValidationError("received a different message than was sent: \(delivery.message.bodyText)")
            }
            try await connection.ack(delivery)
            roundTrips.append(ContinuousClock.now - started)
        }
        await connection.close()

        let sorted = roundTrips.sorted()
        let milliseconds = { (duration: Duration) in
            String(format: "%.2f ms", Double(duration.components.attoseconds) / 1e15
                + Double(duration.components.seconds) * 1000)
        }
        print("""
            broker round trip OK: \(sorted.count) message(s) published (confirmed), consumed and acknowledged
              median \(milliseconds(sorted[sorted.count / 2])), slowest \(milliseconds(sorted[sorted.count - 1]))
            """)
    }
}
