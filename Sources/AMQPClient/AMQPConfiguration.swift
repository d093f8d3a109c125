import Foundation

/// How to reach the broker and how to behave when it goes away.
public struct AMQPConfiguration: Sendable {
    /// Mutual-TLS material. Peer verification is always on: there is deliberately no switch to turn it off.
    public struct TLS: Sendable, Hashable {
        /// PEM file of the CA (or bundle) that must have signed the broker's certificate.
        public var caCertificateFile: String
        /// PEM client certificate presented to the broker, with its key.
        public var certificateFile: String?
        public var keyFile: String?
        /// Check that the broker's certificate names the host we connected to.
        public var verifyHostname: Bool

        public init(caCertificateFile: String, certificateFile: String? = nil, keyFile: String? = nil,
                    verifyHostname: Bool = true) {
            self.caCertificateFile = caCertificateFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.verifyHostname = verifyHostname
        }
    }

    /// Exponential backoff with full jitter between reconnection attempts.
    public struct Backoff: Sendable, Hashable {
        public var initial: Duration
        public var maximum: Duration

        public init(initial: Duration, maximum: Duration) {
            self.initial = initial
            self.maximum = maximum
        }

        /// The delay before attempt `attempt` (1-based): a random point in [0, min(maximum, initial·2^(attempt-1))].
        public func delay(attempt: Int) -> Duration {
            let ceiling = min(maximum, initial * (1 << min(max(attempt - 1, 0), 20)))
            return ceiling * Double.random(in: 0...1)
        }
    }

    /// A broker node's address.
    public struct Node: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// Reads `host:port` (or `host`, with `defaultPort`; IPv6 in brackets).
        public init(_ text: String, defaultPort: Int) throws(AMQPError) {
            let text = text.trimmingCharacters(in: .whitespaces)
            guard let components = URLComponents(string: "amqp://\(text)"), let host = components.host, !host.isEmpty,
                  components.path.isEmpty
            else { throw AMQPError(.invalidConfiguration, "'\(text)' is not a broker node (host:port)") }
            self.init(host: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: components.port ?? defaultPort)
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The first node to try (from the URL).
    public var host: String
    public var port: Int
    /// The cluster's other nodes. The connection tries them in turn when a node cannot be reached or
    /// is lost, starting after the one it was using: with quorum queues replicated across the
    /// cluster, any node serves every queue.
    public var otherNodes: [Node] = []
    public var virtualHost: String
    public var username: String
    /// Never logged; read it from a file, not from a configuration file.
    public var password: String
    public var tls: TLS?
    /// Heartbeat interval negotiated with the broker; 0 turns heartbeats off.
    public var heartbeat: Duration
    public var connectTimeout: Duration
    /// How long a synchronous AMQP method (declare, consume, ...) may take before the connection is
    /// considered broken and recovered.
    public var rpcTimeout: Duration
    public var reconnectBackoff: Backoff
    /// Shown in the broker's management tools (`connection_name`).
    public var connectionName: String

    public init(host: String = "127.0.0.1", port: Int? = nil, virtualHost: String = "/",
                username: String = "guest", password: String = "guest", tls: TLS? = nil,
                heartbeat: Duration = .seconds(30), connectTimeout: Duration = .seconds(10),
                rpcTimeout: Duration = .seconds(30),
                reconnectBackoff: Backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(30)),
                connectionName: String = "cpis") {
        self.host = host
        self.port = port ?? (tls == nil ? 5672 : 5671)
        self.virtualHost = virtualHost
        self.username = username
        self.password = password
        self.tls = tls
        self.heartbeat = heartbeat
        self.connectTimeout = connectTimeout
        self.rpcTimeout = rpcTimeout
        self.reconnectBackoff = reconnectBackoff
        self.connectionName = connectionName
    }

    /// Reads an AMQP URI: `amqp[s]://[user[:password]@]host[:port][/vhost]` (vhost percent-encoded,
    /// so `/%2F` is the default vhost `/`; an empty path is `/` too). `amqps` needs `tls`.
    public init(url: String, tls: TLS? = nil) throws(AMQPError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "amqp" || scheme == "amqps", let host = components.host, !host.isEmpty
        else {
            throw AMQPError(.invalidConfiguration,
                            "'\(Self.redacted(url))' is not an AMQP URI (amqp://user@host:port/vhost)")
        }
        if scheme == "amqps" && tls == nil {
            throw AMQPError(.invalidConfiguration,
                            "'\(Self.redacted(url))' asks for TLS (amqps) but no CA certificate is configured")
        }
        var path = components.percentEncodedPath
        if path.hasPrefix("/") { path.removeFirst() }
        let virtualHost = path.removingPercentEncoding ?? path
        self.init(host: host, port: components.port, virtualHost: virtualHost.isEmpty ? "/" : virtualHost,
                  username: components.user ?? "guest", password: components.password ?? "guest",
                  tls: scheme == "amqps" ? tls : nil)
    }

    /// Every node, in the order they are tried first.
    public var nodes: [Node] { [Node(host: host, port: port)] + otherNodes.filter { $0 != Node(host: host, port: port) } }

    /// `amqp[s]://user@host:port/vhost`, without the password: safe for logs.
    public var redactedURL: String { redactedURL(of: Node(host: host, port: port)) }

    /// The URL of `node`, without the password.
    public func redactedURL(of node: Node) -> String {
        let vhost = virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? virtualHost
        return "\(tls == nil ? "amqp" : "amqps")://\(username)@\(node)/\(vhost)"
    }

    private static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "<unreadable URI>"
    }
}
