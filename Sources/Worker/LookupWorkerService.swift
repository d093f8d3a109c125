import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `cpis worker` as a `Service` under swift-service-lifecycle's `ServiceGroup`: it runs until a
/// graceful shutdown (SIGTERM or SIGINT, through the group), then drains: no new work, the lookups
/// it holds finish within the grace period, and the connection closes. A second signal during the
/// drain, or cancellation, stops it at once (the broker requeues whatever is unsettled).
///
/// The monitoring endpoint (when configured) starts first, so that liveness answers while the
/// worker connects, and readiness says why it is not ready yet.
public struct LookupWorkerService: Service {
    private let configuration: WorkerConfiguration
    private let metrics: @Sendable () -> [UInt8]
    private let logger: Logger

    /// - Parameter metrics: The Prometheus text exposition of the process's metrics, for `/metrics`.
    public init(configuration: WorkerConfiguration, metrics: @escaping @Sendable () -> [UInt8], logger: Logger) {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        let running = Mutex<LookupWorker?>(nil)
        let monitoring = try MonitoringServer.start(on: configuration.monitoring, metrics: metrics, readiness: {
            guard let worker = running.withLock({ $0 }) else { return .notReady("connecting to the broker") }
            return worker.isReady ? .ready : .notReady("not connected to the broker, or draining")
        }, logger: logger)
        defer { monitoring?.shutdown() }

        let worker = try await LookupWorker.start(configuration, logger: logger)
        running.withLock { $0 = worker }
        // Returns at a graceful shutdown; throws when the task is cancelled instead.
        do {
            try await gracefulShutdown()
        } catch {
            logger.warning("cancelled: stopping at once")
            await worker.stopNow()
            return
        }
        logger.info("termination requested: finishing in-flight lookups (a second signal stops at once)")
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await worker.shutdown() }
            group.addTask { [logger] in
                for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                    logger.warning("\(signal) again: stopping at once")
                    await worker.stopNow()
                    return
                }
            }
            await group.next()
            group.cancelAll()
        }
    }
}
