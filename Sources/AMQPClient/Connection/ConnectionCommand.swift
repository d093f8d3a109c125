/// Completion callbacks run on the connection's owner thread: keep them short and never block in them.
typealias Completion = @Sendable (Result<Void, AMQPError>) -> Void

/// A change to the broker's topology or to our subscriptions.
enum TopologyOperation: Sendable {
    case declareExchange(AMQPExchange)
    case declareQueue(AMQPQueue)
    case bind(AMQPBinding)
    case deleteQueue(String)
    case consume(AMQPConsumer, handler: @Sendable (AMQPDelivery) -> Void)
    case cancel(consumerTag: String)
}

enum Settlement: Sendable {
    case ack
    case nack(requeue: Bool)
    case reject(requeue: Bool)
}

/// A publish waiting to be sent or confirmed. It is sent again after a recovery until the broker
/// confirms it, so a publish is at-least-once: consumers deduplicate by message id.
struct PendingPublish: Sendable {
    let message: AMQPMessage
    let exchange: String
    let routingKey: String
    let mandatory: Bool
    let completion: Completion
    /// Set when the broker returned the message (`basic.return` precedes its `basic.ack`).
    var returned: AMQPReturnedMessage?

    /// Whether `returned` is this publish coming back (the broker does not tell which publish it was).
    func matches(_ returned: AMQPReturnedMessage) -> Bool {
        mandatory && exchange == returned.exchange && routingKey == returned.routingKey
            && message.body == returned.message.body
            && message.properties.messageId == returned.message.properties.messageId
    }
}

/// What callers ask the owner thread to do.
enum ConnectionCommand: Sendable {
    case topology(TopologyOperation, Completion)
    case publish(PendingPublish)
    case settle(deliveryTag: UInt64, channelGeneration: UInt64, Settlement, Completion)
    case inspect(queue: String, @Sendable (Result<AMQPQueueState, AMQPError>) -> Void)
    case close(@Sendable () -> Void)

    /// Completes the command with `error` without performing it.
    func fail(_ error: AMQPError) {
        switch self {
        case .topology(_, let completion), .settle(_, _, _, let completion): completion(.failure(error))
        case .publish(let publish): publish.completion(.failure(error))
        case .inspect(_, let completion): completion(.failure(error))
        case .close(let done): done()
        }
    }
}
