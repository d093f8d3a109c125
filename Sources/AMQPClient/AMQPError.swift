/// Everything that can go wrong talking to the broker, with a message a person can act on.
///
/// `Code` is a struct over a private enum so that codes can be added without breaking callers that
/// switch over them.
public struct AMQPError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case invalidConfiguration = "invalid configuration"
            case connectionFailed = "connection failed"
            case tlsFailed = "TLS handshake failed"
            case authenticationFailed = "authentication failed"
            case connectionClosedByBroker = "connection closed by broker"
            case connectionLost = "connection lost"
            case channelClosedByBroker = "channel closed by broker"
            case publishNacked = "publish refused by broker"
            case unroutable = "message unroutable"
            case staleDelivery = "delivery belongs to a lost channel"
            case clientClosed = "client closed"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A setting is missing or malformed.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The TCP connection or the AMQP handshake could not be made.
        public static let connectionFailed = Code(.connectionFailed)
        /// The TLS handshake failed: untrusted or mismatched certificate, or a missing client certificate.
        public static let tlsFailed = Code(.tlsFailed)
        /// The broker refused the credentials.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The broker closed the connection (`connection.close`), e.g. an operator forced it.
        public static let connectionClosedByBroker = Code(.connectionClosedByBroker)
        /// The socket failed or heartbeats stopped arriving.
        public static let connectionLost = Code(.connectionLost)
        /// The broker closed the channel (`channel.close`), e.g. a declaration clashed with an existing one.
        public static let channelClosedByBroker = Code(.channelClosedByBroker)
        /// The broker answered a publish with `basic.nack`: it did not take responsibility for the message.
        public static let publishNacked = Code(.publishNacked)
        /// A `mandatory` publish matched no queue and was returned (`basic.return`).
        public static let unroutable = Code(.unroutable)
        /// An ack/nack/reject for a delivery whose channel is gone; the broker has already requeued it.
        public static let staleDelivery = Code(.staleDelivery)
        /// The client was closed before the operation completed.
        public static let clientClosed = Code(.clientClosed)

        public var description: String { value.rawValue }
    }

    public let code: Code
    /// What happened, in words a person can act on.
    public let message: String
    /// The AMQP reply code when the broker gave one (e.g. 404 NOT_FOUND, 406 PRECONDITION_FAILED).
    public let replyCode: Int?

    public init(_ code: Code, _ message: String, replyCode: Int? = nil) {
        self.code = code
        self.message = message
        self.replyCode = replyCode
    }

    public var description: String {
        if let replyCode { return "\(code) (\(replyCode)): \(message)" }
        return "\(code): \(message)"
    }
}
