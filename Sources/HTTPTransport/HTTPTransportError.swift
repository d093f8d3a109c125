/// Everything that can go wrong in an HTTP exchange or in setting up a client or server, with a
/// message a person can act on.
///
/// `Code` is a struct over a private enum so that codes can be added without breaking callers that
/// switch over them.
public struct HTTPTransportError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case invalidConfiguration = "invalid configuration"
            case invalidRequest = "invalid request"
            case connectFailed = "connect failed"
            case tlsHandshakeFailed = "TLS handshake failed"
            case timeout = "timed out"
            case connectionClosed = "connection closed"
            case protocolError = "protocol error"
            case bodyTooLarge = "body too large"
            case shutDown = "shut down"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A setting is unusable: an unreadable certificate or key file, a key that does not match its
        /// certificate, an address that cannot be bound, an `https` URL without a TLS configuration.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The request cannot be sent as given: a URL with a path, a header with a line break.
        public static let invalidRequest = Code(.invalidRequest)
        /// No TCP connection could be made: refused, unreachable, unknown host or the connect timeout.
        public static let connectFailed = Code(.connectFailed)
        /// The TLS handshake failed: an untrusted or mismatched certificate, or a missing client certificate.
        public static let tlsHandshakeFailed = Code(.tlsHandshakeFailed)
        /// The exchange did not complete within its deadline.
        public static let timeout = Code(.timeout)
        /// The peer closed or reset the connection before the whole response had arrived.
        public static let connectionClosed = Code(.connectionClosed)
        /// The peer sent something that is not HTTP/1.1 as this module understands it.
        public static let protocolError = Code(.protocolError)
        /// A body (or header block) exceeded its configured limit.
        public static let bodyTooLarge = Code(.bodyTooLarge)
        /// The client or server was shut down.
        public static let shutDown = Code(.shutDown)

        public var description: String { value.rawValue }
    }

    public let code: Code
    /// What happened, in words a person can act on (for TLS failures it includes OpenSSL's reason,
    /// e.g. "certificate verify failed").
    public let message: String
    /// Whether the server may have received, and so acted on, the request.
    ///
    /// It is `false` only when the request is known never to have left: the connection or the TLS
    /// handshake failed, or the request was refused before sending. Otherwise the caller must assume
    /// the server may have processed it; the client never retries on its own.
    public let requestMayHaveBeenProcessed: Bool

    /// - Parameter requestMayHaveBeenProcessed: `nil` derives it from the code: `false` for the codes
    ///   that mean nothing was sent (invalid configuration or request, connect or TLS handshake failure,
    ///   shut down), `true` for the rest. A timeout while connecting passes `false` explicitly.
    public init(_ code: Code, _ message: String, requestMayHaveBeenProcessed: Bool? = nil) {
        self.code = code
        self.message = message
        self.requestMayHaveBeenProcessed = requestMayHaveBeenProcessed
            ?? ![.invalidConfiguration, .invalidRequest, .connectFailed, .tlsHandshakeFailed, .shutDown].contains(code)
    }

    public var description: String { "\(code): \(message)" }
}
