/// A queue to declare (idempotently). Recorded by the connection and declared again after every recovery.
public struct AMQPQueue: Sendable, Hashable {
    /// RabbitMQ's direct reply-to pseudo-queue: consumed (with automatic acknowledgement) by a
    /// requester, named in its requests' `reply_to`; the broker routes replies to that channel.
    public static let directReplyTo = "amq.rabbitmq.reply-to"

    public var name: String
    public var durable: Bool
    public var exclusive: Bool
    public var autoDelete: Bool
    /// `x-queue-type`, `x-dead-letter-exchange`, `x-message-ttl`, `x-delivery-limit`, ...
    public var arguments: AMQPTable

    public init(name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
                arguments: AMQPTable = [:]) {
        self.name = name
        self.durable = durable
        self.exclusive = exclusive
        self.autoDelete = autoDelete
        self.arguments = arguments
    }

    /// A durable quorum queue (replicated; no message priorities).
    public static func quorum(_ name: String, arguments: AMQPTable = [:]) -> AMQPQueue {
        AMQPQueue(name: name, arguments: arguments.merging(["x-queue-type": "quorum"]) { own, _ in own })
    }
}

/// What `queue.declare` (passive) says of an existing queue.
public struct AMQPQueueState: Sendable, Hashable {
    /// Messages ready for delivery (not counting those delivered and not yet settled).
    public let readyMessages: Int
    public let consumers: Int
}

/// An exchange to declare (idempotently). Recorded and declared again after every recovery.
public struct AMQPExchange: Sendable, Hashable {
    public enum Kind: String, Sendable { case direct, fanout, topic, headers }
    public var name: String
    public var kind: Kind
    public var durable: Bool
    public var autoDelete: Bool
    public var arguments: AMQPTable

    public init(name: String, kind: Kind, durable: Bool = true, autoDelete: Bool = false,
                arguments: AMQPTable = [:]) {
        self.name = name
        self.kind = kind
        self.durable = durable
        self.autoDelete = autoDelete
        self.arguments = arguments
    }
}

/// A binding of a queue to an exchange. Recorded and declared again after every recovery.
public struct AMQPBinding: Sendable, Hashable {
    public var queue: String
    public var exchange: String
    public var routingKey: String
    public var arguments: AMQPTable

    public init(queue: String, exchange: String, routingKey: String, arguments: AMQPTable = [:]) {
        self.queue = queue
        self.exchange = exchange
        self.routingKey = routingKey
        self.arguments = arguments
    }
}

/// A subscription to a queue. Resumed (same tag, same prefetch) after every recovery.
public struct AMQPConsumer: Sendable, Hashable {
    public enum Acknowledgement: Sendable, Hashable {
        /// Every delivery must be settled with ack, nack or reject (at-least-once).
        case manual
        /// The broker forgets a message once it is sent (only for `amq.rabbitmq.reply-to`, where it is required).
        case automatic
    }
    public var queue: String
    /// Chosen by the client so that it survives recovery; unique per connection.
    public var tag: String
    /// How many unsettled deliveries the broker may hand this consumer (`basic.qos`, per consumer).
    public var prefetch: UInt16
    public var acknowledgement: Acknowledgement
    public var exclusive: Bool
    public var arguments: AMQPTable

    public init(queue: String, tag: String, prefetch: UInt16, acknowledgement: Acknowledgement = .manual,
                exclusive: Bool = false, arguments: AMQPTable = [:]) {
        self.queue = queue
        self.tag = tag
        self.prefetch = prefetch
        self.acknowledgement = acknowledgement
        self.exclusive = exclusive
        self.arguments = arguments
    }
}
