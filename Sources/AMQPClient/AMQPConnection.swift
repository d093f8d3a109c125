import Foundation
import Logging

/// A connection to RabbitMQ with one channel in publisher-confirm mode, safe to use from any thread.
///
/// All work happens on a thread the connection owns (rabbitmq-c's rule); the methods here post to it.
/// The connection recovers by itself: after the broker closes the channel or the connection, or the
/// network fails, it reconnects with backoff, declares again what was declared, resumes consumers,
/// and sends again the publishes the broker had not confirmed. Callers see:
/// - `publish` returns only once the broker has confirmed the message (at-least-once);
/// - settling a delivery from a lost channel fails with ``AMQPError/Code/staleDelivery`` (the broker
///   has already requeued it, and will deliver it again);
/// - operations pending at `close()` fail with ``AMQPError/Code/clientClosed``.
public final class AMQPConnection: Sendable {
    private let mailbox: ConnectionMailbox
    private let status: ConnectionStatus
    private let logger: Logger

    private init(mailbox: ConnectionMailbox, status: ConnectionStatus, logger: Logger) {
        self.mailbox = mailbox
        self.status = status
        self.logger = logger
    }

    deinit {
        // A connection must be closed; closing it here at least stops its thread.
        mailbox.post(.close({}))
    }

    /// Connects and logs in. Fails, without retrying, when the first connection cannot be made
    /// (wrong address, refused certificate, bad credentials); recovers by itself after that.
    ///
    /// - Parameter onReturnedMessage: called on the owner thread for every message the broker returns.
    public static func connect(
        _ configuration: AMQPConfiguration, logger: Logger = Logger(label: "cpis.amqp"),
        onReturnedMessage: (@Sendable (AMQPReturnedMessage) -> Void)? = nil
    ) async throws(AMQPError) -> AMQPConnection {
        var logger = logger
        logger[metadataKey: "amqp.connection"] = "\(configuration.connectionName)"
        let mailbox = ConnectionMailbox()
        let status = ConnectionStatus()
        let started: Result<Void, AMQPError> = await withCheckedContinuation { continuation in
            let thread = Thread { [logger] in
                // The driver is born on its thread and never leaves it.
                let driver = ConnectionDriver(configuration: configuration, mailbox: mailbox, status: status,
                                              logger: logger, onReturnedMessage: onReturnedMessage)
                driver.run { continuation.resume(returning: $0) }
            }
            thread.name = "amqp-\(configuration.connectionName)"
            thread.start()
        }
        try started.get()
        return AMQPConnection(mailbox: mailbox, status: status, logger: logger)
    }

    /// Whether a connection to the broker is up right now.
    public var isConnected: Bool { status.isConnected.load(ordering: .acquiring) }

    /// How many times the channel or the connection has been recovered since `connect`.
    public var recoveryCount: Int { status.recoveries.load(ordering: .relaxed) }

    // MARK: Topology

    public func declare(_ exchange: AMQPExchange) async throws(AMQPError) {
        try await perform(.declareExchange(exchange))
    }

    public func declare(_ queue: AMQPQueue) async throws(AMQPError) {
        try await perform(.declareQueue(queue))
    }

    public func bind(_ binding: AMQPBinding) async throws(AMQPError) {
        try await perform(.bind(binding))
    }

    public func deleteQueue(_ name: String) async throws(AMQPError) {
        try await perform(.deleteQueue(name))
    }

    /// The state of an existing queue (a passive declare).
    /// - Throws: ``AMQPError/Code/channelClosedByBroker`` with reply code 404 when there is no such queue.
    public func inspect(queue: String) async throws(AMQPError) -> AMQPQueueState {
        let result: Result<AMQPQueueState, AMQPError> = await withCheckedContinuation { continuation in
            mailbox.post(.inspect(queue: queue) { continuation.resume(returning: $0) })
        }
        return try result.get()
    }

    /// Subscribes to a queue. `handler` runs on the connection's thread for every delivery: it must
    /// return quickly (hand the work to a queue of its own) and must not wait on this connection.
    public func consume(_ consumer: AMQPConsumer, handler: @escaping @Sendable (AMQPDelivery) -> Void)
        async throws(AMQPError)
    {
        try await perform(.consume(consumer, handler: handler))
    }

    /// Stops a subscription; deliveries already received can still be settled.
    public func cancel(consumerTag: String) async throws(AMQPError) {
        try await perform(.cancel(consumerTag: consumerTag))
    }

    private func perform(_ operation: TopologyOperation) async throws(AMQPError) {
        try await withCompletion { mailbox.post(.topology(operation, $0)) }
    }

    // MARK: Publishing

    /// Publishes and waits for the broker's confirm.
    /// - Throws: ``AMQPError/Code/unroutable`` when `mandatory` and no queue took it;
    ///   ``AMQPError/Code/publishNacked`` when the broker refused responsibility for it.
    public func publish(_ message: AMQPMessage, exchange: String = "", routingKey: String, mandatory: Bool = false)
        async throws(AMQPError)
    {
        try await withCompletion { publish(message, exchange: exchange, routingKey: routingKey,
                                           mandatory: mandatory, completion: $0) }
    }

    /// Publishes; `completion` runs on the connection's thread once the broker has confirmed (or refused) it.
    public func publish(_ message: AMQPMessage, exchange: String = "", routingKey: String, mandatory: Bool = false,
                        completion: @escaping @Sendable (Result<Void, AMQPError>) -> Void) {
        mailbox.post(.publish(PendingPublish(message: message, exchange: exchange, routingKey: routingKey,
                                             mandatory: mandatory, completion: completion)))
    }

    // MARK: Settling deliveries

    public func ack(_ delivery: AMQPDelivery) async throws(AMQPError) {
        try await withCompletion { settle(delivery, .ack, completion: $0) }
    }

    /// Negative acknowledgement; with `requeue: false` the message goes to the queue's dead-letter exchange.
    public func nack(_ delivery: AMQPDelivery, requeue: Bool) async throws(AMQPError) {
        try await withCompletion { settle(delivery, .nack(requeue: requeue), completion: $0) }
    }

    /// Rejects the delivery; with `requeue: false` the message goes to the queue's dead-letter exchange.
    public func reject(_ delivery: AMQPDelivery, requeue: Bool) async throws(AMQPError) {
        try await withCompletion { settle(delivery, .reject(requeue: requeue), completion: $0) }
    }

    /// Acknowledges; `completion` runs on the connection's thread once the ack is written.
    public func ack(_ delivery: AMQPDelivery, completion: @escaping @Sendable (Result<Void, AMQPError>) -> Void) {
        settle(delivery, .ack, completion: completion)
    }

    /// Negative acknowledgement; `completion` runs on the connection's thread once it is written.
    public func nack(_ delivery: AMQPDelivery, requeue: Bool,
                     completion: @escaping @Sendable (Result<Void, AMQPError>) -> Void) {
        settle(delivery, .nack(requeue: requeue), completion: completion)
    }

    private func settle(_ delivery: AMQPDelivery, _ settlement: Settlement, completion: @escaping Completion) {
        mailbox.post(.settle(deliveryTag: delivery.deliveryTag, channelGeneration: delivery.channelGeneration,
                             settlement, completion))
    }

    // MARK: Closing

    /// Closes the channel and the connection; operations still pending fail with `clientClosed`.
    public func close() async {
        await withCheckedContinuation { continuation in mailbox.post(.close { continuation.resume() }) }
    }

    private func withCompletion(_ post: (@escaping Completion) -> Void) async throws(AMQPError) {
        let result: Result<Void, AMQPError> = await withCheckedContinuation { continuation in
            post { continuation.resume(returning: $0) }
        }
        try result.get()
    }
}
