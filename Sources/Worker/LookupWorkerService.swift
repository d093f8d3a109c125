import Logging
import ServiceLifecycle
import UnixSignals

/// `cpis worker` as a `Service` under swift-service-lifecycle's `ServiceGroup`: it runs until a
/// graceful shutdown (SIGTERM or SIGINT, through the group), then drains: no new work, the lookups
/// it holds finish within the grace period, and the connection closes. A second signal during the
/// drain, or cancellation, stops it at once (the broker requeues whatever is unsettled).
public struct LookupWorkerService: Service {
    private let configuration: WorkerConfiguration
    private let logger: Logger

    public init(configuration: WorkerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        let worker = try await LookupWorker.start(configuration, logger: logger)
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
