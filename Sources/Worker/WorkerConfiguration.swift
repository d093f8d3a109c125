import AMQPClient
import CPISDomain
import Foundation
import HTTPTransport
import Logging
import Observability
import Yams

/// Everything `cpis worker` needs: `Config/worker.yaml` (every key documented there), then the
/// environment. Secrets come from files the settings name, never from the settings themselves.
public struct WorkerConfiguration: Sendable {
    public var broker: AMQPConfiguration
    public var smspIdentity: SMSPIdentity
    public var smspTLS: TLSConfiguration?
    public var schemaDirectory: String?
    public var worker: WorkerSettings
    /// Where `/metrics` and `/health/*` are served (port 0: any free one); nil when `monitoring.enabled` is false.
    public var monitoring: (host: String, port: Int)? = nil
    public var logLevel: Logger.Level = .info
    public var logFormat: LogFormat = .text

    /// A setting the worker cannot use, and why.
    public struct Problem: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    public static func load(file: URL?, environment: [String: String]) throws(Problem) -> WorkerConfiguration {
        var parsed = File()
        if let file {
            do {
                parsed = try YAMLDecoder().decode(File.self, from: String(contentsOf: file, encoding: .utf8))
            } catch {
                throw Problem("\(file.path): \(error)")
            }
        }
        func env(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        func number(_ name: String, _ fallback: Int?) throws(Problem) -> Int? {
            guard let text = env(name) else { return fallback }
            guard let value = Int(text) else { throw Problem("\(name)='\(text)' is not a whole number") }
            return value
        }

        // Broker
        let brokerTLS = (env("CPIS_AMQP_TLS_CA") ?? parsed.broker?.tls?.ca).map {
            AMQPConfiguration.TLS(caCertificateFile: $0,
                                  certificateFile: env("CPIS_AMQP_TLS_CERT") ?? parsed.broker?.tls?.certificate,
                                  keyFile: env("CPIS_AMQP_TLS_KEY") ?? parsed.broker?.tls?.key)
        }
        var broker: AMQPConfiguration
        do {
            broker = try AMQPConfiguration(url: env("CPIS_AMQP_URL") ?? parsed.broker?.url ?? "amqp://guest@127.0.0.1:5672/",
                                           tls: brokerTLS)
        } catch {
            throw Problem("broker.url: \(error.message)")
        }
        if let passwordFile = env("CPIS_AMQP_PASSWORD_FILE") ?? parsed.broker?.passwordFile {
            guard let password = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw Problem("cannot read the broker password file \(passwordFile)")
            }
            broker.password = password.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        broker.heartbeat = .seconds(parsed.broker?.heartbeatSeconds ?? 30)
        broker.connectionName = "cpis worker \(ProcessInfo.processInfo.hostName) \(getpid())"

        // SMSP
        let smsp = parsed.smsp
        var identity = SMSPIdentity(
            endpoint: env("CPIS_SMSP_ENDPOINT") ?? smsp?.endpoint ?? "https://localhost:8443/smsp/cpis",
            username: env("CPIS_SMSP_USERNAME") ?? smsp?.username ?? "cpis-local",
            senderODSCode: env("CPIS_SMSP_SENDER_ODS") ?? smsp?.senderODS, asid: env("CPIS_SMSP_ASID") ?? smsp?.asid)
        if let profile = env("CPIS_SMSP_PROFILE_ID") ?? smsp?.profileId { identity.profileId = profile }
        guard let endpoint = URL(string: identity.endpoint), let scheme = endpoint.scheme, endpoint.host != nil,
              ["https", "http"].contains(scheme)
        else { throw Problem("smsp.endpoint '\(identity.endpoint)' is not an http(s) URL") }
        var smspTLS: TLSConfiguration?
        if scheme == "https" {
            guard let ca = env("CPIS_SMSP_TLS_CA") ?? smsp?.tls?.ca else {
                throw Problem("smsp.tls.ca is needed for an https endpoint (the CA the SMSP's certificate chains to)")
            }
            smspTLS = .client(caFile: ca, certificateFile: env("CPIS_SMSP_TLS_CERT") ?? smsp?.tls?.certificate,
                              keyFile: env("CPIS_SMSP_TLS_KEY") ?? smsp?.tls?.key)
        }

        // Worker
        var worker = WorkerSettings()
        if let topology = parsed.topology { worker.topology = topology.apply(to: worker.topology) }
        worker.maximumInFlight = try number("CPIS_WORKER_MAX_IN_FLIGHT", parsed.concurrency?.maxInFlight) ?? worker.maximumInFlight
        worker.reservedForTriage = try number("CPIS_WORKER_RESERVED_FOR_TRIAGE", parsed.concurrency?.reservedForTriage)
            ?? worker.reservedForTriage
        guard worker.maximumInFlight > 0, (0..<worker.maximumInFlight).contains(worker.reservedForTriage) else {
            throw Problem("concurrency: maxInFlight must be positive and reservedForTriage smaller than it")
        }
        worker.maximumAttempts = max(1, try number("CPIS_WORKER_MAX_ATTEMPTS", parsed.retry?.maxAttempts) ?? worker.maximumAttempts)
        worker.smspTimeout = .milliseconds(try number("CPIS_SMSP_TIMEOUT_MS", smsp?.timeoutMs) ?? 10_000)
        worker.shutdownGracePeriod = .milliseconds(try number("CPIS_WORKER_GRACE_MS", parsed.shutdown?.gracePeriodMs) ?? 20_000)
        worker.maximumBodyBytes = parsed.limits?.maxBodyBytes ?? worker.maximumBodyBytes
        if let breaker = parsed.circuitBreaker {
            worker.breakerFailureThreshold = breaker.failureThreshold ?? worker.breakerFailureThreshold
            worker.breakerCoolDown = breaker.coolDownMs.map { .milliseconds($0) } ?? worker.breakerCoolDown
            worker.breakerMaximumCoolDown = breaker.maxCoolDownMs.map { .milliseconds($0) } ?? worker.breakerMaximumCoolDown
        }
        if let users = parsed.authorisation?.users, !users.isEmpty {
            worker.authorisation = Authorisation(odsCodesByUser: users.mapValues(Set.init))
        }

        // Monitoring and logs
        let monitoringEnabled = env("CPIS_MONITORING_ENABLED").map { $0 == "true" } ?? parsed.monitoring?.enabled ?? true
        let monitoringPort = try number("CPIS_MONITORING_PORT", parsed.monitoring?.port) ?? 9464
        guard (0...65535).contains(monitoringPort) else {
            throw Problem("monitoring.port \(monitoringPort) is not a port (0 lets the system choose one)")
        }
        let monitoringHost = env("CPIS_MONITORING_HOST") ?? parsed.monitoring?.host ?? "127.0.0.1"
        let levelText = env("CPIS_LOG_LEVEL") ?? parsed.logging?.level ?? "info"
        guard let logLevel = Logger.Level(rawValue: levelText) else {
            throw Problem("logging.level '\(levelText)' is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let formatText = env("CPIS_LOG_FORMAT") ?? parsed.logging?.format ?? "text"
        guard let logFormat = LogFormat(rawValue: formatText) else {
            throw Problem("logging.format '\(formatText)' is not text or json")
        }
        return WorkerConfiguration(broker: broker, smspIdentity: identity, smspTLS: smspTLS,
                                   schemaDirectory: env("CPIS_SMSP_SCHEMA_DIR") ?? smsp?.schemaDirectory, worker: worker,
                                   monitoring: monitoringEnabled ? (monitoringHost, monitoringPort) : nil,
                                   logLevel: logLevel, logFormat: logFormat)
    }

    private struct File: Decodable {
        struct Broker: Decodable {
            struct TLS: Decodable { var ca: String?; var certificate: String?; var key: String? }
            var url: String?
            var passwordFile: String?
            var tls: TLS?
            var heartbeatSeconds: Int?
        }
        struct Topology: Decodable {
            var triage: String?, batch: String?, dead: String?, unanswered: String?, deadLetterExchange: String?
            var results: String?, retryPrefix: String?, accessExchange: String?, audit: String?
            var deliveryLimit: Int?
            var retryDelaysMs: [Int]?

            func apply(to topology: WorkerTopology) -> WorkerTopology {
                var topology = topology
                topology.triage = triage ?? topology.triage
                topology.batch = batch ?? topology.batch
                topology.dead = dead ?? topology.dead
                topology.unanswered = unanswered ?? topology.unanswered
                topology.deadLetterExchange = deadLetterExchange ?? topology.deadLetterExchange
                topology.results = results ?? topology.results
                topology.retryPrefix = retryPrefix ?? topology.retryPrefix
                topology.accessExchange = accessExchange ?? topology.accessExchange
                topology.audit = audit ?? topology.audit
                topology.deliveryLimit = deliveryLimit ?? topology.deliveryLimit
                if let delays = retryDelaysMs, !delays.isEmpty { topology.retryDelays = delays.map { .milliseconds($0) } }
                return topology
            }
        }
        struct SMSP: Decodable {
            struct TLS: Decodable { var ca: String?; var certificate: String?; var key: String? }
            var endpoint: String?, username: String?, senderODS: String?, asid: String?, profileId: String?
            var timeoutMs: Int?
            var tls: TLS?
            var schemaDirectory: String?
        }
        struct Concurrency: Decodable { var maxInFlight: Int?; var reservedForTriage: Int? }
        struct Retry: Decodable { var maxAttempts: Int? }
        struct Breaker: Decodable { var failureThreshold: Int?; var coolDownMs: Int?; var maxCoolDownMs: Int? }
        struct Shutdown: Decodable { var gracePeriodMs: Int? }
        struct Limits: Decodable { var maxBodyBytes: Int? }
        struct AuthorisationFile: Decodable { var users: [String: [String]]? }
        struct Monitoring: Decodable { var enabled: Bool?; var host: String?; var port: Int? }
        struct Logging: Decodable { var level: String?; var format: String? }
        var broker: Broker?
        var topology: Topology?
        var smsp: SMSP?
        var concurrency: Concurrency?
        var retry: Retry?
        var circuitBreaker: Breaker?
        var shutdown: Shutdown?
        var limits: Limits?
        var authorisation: AuthorisationFile?
        var monitoring: Monitoring?
        var logging: Logging?
    }
}
