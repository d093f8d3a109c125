import AMQPClient
import ArgumentParser
import Foundation
import Settings
import Worker

/// How to reach RabbitMQ: shared by every subcommand that talks to the broker. Each option falls back
/// to the worker's environment variables for `broker.*` (CPIS_BROKER_URL, ...; the older CPIS_AMQP_*
/// names work too), then to a local default.
struct BrokerOptions: ParsableArguments {
    @Option(name: .customLong("amqp-url"),
            help: "amqp://user@host:port/vhost or amqps://... (env CPIS_BROKER_URL; default amqp://guest@127.0.0.1:5672/).")
    var url: String?

    @Option(name: .customLong("amqp-password-file"),
            help: "File holding the broker password, so it is in no configuration (env CPIS_BROKER_PASSWORD_FILE).")
    var passwordFile: String?

    @Option(name: .customLong("amqp-tls-ca"), help: "PEM CA the broker's certificate must chain to (env CPIS_BROKER_TLS_CA).")
    var tlsCA: String?

    @Option(name: .customLong("amqp-tls-cert"), help: "PEM client certificate (env CPIS_BROKER_TLS_CERTIFICATE).")
    var tlsCertificate: String?

    @Option(name: .customLong("amqp-tls-key"), help: "PEM client key (env CPIS_BROKER_TLS_KEY).")
    var tlsKey: String?

    func configuration(connectionName: String) async throws -> AMQPConfiguration {
        // The options win over the environment: they are given as the variables they override.
        var environment = ProcessInfo.processInfo.environment
        let options = [("broker.url", url), ("broker.passwordFile", passwordFile), ("broker.tls.ca", tlsCA),
                       ("broker.tls.certificate", tlsCertificate), ("broker.tls.key", tlsKey)]
        for case let (key, value?) in options { environment[WorkerConfiguration.schema.environmentName(of: key)] = value }
        // A password file given here is the password, whatever the environment says.
        if passwordFile != nil { environment["CPIS_BROKER_PASSWORD"] = nil }
        let settings = try await SettingsReader.load(file: nil, environment: environment, schema: WorkerConfiguration.schema)
        return try WorkerConfiguration.brokerConfiguration(settings, connectionName: connectionName)
    }
}
