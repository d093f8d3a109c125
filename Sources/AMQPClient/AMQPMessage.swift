import Foundation

/// The basic properties of a message (AMQP 0-9-1 `basic` content header).
public struct AMQPProperties: Sendable, Hashable {
    public var contentType: String?
    public var contentEncoding: String?
    public var headers: AMQPTable
    /// Persistent messages survive a broker restart when they are in a durable queue.
    public var persistent: Bool
    public var priority: UInt8?
    public var correlationId: String?
    public var replyTo: String?
    /// Per-message TTL in milliseconds, as a decimal string (AMQP's own representation).
    public var expiration: String?
    public var messageId: String?
    public var timestamp: Date?
    public var type: String?
    /// Set by the publisher and verified by RabbitMQ against the connection's user.
    public var userId: String?
    public var appId: String?

    public init(
        contentType: String? = nil, contentEncoding: String? = nil, headers: AMQPTable = [:],
        persistent: Bool = true, priority: UInt8? = nil, correlationId: String? = nil, replyTo: String? = nil,
        expiration: String? = nil, messageId: String? = nil, timestamp: Date? = nil, type: String? = nil,
        userId: String? = nil, appId: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.persistent = persistent
        self.priority = priority
        self.correlationId = correlationId
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageId = messageId
        self.timestamp = timestamp
        self.type = type
        self.userId = userId
        self.appId = appId
    }
}

/// A message: body and properties.
public struct AMQPMessage: Sendable, Hashable {
    public var body: [UInt8]
    public var properties: AMQPProperties

    public init(body: [UInt8], properties: AMQPProperties = AMQPProperties()) {
        self.body = body
        self.properties = properties
    }

    public init(_ text: String, properties: AMQPProperties = AMQPProperties()) {
        self.init(body: Array(text.utf8), properties: properties)
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A message delivered to a consumer. Settle it with ``AMQPConnection/ack(_:)``, `nack` or `reject`
/// (unless the consumer uses automatic acknowledgement).
public struct AMQPDelivery: Sendable {
    public let message: AMQPMessage
    public let consumerTag: String
    public let exchange: String
    public let routingKey: String
    /// True when the broker delivered this message before and it was not acknowledged.
    public let redelivered: Bool
    /// The broker's tag for this delivery, valid only on the channel that delivered it.
    public let deliveryTag: UInt64
    /// Which incarnation of the channel delivered it: after a recovery, settling it is refused
    /// (``AMQPError/Code/staleDelivery``) because the broker has already requeued it.
    let channelGeneration: UInt64
}

/// A `mandatory` message the broker could not route to any queue.
public struct AMQPReturnedMessage: Sendable {
    public let message: AMQPMessage
    public let exchange: String
    public let routingKey: String
    public let replyCode: Int
    public let replyText: String
}
