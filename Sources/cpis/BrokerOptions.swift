import AMQPClient
import ArgumentParser
import Foundation

/// How to reach RabbitMQ: shared by every subcommand that talks to the broker. Each option falls back
/// to an environment variable, then to a local default.
struct BrokerOptions: ParsableArguments {
    @Option(name: .customLong("amqp-url"),
            help: "amqp://user@host:port/vhost or amqps://... (env CPIS_AMQP_URL; default amqp://guest@127.0.0.1:5672/).")
    var url: String?

    @Option(name: .customLong("amqp-password-file"),
            help: "File holding the broker password, so it is in no configuration (env CPIS_AMQP_PASSWORD_FILE).")
    var passwordFile: String?

    @Option(name: .customLong("amqp-tls-ca"), help: "PEM CA the broker's certificate must chain to (env CPIS_AMQP_TLS_CA).")
    var tlsCA: String?

    @Option(name: .customLong("amqp-tls-cert"), help: "PEM client certificate (env CPIS_AMQP_TLS_CERT).")
    var tlsCertificate: String?

    @Option(name: .customLong("amqp-tls-key"), help: "PEM client key (env CPIS_AMQP_TLS_KEY).")
    var tlsKey: String?

    func configuration(connectionName: String) throws -> AMQPConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let tls = (tlsCA ?? environment["CPIS_AMQP_TLS_CA"]).map {
            AMQPConfiguration.TLS(caCertificateFile: $0,
                                  certificateFile: tlsCertificate ?? environment["CPIS_AMQP_TLS_CERT"],
                                  keyFile: tlsKey ?? environment["CPIS_AMQP_TLS_KEY"])
        }
        var configuration = try AMQPConfiguration(
            url: url ?? environment["CPIS_AMQP_URL"] ?? "amqp://guest@127.0.0.1:5672/", tls: tls)
        if let passwordFile = passwordFile ?? environment["CPIS_AMQP_PASSWORD_FILE"] {
            do {
                configuration.password = try String(contentsOfFile: passwordFile, encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw ValidationError("cannot read the broker password file \(passwordFile): \(error.localizedDescription)")
            }
        }
        configuration.connectionName = connectionName
        return configuration
    }
}
