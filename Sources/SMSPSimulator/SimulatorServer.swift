import CPISDomain
import Foundation
import HTTPTransport
import Logging

/// The simulator on the network: the SOAP endpoint over HTTPS with mutual TLS (plain HTTP only when
/// asked for), and a small JSON API for health, the notification log and test control.
///
/// | method and path | what |
/// |---|---|
/// | POST `<path>` (default `/smsp/cpis`) | the CP-IS SMSP SOAP endpoint, or with `spine: true` Spine's CP-IS (HL7 V3) |
/// | GET `/health` | `{"status":"ok","patients":N,"requests":N,"mostInFlight":N}` |
/// | GET `/notifications[?localAuthority=V145][&nhsNumber=...]` | what CP-IS would have told local authorities |
/// | POST `/admin/script` `{"nhsNumber":"...","steps":["soap-server-fault","answer"]}` | sequenced answers |
/// | POST `/admin/behaviour` `{"latencyMs":..,"latencyMedianMs":..,"latencyP99Ms":..,"faultRates":{..},"faultTriggers":{..}}` | change latency and faults |
/// | POST `/admin/reset` | forget accesses, notifications and scripts |
public final class SimulatorServer: Sendable {
    public let simulator: SMSPSimulator
    private let server: HTTPServer
    private let path: String
    /// Answer as Spine's CP-IS (HL7 V3) rather than as an SMSP (ITK SOAP).
    private let answersAsSpine: Bool

    public init(settings: SimulatorSettings, simulator: SMSPSimulator, logger: Logger) throws {
        self.simulator = simulator
        self.path = settings.path
        answersAsSpine = settings.spine
        let tls: TLSConfiguration?
        if settings.plainHTTP {
            tls = nil
        } else {
            guard let certificate = settings.certificateFile, let key = settings.keyFile,
                  let clientCA = settings.clientCAFile
            else {
                throw SimulatorConfigurationError(
                    "mutual TLS needs tls.certificate, tls.key and tls.clientCA (or plainHTTP: true, explicitly)")
            }
            tls = .server(certificateFile: certificate, keyFile: key, clientCAFile: clientCA)
        }
        server = try HTTPServer(host: settings.host, port: settings.port, tls: tls, logger: logger)
    }

    /// Starts listening; returns once the port is bound.
    public func start() throws {
        try server.start { [self] request, _ in route(request) }
    }

    /// The bound port (useful when started on port 0).
    public var port: Int { server.port }

    /// TLS connections accepted so far (keep-alive means few).
    public var acceptedConnections: Int { server.acceptedConnections }

    public func shutdown() { server.shutdown() }

    private func route(_ request: HTTPRequest) -> HTTPServerReply {
        let (path, query) = Self.split(request.target)
        switch (request.method, path) {
        case ("POST", self.path):
            let reply = simulator.handling {
                let latency = simulator.nextLatency()
                let soapAction = request.headers["SOAPAction"]
                let reply = answersAsSpine ? simulator.handleSpine(soapAction: soapAction, body: request.body)
                    : simulator.handle(soapAction: soapAction, body: request.body)
                if latency > .zero, reply != .noResponse { Thread.sleep(forTimeInterval: latency.seconds) }
                return reply
            }
            switch reply {
            case .respond(let status, let contentType, let body):
                return .respond(Self.response(status, contentType: contentType, body: Array(body.utf8)))
            case .resetMidBody(let status, let contentType, let body):
                return .resetMidBody(Self.response(status, contentType: contentType, body: Array(body.utf8)))
            case .noResponse:
                return .noResponse
            }
        case ("GET", "/health"):
            return Self.json(200, ["status": "ok", "patients": simulator.patientCount, "requests": simulator.requestCount,
                                   "mostInFlight": simulator.mostInFlight] as [String: any Sendable])
        case ("GET", "/notifications"):
            let notifications = simulator.notifications(localAuthority: query["localAuthority"],
                                                        nhsNumber: query["nhsNumber"])
            return .respond(Self.response(200, contentType: "application/json", body: Self.encode(notifications)))
        case ("POST", "/admin/script"):
            guard let script = try? JSONDecoder().decode(Script.self, from: Data(request.body)) else {
                return Self.badRequest("expected {\"nhsNumber\": \"...\", \"steps\": [\"soap-server-fault\", \"answer\", ...]}")
            }
            simulator.script(nhsNumber: script.nhsNumber, steps: script.steps)
            return .respond(Self.response(204, contentType: nil, body: []))
        case ("POST", "/admin/behaviour"):
            do {
                simulator.behaviour = try JSONDecoder().decode(BehaviourChange.self, from: Data(request.body)).behaviour()
            } catch {
                return Self.badRequest("\(error)")
            }
            return .respond(Self.response(204, contentType: nil, body: []))
        case ("POST", "/admin/reset"):
            simulator.reset()
            return .respond(Self.response(204, contentType: nil, body: []))
        case (_, self.path), (_, "/health"), (_, "/notifications"):
            return .respond(Self.response(405, contentType: "text/plain", body: Array("method not allowed\n".utf8)))
        default:
            return .respond(Self.response(404, contentType: "text/plain", body: Array("not found: \(path)\n".utf8)))
        }
    }

    private struct Script: Decodable {
        var nhsNumber: String
        var steps: [SimulatorStep]
    }

    private struct BehaviourChange: Decodable {
        var latencyMs: Int?
        var latencyMedianMs: Int?
        var latencyP99Ms: Int?
        var faultRates: [String: Double]?
        var faultTriggers: [String: String]?

        func behaviour() throws -> SimulatorBehaviour {
            var behaviour = SimulatorBehaviour(
                latency: try SimulatorSettings.latency(fixed: latencyMs, median: latencyMedianMs, p99: latencyP99Ms))
            for (name, rate) in faultRates ?? [:] { behaviour.faultRates[try SimulatorSettings.fault(name)] = rate }
            for (number, name) in faultTriggers ?? [:] { behaviour.faultTriggers[number] = try SimulatorSettings.fault(name) }
            return behaviour
        }
    }

    private static func split(_ target: String) -> (String, [String: String]) {
        guard let components = URLComponents(string: target) else { return (target, [:]) }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value }
        return (components.path, query)
    }

    private static func response(_ status: Int, contentType: String?, body: [UInt8]) -> HTTPResponse {
        var headers = HTTPHeaders()
        if let contentType { headers.add(name: "Content-Type", value: contentType) }
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    private static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(value)) ?? Data("null".utf8))
    }

    private static func json(_ status: Int, _ object: [String: any Sendable]) -> HTTPServerReply {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return .respond(response(status, contentType: "application/json", body: Array(data)))
    }

    private static func badRequest(_ message: String) -> HTTPServerReply {
        .respond(response(400, contentType: "text/plain", body: Array("\(message)\n".utf8)))
    }
}
