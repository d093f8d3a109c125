import AMQPClient
import Foundation
import HTTPTransport
import Logging
import Observability
import Settings
import Worker
import XMLSupport

/// Everything `cpis front-door` needs: `Config/front-door.yaml` (every key documented there), then
/// the environment (`CPIS_` and the key in upper snake case). Secrets come from files.
public struct FrontDoorConfiguration: Sendable {
    /// Where the HTTPS endpoint listens, and its path.
    public var host = "127.0.0.1"
    public var port = 9443
    public var path = "/smsp/cpis"
    /// The URL callers address (`wsa:To` must equal it); nil accepts any.
    public var endpoint: String?
    public var tls: TLSConfiguration
    public var limits = HTTPServer.Limits(maximumHeaderBytes: 16 * 1024, maximumBodyBytes: 64 * 1024,
                                          readTimeout: .seconds(10), maximumConnections: 256, maximumConnectionsPerClient: 32)
    public var broker: AMQPConfiguration
    public var triageQueue = WorkerTopology().triage
    /// How long a caller waits for its answer; the lookup expires after it.
    public var patience: Duration = .seconds(10)
    /// A query is relayed only with at least this long left before its deadline (otherwise SMSP-0004
    /// at once, nothing asked): the workers' own floor, so a query is not queued only to expire there.
    public var minimumCallTime: Duration = WorkerConfiguration.smspMinimumCallTime
    /// How long a message is remembered, so that a resend (same tracking id) is answered from it.
    public var resendWindow: Duration = .seconds(600)
    /// How long a `wsa:MessageID` is remembered, so that its reuse is refused.
    public var messageIDWindow: Duration = .seconds(24 * 3600)
    /// Our organisation's ODS code, in the answers' `itk:senderAddress`.
    public var senderODSCode = "SMSP"
    public var clients = ClientAuthorisation(odsCodesByClient: nil)
    public var monitoring: (host: String, port: Int)? = ("127.0.0.1", 9465)
    public var logLevel: Logger.Level = .info
    public var logFormat: LogFormat = .text
    public var unknownEnvironment: [(name: String, nearest: String?)] = []

    public init(tls: TLSConfiguration, broker: AMQPConfiguration) {
        self.tls = tls
        self.broker = broker
    }

    /// How requests' XML is read: never larger than a body may be, and without a document type
    /// declaration (SOAP 1.1 forbids one; refusing it at the first sight of `<!DOCTYPE` means no
    /// entity is ever declared, expanded or fetched).
    var xmlLimits: XMLParsingLimits {
        XMLParsingLimits(maximumInputBytes: limits.maximumBodyBytes, allowsDocumentTypeDeclaration: false)
    }

    /// Whether the endpoint listens on this machine only (where an open authorisation is allowed).
    public var listensOnLoopbackOnly: Bool { isLoopbackHost(host) }

    public static let schema = SettingsSchema(
        keys: WorkerConfiguration.brokerKeys.union([
            "listen.host", "listen.port", "listen.path", "listen.endpoint",
            "tls.certificate", "tls.key", "tls.clientCA",
            "limits.maxHeaderBytes", "limits.maxBodyBytes", "limits.maxConnections", "limits.maxConnectionsPerClient",
            "limits.readTimeoutMs",
            "topology.triage", "lookup.patienceMs", "lookup.minimumCallTimeMs", "lookup.resendWindowMs", "checks.messageIdWindowMs", "senderODS",
            "monitoring.enabled", "monitoring.host", "monitoring.port", "logging.level", "logging.format",
        ]),
        openMaps: ["authorisation.clients"],
        lists: ["broker.nodes"],
        secrets: ["broker.password"],
        legacyEnvironment: WorkerConfiguration.brokerLegacyEnvironment)

    public static func load(file: URL?, environment: [String: String]) async throws -> FrontDoorConfiguration {
        let settings = try await SettingsReader.load(file: file, environment: environment, schema: schema)
        try WorkerConfiguration.refuseAuthorisationInEnvironment(settings, readFrom: "authorisation.clients")
        let tls = TLSConfiguration.server(
            certificateFile: try settings.required("tls.certificate", "is needed: the endpoint's certificate (PEM)"),
            keyFile: try settings.required("tls.key", "is needed: its private key"),
            clientCAFile: try settings.required("tls.clientCA", "is needed: the CA that issues callers' client certificates"))
        let broker = try WorkerConfiguration.brokerConfiguration(
            settings, connectionName: "cpis front-door \(ProcessInfo.processInfo.hostName) \(getpid())")
        var configuration = FrontDoorConfiguration(tls: tls, broker: broker)

        configuration.host = settings.string("listen.host", default: configuration.host)
        configuration.port = try settings.int("listen.port", default: configuration.port)
        configuration.path = settings.string("listen.path", default: configuration.path)
        configuration.endpoint = settings.string("listen.endpoint")
        guard (0...65535).contains(configuration.port) else { throw settings.problem("listen.port", "is not a port") }
        guard configuration.path.hasPrefix("/") else { throw settings.problem("listen.path", "must start with /") }

        var limits = configuration.limits
        limits.maximumHeaderBytes = try settings.positiveInt("limits.maxHeaderBytes", default: limits.maximumHeaderBytes)
        limits.maximumBodyBytes = try settings.positiveInt("limits.maxBodyBytes", default: limits.maximumBodyBytes)
        limits.maximumConnections = try settings.positiveInt("limits.maxConnections", default: limits.maximumConnections)
        limits.maximumConnectionsPerClient = try settings.positiveInt("limits.maxConnectionsPerClient",
                                                                      default: limits.maximumConnectionsPerClient)
        limits.readTimeout = .milliseconds(try settings.positiveInt("limits.readTimeoutMs",
                                                                    default: Int(limits.readTimeout.wholeMilliseconds)))
        configuration.limits = limits

        configuration.triageQueue = settings.string("topology.triage", default: configuration.triageQueue)
        configuration.patience = .milliseconds(try settings.positiveInt("lookup.patienceMs",
                                                                        default: Int(configuration.patience.wholeMilliseconds)))
        configuration.minimumCallTime = .milliseconds(try settings.positiveInt(
            "lookup.minimumCallTimeMs", default: Int(configuration.minimumCallTime.wholeMilliseconds)))
        guard configuration.minimumCallTime < configuration.patience else {
            throw settings.problem("lookup.minimumCallTimeMs", "must be less than lookup.patienceMs, or no query is ever relayed")
        }
        configuration.resendWindow = .milliseconds(try settings.positiveInt("lookup.resendWindowMs",
                                                                            default: Int(configuration.resendWindow.wholeMilliseconds)))
        configuration.messageIDWindow = .milliseconds(try settings.positiveInt(
            "checks.messageIdWindowMs", default: Int(configuration.messageIDWindow.wholeMilliseconds)))
        configuration.senderODSCode = settings.string("senderODS", default: configuration.senderODSCode)

        if let clients = try settings.stringLists("authorisation.clients"), !clients.isEmpty {
            configuration.clients = ClientAuthorisation(odsCodesByClient: clients.mapValues(Set.init))
        } else if !configuration.listensOnLoopbackOnly {
            throw settings.problem("authorisation.clients", "is needed on \(configuration.host): list each client "
                + "certificate's subject (or CN) with the ODS codes it may act for. Without it, any client may ask "
                + "for any organisation, which is allowed on a loopback address only (local development)")
        }

        (configuration.monitoring, configuration.logLevel, configuration.logFormat) =
            try WorkerConfiguration.monitoringAndLogging(settings, defaultMonitoringPort: 9465)
        configuration.unknownEnvironment = settings.unknownEnvironment
        return configuration
    }
}
