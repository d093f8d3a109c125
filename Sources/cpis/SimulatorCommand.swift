import ArgumentParser
import Dispatch
import Foundation
import Logging
import SMSPSimulator

/// `cpis simulator`: a CP-IS SMSP endpoint for development, tests, benchmarks and test rigs.
struct Simulator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulator",
        abstract: "Serve a simulated CP-IS SMSP endpoint over HTTPS with mutual TLS.",
        discussion: """
            Answers like the NHS test tool (trigger numbers 1111111111 ... 8888888888), knows the test patients \
            of its dataset, and can add latency and faults. Settings: Config/simulator.yaml, overridden by \
            CPIS_SIMULATOR_* environment variables. Stops on SIGINT or SIGTERM.
            """
    )

    @Option(help: "Settings file (default: Config/simulator.yaml if it exists, else defaults and the environment).")
    var config: String?

    @Flag(help: "Answer as Spine's CP-IS (HL7 V3), for a worker with upstream: spine (the setting spine: true).")
    var spine = false

    func run() async throws {
        try requireEnglishTimeZone()
        let file = try settingsFile(named: config, default: "Config/simulator.yaml")
        try bootstrapLoggingFromEnvironment()
        let logger = Logger(label: "cpis.simulator")
        if file == nil { logger.warning("no settings file at Config/simulator.yaml: using defaults and the environment") }
        var settings = try await SimulatorSettings.load(file: file, environment: ProcessInfo.processInfo.environment)
        if spine { settings.spine = true }
        let dataset = try SimulatorDataset(contentsOf: URL(fileURLWithPath: settings.datasetFile))
        let simulator = SMSPSimulator(dataset: dataset, behaviour: settings.behaviour, expectedTo: settings.endpointURL)
        let server = try SimulatorServer(settings: settings, simulator: simulator, logger: logger)
        try server.start()
        let scheme = settings.plainHTTP ? "http" : "https"
        let security = settings.plainHTTP ? "plain HTTP" : "mutual TLS"
        logger.info("""
            \(settings.spine ? "Spine CP-IS simulator" : "SMSP simulator") listening on \(scheme)://\(settings.host):\(server.port)\(settings.path) (\(security)), \
            \(simulator.patientCount) test patients
            """)
        waitForTermination()
        logger.info("stopping")
        server.shutdown()
    }
}

/// Blocks until SIGINT or SIGTERM.
func waitForTermination() {
    let stop = DispatchSemaphore(value: 0)
    var sources: [any DispatchSourceSignal] = []
    for signalNumber in [SIGINT, SIGTERM] {
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler { stop.signal() }
        source.resume()
        sources.append(source)
    }
    stop.wait()
    sources.forEach { $0.cancel() }
}
