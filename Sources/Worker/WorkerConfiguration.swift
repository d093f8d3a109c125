import AMQPClient
import CPISDomain
import Foundation
import HTTPTransport
import Logging
import Observability
import Settings

/// Everything `cpis worker` needs: `Config/worker.yaml` (every key documented there), then the
/// environment. Secrets come from files the settings name, never from the settings themselves.
public struct WorkerConfiguration: Sendable {
    public var broker: AMQPConfiguration
    public var smspIdentity: SMSPIdentity
    public var smspTLS: TLSConfiguration?
    public var schemaDirectory: String?
    public var worker: WorkerSettings
    /// Set when the upstream is Spine itself (`upstream: spine`): this deployment is the SMSP.
    public var spine: SpineSettings? = nil
    /// Where `/metrics` and `/health/*` are served (port 0: any free one); nil when `monitoring.enabled` is false.
    public var monitoring: (host: String, port: Int)? = nil
    public var logLevel: Logger.Level = .info
    public var logFormat: LogFormat = .text
    /// `CPIS_*` variables that set nothing, with the nearest known name, for `cpis worker` to warn about.
    public var unknownEnvironment: [(name: String, nearest: String?)] = []

    /// The Spine upstream's settings (`spine.*`).
    public struct SpineSettings: Sendable {
        public var identity: SpineIdentity
        public var tls: TLSConfiguration?
        /// QUQI reason codes that mean the child is not on CP-IS.
        public var notFoundReasons: Set<String>
        /// Validate every request against `QUPC_IN000006GB01.xsd` from this folder.
        public var schemaDirectory: String?
        /// Ask again about a query that may have reached CP-IS without an answer (each query notifies
        /// the local authority): off unless a deployment decides otherwise.
        public var retryAfterPossibleProcessing: Bool

        public init(identity: SpineIdentity, tls: TLSConfiguration?, notFoundReasons: Set<String> = ["NHSNCC002"],
                    schemaDirectory: String? = nil, retryAfterPossibleProcessing: Bool = false) {
            self.identity = identity
            self.tls = tls
            self.notFoundReasons = notFoundReasons
            self.schemaDirectory = schemaDirectory
            self.retryAfterPossibleProcessing = retryAfterPossibleProcessing
        }
    }

    /// The broker's settings (`broker.*`), the same for every process that talks to the broker, and
    /// the older environment names that still set them.
    public static let brokerKeys: Set<String> = [
        "broker.url", "broker.passwordFile", "broker.tls.ca", "broker.tls.certificate", "broker.tls.key",
        "broker.heartbeatSeconds",
    ]
    public static let brokerLegacyEnvironment = [
        "CPIS_AMQP_URL": "broker.url", "CPIS_AMQP_PASSWORD_FILE": "broker.passwordFile",
        "CPIS_AMQP_TLS_CA": "broker.tls.ca", "CPIS_AMQP_TLS_CERT": "broker.tls.certificate",
        "CPIS_AMQP_TLS_KEY": "broker.tls.key",
    ]

    /// Every setting `cpis worker` reads, and the older environment names that still set them.
    public static let schema = SettingsSchema(
        keys: brokerKeys.union([
            "topology.triage", "topology.batch", "topology.dead", "topology.unanswered", "topology.deadLetterExchange",
            "topology.results", "topology.retryPrefix", "topology.accessExchange", "topology.audit",
            "topology.deliveryLimit",
            "smsp.endpoint", "smsp.username", "smsp.senderODS", "smsp.asid", "smsp.profileId", "smsp.timeoutMs", "smsp.minimumCallTimeMs",
            "smsp.tls.ca", "smsp.tls.certificate", "smsp.tls.key", "smsp.schemaDirectory",
            "concurrency.maxInFlight", "concurrency.reservedForTriage", "retry.maxAttempts",
            "circuitBreaker.failureThreshold", "circuitBreaker.coolDownMs", "circuitBreaker.maxCoolDownMs",
            "shutdown.gracePeriodMs", "limits.maxBodyBytes",
            "monitoring.enabled", "monitoring.host", "monitoring.port", "logging.level", "logging.format",
            "upstream", "spine.endpoint", "spine.asid", "spine.partyKey", "spine.spineASID", "spine.fromAddress",
            "spine.versionCode", "spine.timeoutMs", "spine.minimumCallTimeMs", "spine.tls.ca", "spine.tls.certificate", "spine.tls.key",
            "spine.retryAfterPossibleProcessing", "spine.schemaDirectory",
        ]),
        openMaps: ["authorisation.users"],
        lists: ["broker.nodes", "topology.retryDelaysMs", "spine.notFoundReasons"],
        secrets: ["broker.password"],
        legacyEnvironment: brokerLegacyEnvironment.merging([
            "CPIS_SMSP_TLS_CERT": "smsp.tls.certificate",
            "CPIS_SMSP_SCHEMA_DIR": "smsp.schemaDirectory", "CPIS_WORKER_MAX_IN_FLIGHT": "concurrency.maxInFlight",
            "CPIS_WORKER_RESERVED_FOR_TRIAGE": "concurrency.reservedForTriage",
            "CPIS_WORKER_MAX_ATTEMPTS": "retry.maxAttempts", "CPIS_WORKER_GRACE_MS": "shutdown.gracePeriodMs",
        ]) { first, _ in first })

    /// Reads the settings file (when given), secrets from files and the environment (see
    /// ``SettingsReader``). The defaults are ``WorkerSettings``' and ``WorkerTopology``'s, and the
    /// ones written here.
    public static func load(file: URL?, environment: [String: String]) async throws -> WorkerConfiguration {
        let settings = try await SettingsReader.load(file: file, environment: environment, schema: schema)
        try refuseAuthorisationInEnvironment(settings, readFrom: "authorisation.users")
        let broker = try brokerConfiguration(settings, connectionName: "cpis worker \(ProcessInfo.processInfo.hostName) \(getpid())")

        // SMSP
        var identity = SMSPIdentity(
            endpoint: settings.string("smsp.endpoint", default: "https://localhost:8443/smsp/cpis"),
            username: settings.string("smsp.username", default: "cpis-local"),
            senderODSCode: settings.string("smsp.senderODS"), asid: settings.string("smsp.asid"))
        if let profile = settings.string("smsp.profileId") { identity.profileId = profile }
        // The SMSP's settings matter only when it is the upstream.
        let upstream = settings.string("upstream", default: "smsp")
        var smspTLS: TLSConfiguration?
        if upstream == "smsp" {
            guard let endpoint = URL(string: identity.endpoint), let scheme = endpoint.scheme, endpoint.host != nil,
                  ["https", "http"].contains(scheme)
            else { throw settings.problem("smsp.endpoint", "'\(identity.endpoint)' is not an http(s) URL") }
            if scheme == "https" {
            guard let ca = settings.string("smsp.tls.ca") else {
                throw settings.problem("smsp.tls.ca", "needed for an https endpoint (the CA the SMSP's certificate chains to)")
            }
            smspTLS = .client(caFile: ca, certificateFile: settings.string("smsp.tls.certificate"),
                              keyFile: settings.string("smsp.tls.key"))
            }
        }

        // Worker
        var worker = WorkerSettings()
        worker.topology = try topology(settings)
        worker.maximumInFlight = try settings.int("concurrency.maxInFlight", default: worker.maximumInFlight)
        worker.reservedForTriage = try settings.int("concurrency.reservedForTriage", default: worker.reservedForTriage)
        guard worker.maximumInFlight > 0, (0..<worker.maximumInFlight).contains(worker.reservedForTriage) else {
            throw settings.problem("concurrency", "maxInFlight must be positive and reservedForTriage smaller than it")
        }
        worker.maximumAttempts = try settings.int("retry.maxAttempts", default: worker.maximumAttempts)
        guard worker.maximumAttempts >= 1 else { throw settings.problem("retry.maxAttempts", "must be at least 1") }
        worker.smspTimeout = .milliseconds(try settings.positiveInt("smsp.timeoutMs",
                                                                    default: Int(worker.smspTimeout.wholeMilliseconds)))
        worker.minimumCallTime = .milliseconds(try settings.positiveInt(
            "smsp.minimumCallTimeMs", default: Int(Self.smspMinimumCallTime.wholeMilliseconds)))
        worker.shutdownGracePeriod = .milliseconds(try settings.positiveInt("shutdown.gracePeriodMs",
                                                                            default: Int(worker.shutdownGracePeriod.wholeMilliseconds)))
        worker.maximumBodyBytes = try settings.positiveInt("limits.maxBodyBytes", default: worker.maximumBodyBytes)
        worker.breakerFailureThreshold = try settings.positiveInt("circuitBreaker.failureThreshold",
                                                                  default: worker.breakerFailureThreshold)
        worker.breakerCoolDown = .milliseconds(try settings.positiveInt("circuitBreaker.coolDownMs",
                                                                        default: Int(worker.breakerCoolDown.wholeMilliseconds)))
        worker.breakerMaximumCoolDown = .milliseconds(try settings.positiveInt(
            "circuitBreaker.maxCoolDownMs", default: Int(worker.breakerMaximumCoolDown.wholeMilliseconds)))
        if let users = try settings.stringLists("authorisation.users"), !users.isEmpty {
            worker.authorisation = Authorisation(odsCodesByUser: users.mapValues(Set.init))
        } else if let remote = broker.nodes.first(where: { !isLoopbackHost($0.host) }) {
            // Fail closed, as the front door does: open only where nothing but this machine reaches the broker.
            throw SettingsProblem("authorisation.users (in the settings file; never from the environment) is needed with "
                + "the broker on \(remote.host): list each broker user with the ODS codes it may act for. Without it, any "
                + "EPR could look up children for any organisation, which is allowed with a broker on a loopback address "
                + "only (local development)")
        }

        let operations = try monitoringAndLogging(settings, defaultMonitoringPort: 9464)
        // The upstream: another organisation's SMSP (the default), or Spine itself.
        var spine: SpineSettings?
        switch upstream {
        case "smsp":
            break
        case "spine":
            spine = try spineSettings(settings)
            worker.smspTimeout = .milliseconds(try settings.positiveInt("spine.timeoutMs", default: 20_000))
            worker.minimumCallTime = .milliseconds(try settings.positiveInt(
                "spine.minimumCallTimeMs", default: Int(Self.spineMinimumCallTime.wholeMilliseconds)))
        case let other:
            throw settings.problem("upstream", "'\(other)' is not smsp or spine")
        }
        return WorkerConfiguration(
            broker: broker, smspIdentity: identity, smspTLS: smspTLS, schemaDirectory: settings.string("smsp.schemaDirectory"),
            worker: worker, spine: spine, monitoring: operations.monitoring,
            logLevel: operations.logLevel, logFormat: operations.logFormat, unknownEnvironment: settings.unknownEnvironment)
    }

    /// The minimum call times' defaults: about the upstream's normal answer time. No public figure
    /// exists for CP-IS; Spine's synchronous interactions answer in roughly 100–200 ms, and another
    /// SMSP adds its own hop to Spine. Measure yours (`cpis_smsp_call_duration_seconds`) and set it near the median.
    public static let spineMinimumCallTime: Duration = .milliseconds(200)
    public static let smspMinimumCallTime: Duration = .milliseconds(300)

    /// Refuses a `CPIS_AUTHORISATION*` variable: the map `key` is read from the settings file only,
    /// and silently ignoring the variable would leave every request allowed.
    public static func refuseAuthorisationInEnvironment(_ settings: SettingsReader, readFrom key: String) throws {
        if let name = settings.unknownEnvironment.first(where: { $0.name.hasPrefix("CPIS_AUTHORISATION") })?.name {
            throw SettingsProblem("\(name) is set, but \(key) is read from the settings file only")
        }
    }

    /// `monitoring.*` and `logging.*`, as every long-lived command (the worker, the front door) reads them.
    public static func monitoringAndLogging(_ settings: SettingsReader, defaultMonitoringPort: Int) throws
        -> (monitoring: (host: String, port: Int)?, logLevel: Logger.Level, logFormat: LogFormat)
    {
        let port = try settings.int("monitoring.port", default: defaultMonitoringPort)
        guard (0...65535).contains(port) else {
            throw settings.problem("monitoring.port", "\(port) is not a port (0 lets the system choose one)")
        }
        let levelText = settings.string("logging.level", default: "info")
        guard let logLevel = Logger.Level(rawValue: levelText) else {
            throw settings.problem("logging.level", "'\(levelText)' is not one of "
                + Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let formatText = settings.string("logging.format", default: "text")
        guard let logFormat = LogFormat(rawValue: formatText) else {
            throw settings.problem("logging.format", "'\(formatText)' is not text or json")
        }
        let monitoring = try settings.bool("monitoring.enabled", default: true)
            ? (settings.string("monitoring.host", default: "127.0.0.1"), port) : nil
        return (monitoring, logLevel, logFormat)
    }

    /// Only the broker and the topology, for the tools that need no more of the worker's settings
    /// (`cpis dead`, `cpis topology`), on an operations machine without the SMSP's certificates.
    public static func loadBrokerAndTopology(file: URL?, environment: [String: String], connectionName: String)
        async throws -> (broker: AMQPConfiguration, topology: WorkerTopology)
    {
        let settings = try await SettingsReader.load(file: file, environment: environment, schema: schema)
        return (try brokerConfiguration(settings, connectionName: connectionName), try topology(settings))
    }

    /// The broker settings (`broker.*`): the worker's, and those of the commands that only talk to
    /// the broker (`cpis lookup`, `cpis broker-check`), which read the environment alone.
    public static func brokerConfiguration(_ settings: SettingsReader, connectionName: String) throws -> AMQPConfiguration {
        let tls = settings.string("broker.tls.ca").map {
            AMQPConfiguration.TLS(caCertificateFile: $0, certificateFile: settings.string("broker.tls.certificate"),
                                  keyFile: settings.string("broker.tls.key"))
        }
        var broker: AMQPConfiguration
        do {
            broker = try AMQPConfiguration(url: settings.string("broker.url", default: "amqp://guest@127.0.0.1:5672/"), tls: tls)
        } catch {
            throw settings.problem("broker.url", error.message)
        }
        let fromFile = try settings.string("broker.passwordFile").map { path throws(SettingsProblem) in
            guard let password = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw settings.problem("broker.passwordFile", "cannot read \(path)")
            }
            return password.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let given = settings.secret("broker.password")
        // Two sources of the password that disagree: neither is more right than the other.
        if let given, let fromFile, given != fromFile {
            throw settings.problem("broker.password", "set as well as broker.passwordFile, with another value: keep one")
        }
        if let password = given ?? fromFile { broker.password = password }
        if let nodes = settings.stringArray("broker.nodes") {
            broker.otherNodes = try nodes.enumerated().map { index, text throws(SettingsProblem) in
                // Never echoed: an entry written as a URL may hold a password.
                guard !text.contains("@"), !text.contains("/"),
                      let node = try? AMQPConfiguration.Node(text, defaultPort: broker.port) else {
                    throw settings.problem("broker.nodes", "entry \(index + 1) is not host:port (credentials go in "
                        + "broker.url and the password settings, never in the node list)")
                }
                return node
            }
        }
        broker.heartbeat = .seconds(try settings.int("broker.heartbeatSeconds", default: 30))
        broker.connectionName = connectionName
        return broker
    }

    private static func spineSettings(_ settings: SettingsReader) throws -> SpineSettings {
        func required(_ key: String, _ what: String) throws -> String {
            try settings.required(key, "needed for upstream spine: \(what)")
        }
        let endpoint = try required("spine.endpoint", "Spine's CP-IS endpoint URL (SDS nhsMHSEndPoint)")
        guard let url = URL(string: endpoint), ["https", "http"].contains(url.scheme ?? ""), url.host != nil else {
            throw settings.problem("spine.endpoint", "'\(endpoint)' is not an http(s) URL")
        }
        var identity = SpineIdentity(endpoint: endpoint, asid: try required("spine.asid", "our ASID"),
                                     partyKey: settings.string("spine.partyKey"),
                                     spineASID: try required("spine.spineASID", "Spine CP-IS's ASID (SDS)"),
                                     fromAddress: settings.string("spine.fromAddress"))
        if let version = settings.string("spine.versionCode") { identity.versionCode = version }
        var tls: TLSConfiguration?
        if url.scheme == "https" {
            tls = .client(caFile: try required("spine.tls.ca", "the CA Spine's certificate chains to"),
                          certificateFile: settings.string("spine.tls.certificate"), keyFile: settings.string("spine.tls.key"))
        }
        return SpineSettings(identity: identity, tls: tls,
                             notFoundReasons: Set(settings.stringArray("spine.notFoundReasons") ?? ["NHSNCC002"]),
                             schemaDirectory: settings.string("spine.schemaDirectory"),
                             retryAfterPossibleProcessing: try settings.bool("spine.retryAfterPossibleProcessing", default: false))
    }

    private static func topology(_ settings: SettingsReader) throws -> WorkerTopology {
        var topology = WorkerTopology()
        let names: [(String, WritableKeyPath<WorkerTopology, String>)] = [
            ("triage", \.triage), ("batch", \.batch), ("dead", \.dead), ("unanswered", \.unanswered),
            ("deadLetterExchange", \.deadLetterExchange), ("results", \.results), ("retryPrefix", \.retryPrefix),
            ("accessExchange", \.accessExchange), ("audit", \.audit),
        ]
        for (name, keyPath) in names {
            topology[keyPath: keyPath] = settings.string("topology.\(name)", default: topology[keyPath: keyPath])
        }
        topology.deliveryLimit = try settings.int("topology.deliveryLimit", default: topology.deliveryLimit)
        guard topology.deliveryLimit >= 1 else { throw settings.problem("topology.deliveryLimit", "must be at least 1") }
        if let delays = try settings.intArray("topology.retryDelaysMs") {
            guard delays.allSatisfy({ $0 > 0 }) else { throw settings.problem("topology.retryDelaysMs", "every delay must be more than 0") }
            topology.retryDelays = delays.map { .milliseconds($0) }
        }
        return topology
    }
}
