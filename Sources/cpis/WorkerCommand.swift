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
        LineLogHandler.bootstrap(level: configuration.logLevel, format: configuration.logFormat)
        let logger = Logger(label: "cpis.worker")
        if file == nil { logger.warning("no settings file at Config/worker.yaml: using defaults and the environment") }
        for (name, nearest) in configuration.unknownEnvironment {
            logger.warning("\(name) sets no setting: ignored\(nearest.map { " (did you mean \($0)?)" } ?? "")")
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: LookupWorkerService(configuration: configuration, metrics: { registry.emitToBuffer() },
                                                          logger: logger))],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
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
