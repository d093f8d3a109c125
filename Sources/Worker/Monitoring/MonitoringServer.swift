import HTTPTransport
import Logging

/// Where operations look at a worker: plain HTTP on the monitoring port.
/// - `GET /metrics`: the Prometheus text exposition;
/// - `GET /health/live`: 200 while the process runs (a liveness probe restarts it otherwise);
/// - `GET /health/ready`: 200 when connected to the broker and consuming, 503 otherwise (while
///   connecting, recovering a lost connection, or draining for a shutdown).
///
/// It carries no patient data and no secrets, so it is not behind TLS; bind it to a private address
/// (`monitoring.host`).
public final class MonitoringServer: Sendable {
    private let server: HTTPServer
    private let metrics: @Sendable () -> [UInt8]
    private let readiness: @Sendable () -> Readiness

    /// Whether the worker can take work, and if not, why.
    public enum Readiness: Sendable {
        case ready
        case notReady(String)
    }

    public init(host: String, port: Int, metrics: @escaping @Sendable () -> [UInt8],
                readiness: @escaping @Sendable () -> Readiness, logger: Logger) throws(HTTPTransportError) {
        server = try HTTPServer(host: host, port: port, tls: nil,
                                limits: .init(maximumHeaderBytes: 8 * 1024, maximumBodyBytes: 0, maximumConnections: 16),
                                logger: logger)
        self.metrics = metrics
        self.readiness = readiness
    }

    /// Serves monitoring on `address` when it is set (`monitoring.enabled`), and logs where: as the
    /// worker and the front door start it. `nil` when monitoring is off.
    public static func start(on address: (host: String, port: Int)?, metrics: @escaping @Sendable () -> [UInt8],
                             readiness: @escaping @Sendable () -> Readiness, logger: Logger)
        throws(HTTPTransportError) -> MonitoringServer? {
        guard let address else { return nil }
        let server = try MonitoringServer(host: address.host, port: address.port, metrics: metrics, readiness: readiness,
                                          logger: logger)
        try server.start()
        logger.info("monitoring on http://\(address.host):\(server.port): /metrics, /health/live, /health/ready")
        return server
    }

    /// The port bound (useful when 0 asked the system to choose).
    public var port: Int { server.port }

    public func start() throws(HTTPTransportError) {
        try server.start { [metrics, readiness] request, _ in
            .respond(Self.answer(request, metrics: metrics, readiness: readiness))
        }
    }

    public func shutdown() { server.shutdown() }

    private static func answer(_ request: HTTPRequest, metrics: () -> [UInt8], readiness: () -> Readiness) -> HTTPResponse {
        guard request.method == "GET" || request.method == "HEAD" else {
            return text(405, "only GET\n", headers: ["Allow": "GET, HEAD"])
        }
        switch request.target.prefix(while: { $0 != "?" }) {
        case "/metrics":
            return HTTPResponse(status: 200, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                                body: metrics())
        case "/health/live":
            return text(200, "live\n")
        case "/health/ready":
            switch readiness() {
            case .ready: return text(200, "ready\n")
            case .notReady(let reason): return text(503, "not ready: \(reason)\n")
            }
        default:
            return text(404, "not found: try /metrics, /health/live or /health/ready\n")
        }
    }

    private static func text(_ status: Int, _ body: String, headers: HTTPHeaders = [:]) -> HTTPResponse {
        var headers = headers
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        return HTTPResponse(status: status, headers: headers, body: Array(body.utf8))
    }
}
