import ArgumentParser
import Foundation
import Logging
import Metrics
import Observability
import Prometheus
import ServiceLifecycle
import Worker

/// `cpis worker`: the product. Consumes lookups and answers every one.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Consume CP-IS lookups from RabbitMQ, ask the SMSP, publish results and access notifications.",
        discussion: """
            Settings: Config/worker.yaml (every key documented there), overridden by CPIS_* environment variables. \
            On SIGTERM or SIGINT it stops taking work, lets the lookups it holds finish within the grace period and \
            exits 0; a second signal stops it at once (unsettled requests go back to their queue). Metrics and \
            health checks are served on the monitoring port (monitoring.port, 9464 unless set).
            """
    )

    @Option(help: "Settings file (default: Config/worker.yaml if it exists, else defaults and the environment).")
    var config: String?

    func run() async throws {
        try requireEnglishTimeZone()
        let file = try settingsFile(named: config, default: "Config/worker.yaml")
        let configuration = try await WorkerConfiguration.load(file: file, environment: ProcessInfo.processInfo.environment)
        try await runService(label: "cpis.worker", settingsFile: file, defaultPath: "Config/worker.yaml",
                             logLevel: configuration.logLevel, logFormat: configuration.logFormat,
                             unknownEnvironment: configuration.unknownEnvironment) { metrics, logger in
            LookupWorkerService(configuration: configuration, metrics: metrics, logger: logger)
        }
    }
}

/// Runs a long-lived command (the worker, the front door) the one way: log lines as its settings
/// say, a warning for a missing settings file and for each `CPIS_` variable that sets nothing,
/// Prometheus metrics, and a graceful shutdown on SIGTERM or SIGINT (a second signal stops at once).
func runService(label: String, settingsFile file: URL?, defaultPath: String,
                logLevel: Logger.Level, logFormat: LogFormat, unknownEnvironment: [(name: String, nearest: String?)],
                service makeService: (_ metrics: @escaping @Sendable () -> [UInt8], _ logger: Logger) throws -> some Service)
    async throws {
    LineLogHandler.bootstrap(level: logLevel, format: logFormat)
    let logger = Logger(label: label)
    if file == nil { logger.warning("no settings file at \(defaultPath): using defaults and the environment") }
    for (name, nearest) in unknownEnvironment {
        logger.warning("\(name) sets no setting: ignored\(nearest.map { " (did you mean \($0)?)" } ?? "")")
    }
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    let service = try makeService({ registry.emitToBuffer() }, logger)
    let group = ServiceGroup(configuration: .init(services: [.init(service: service)],
                                                  gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
}

/// The settings file to read: the one named with `--config`, which must exist (a mistyped path in a
/// service unit must not start a process on defaults), or else the default one if it is there.
func settingsFile(named name: String?, default defaultPath: String) throws -> URL? {
    if let name {
        guard FileManager.default.fileExists(atPath: name) else {
            throw ValidationError("no settings file at \(name) (named with --config)")
        }
        return URL(fileURLWithPath: name)
    }
    return FileManager.default.fileExists(atPath: defaultPath) ? URL(fileURLWithPath: defaultPath) : nil
}
