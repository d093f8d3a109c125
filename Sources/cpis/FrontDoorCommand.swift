import ArgumentParser
import FrontDoor
import Foundation

/// `cpis front-door`: the SMSP CP-IS API for care providers' systems, in front of the workers.
struct FrontDoorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "front-door",
        abstract: "Serve the SMSP CP-IS API (ITK SOAP over mutual TLS) to care providers' systems, through the workers.",
        discussion: """
            Settings: Config/front-door.yaml (every key documented there), overridden by CPIS_* environment variables. \
            Each query becomes a triage lookup; the worker's result is answered as the SMSP's CP-ISNHSQueryResponse. \
            On SIGTERM or SIGINT it answers the queries under way, then exits. Metrics and health checks are served \
            on the monitoring port (monitoring.port, 9465 unless set).
            """
    )

    @Option(help: "Settings file (default: Config/front-door.yaml if it exists, else defaults and the environment).")
    var config: String?

    func run() async throws {
        try requireEnglishTimeZone()
        let file = try settingsFile(named: config, default: "Config/front-door.yaml")
        let configuration = try await FrontDoorConfiguration.load(file: file, environment: ProcessInfo.processInfo.environment)
        try await runService(label: "cpis.front-door", settingsFile: file, defaultPath: "Config/front-door.yaml",
                             logLevel: configuration.logLevel, logFormat: configuration.logFormat,
                             unknownEnvironment: configuration.unknownEnvironment) { metrics, logger in
            FrontDoorService(configuration: configuration, metrics: metrics, logger: logger)
        }
    }
}
