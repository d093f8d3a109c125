import AMQPClient
import HTTPTransport
import Logging
import ServiceLifecycle
import Synchronization
import Worker

/// `cpis front-door` as a `Service` under swift-service-lifecycle's `ServiceGroup`: the monitoring
/// endpoint first (liveness answers while the rest starts), then the broker connection and the
/// reply consumer, then the HTTPS endpoint. On SIGTERM or SIGINT it stops being ready, lets the
/// queries it is answering finish (at most the callers' patience), then closes.
public struct FrontDoorService: Service {
    private let configuration: FrontDoorConfiguration
    private let metrics: @Sendable () -> [UInt8]
    private let logger: Logger
    private let started: (@Sendable (_ port: Int, _ monitoringPort: Int?) -> Void)?

    /// - Parameters:
    ///   - metrics: The Prometheus text exposition of the process's metrics, for `/metrics`.
    ///   - started: Called once the endpoint listens, with the ports bound (tests start on port 0).
    public init(configuration: FrontDoorConfiguration, metrics: @escaping @Sendable () -> [UInt8], logger: Logger,
                started: (@Sendable (_ port: Int, _ monitoringPort: Int?) -> Void)? = nil) {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.started = started
    }

    public func run() async throws {
        let relayBox = Mutex<LookupRelay?>(nil)
        let serverBox = Mutex<HTTPServer?>(nil)
        let draining = Atomic(false)
        let frontDoorMetrics = FrontDoorMetrics()
        let metrics: @Sendable () -> [UInt8] = { [metrics] in
            if let server = serverBox.withLock({ $0 }) {
                frontDoorMetrics.copyConnectionCounts(refused: server.refusedConnections,
                                                      failedHandshakes: server.failedHandshakes)
            }
            return metrics()
        }
        let monitoring = try MonitoringServer.start(on: configuration.monitoring, metrics: metrics, readiness: {
            if draining.load(ordering: .acquiring) { return .notReady("shutting down") }
            guard let relay = relayBox.withLock({ $0 }) else { return .notReady("connecting to the broker") }
            return relay.isReady ? .ready : .notReady("not connected to the broker")
        }, logger: logger)
        defer { monitoring?.shutdown() }
        if configuration.clients.odsCodesByClient == nil {
            logger.critical("""
                NO CLIENT AUTHORISATION CONFIGURED: any client with a certificate from the client CA may ask for \
                any organisation. Allowed on a loopback address only (local development): set authorisation.clients.
                """)
        }

        let connection = try await AMQPConnection.connect(configuration.broker, logger: logger)
        let relay = LookupRelay(connection: connection, triageQueue: configuration.triageQueue,
                                brokerUser: configuration.broker.username, resendWindow: configuration.resendWindow,
                                minimumCallTime: configuration.minimumCallTime, logger: logger)
        try await relay.start()
        relayBox.withLock { $0 = relay }

        let frontDoor = FrontDoor(configuration: configuration, relay: relay, metrics: frontDoorMetrics, logger: logger)
        let server = try HTTPServer(host: configuration.host, port: configuration.port, tls: configuration.tls,
                                    limits: configuration.limits, logger: logger)
        try server.start { request, peer in frontDoor.handle(request, from: peer) }
        serverBox.withLock { $0 = server }
        logger.info("CP-IS SMSP front door on https://\(configuration.host):\(server.port)\(configuration.path)")
        started?(server.port, monitoring?.port)

        // Returns at a graceful shutdown; throws when the task is cancelled instead.
        let graceful = (try? await gracefulShutdown()) != nil
        draining.store(true, ordering: .releasing)
        if graceful {
            // Readiness now says no, so new callers go elsewhere; the queries under way are answered,
            // each within its caller's patience, before the connections close.
            logger.info("termination requested: answering the \(frontDoor.queriesInProgress) queries under way")
            let end = ContinuousClock.now + configuration.patience + .seconds(1)
            while frontDoor.queriesInProgress > 0, ContinuousClock.now < end {
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        server.shutdown()
        await connection.close()
    }
}
