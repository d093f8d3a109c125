import CPISDomain
import Foundation
import HTTPTransport
import Logging
import SMSPSimulator
import Testing
import TestSupport

/// The simulator on the network, driven over real mutual TLS with an HTTP client.
@Suite("SMSP simulator over mutual TLS", .serialized, .timeLimit(.minutes(2)))
struct SimulatorServerTests {
    /// A running simulator on an ephemeral port, and a client with the worker's certificate.
    struct Rig {
        let server: SimulatorServer
        let client: HTTPClient
        var url: URL { URL(string: "https://127.0.0.1:\(server.port)")! }

        init(behaviour: SimulatorBehaviour = SimulatorBehaviour(), clientCertificate: Bool = true) throws {
            var settings = SimulatorSettings()
            settings.port = 0
            settings.certificateFile = try Certificates.path("server.pem")
            settings.keyFile = try Certificates.path("server.key")
            settings.clientCAFile = try Certificates.path("ca.pem")
            var logger = Logger(label: "test.simulator")
            logger.logLevel = .critical
            let simulator = SMSPSimulator(dataset: try SimulatorDataset(contentsOf: Fixture.datasetURL),
                                          behaviour: behaviour)
            server = try SimulatorServer(settings: settings, simulator: simulator, logger: logger)
            try server.start()
            client = try HTTPClient(tls: Certificates.client(withCertificate: clientCertificate), logger: logger)
        }

        func post(_ nhsNumber: String, timeout: Duration = .seconds(5)) throws -> HTTPResponse {
            let request = try Fixture.builder.build(nhsNumber: try NHSNumber(nhsNumber), requester: Fixture.user())
            return try client.execute(HTTPRequest(method: "POST", target: "/smsp/cpis", headers: [
                "Content-Type": "text/xml; charset=utf-8", "SOAPAction": SMSPConstants.requestService,
            ], body: Array(request.body.utf8)), url: url, timeout: timeout)
        }

        func get(_ target: String) throws -> HTTPResponse {
            try client.execute(HTTPRequest(method: "GET", target: target), url: url, timeout: .seconds(5))
        }

        func postJSON(_ target: String, _ json: String) throws -> HTTPResponse {
            try client.execute(HTTPRequest(method: "POST", target: target, headers: ["Content-Type": "application/json"],
                                           body: Array(json.utf8)), url: url, timeout: .seconds(5))
        }

        func stop() {
            client.shutdown()
            server.shutdown()
        }
    }

    @Test("a client without a certificate from the configured CA is refused at the handshake")
    func handshakeRefusal() throws {
        let rig = try Rig(clientCertificate: false)
        defer { rig.stop() }
        let error = #expect(throws: HTTPTransportError.self) { try rig.post("9990000018") }
        #expect(error?.code == .tlsHandshakeFailed || error?.code == .connectionClosed, "\(String(describing: error))")
        #expect(rig.server.simulator.notifications().isEmpty)
    }

    @Test("answers read back through the project's own reader; the log shows one notification to the right LA")
    func answersAndNotificationLog() throws {
        let rig = try Rig()
        defer { rig.stop() }
        let health = try rig.get("/health")
        #expect(health.status == 200)
        #expect(String(decoding: health.body, as: UTF8.self).contains("\"status\":\"ok\""))

        let response = try rig.post("999 000 0050")
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"]?.hasPrefix("text/xml") == true)
        let answer = try SMSPResponseReader.read(response.body).answer
        #expect(answer.responseCode.code == "SMSP-0000")
        #expect(answer.plans.first?.localAuthority.odsCode == "V820")
        #expect(answer.plans.first?.localAuthority.emergencyDutyPhone == nil)

        let triggers = ["1111111111": "SMSP-0001", "2222222222": "SMSP-0002", "3333333333": "SMSP-0003",
                        "4444444444": "SMSP-0004", "5555555555": "SMSP-0005", "6666666666": "SMSP-9999",
                        "7777777777": "CPIS-9999", "8888888888": "CPIS-0001"]
        for (number, code) in triggers {
            let response = try rig.post(number)
            #expect(response.status == 200)
            #expect(try SMSPResponseReader.read(response.body).answer.responseCode.code == code)
        }

        let log = try rig.get("/notifications?nhsNumber=9990000050")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(log.body)) as? [[String: Any]])
        #expect(entries.count == 1)
        #expect((entries.first?["localAuthority"] as? [String: Any])?["odsCode"] as? String == "V820")
        let all = try #require(try JSONSerialization.jsonObject(with: Data(try rig.get("/notifications").body)) as? [Any])
        #expect(all.count == 1)
    }

    @Test("each fault mode, as the worker's HTTP client sees it")
    func faultModes() throws {
        let number = "9990000018"
        for fault in SimulatorFault.allCases {
            let rig = try Rig(behaviour: SimulatorBehaviour(faultTriggers: [number: fault]))
            defer { rig.stop() }
            switch fault {
            case .http503:
                #expect(try rig.post(number).status == 503)
            case .soapServerFault:
                let response = try rig.post(number)
                #expect(response.status == 500)
                let error = #expect(throws: SMSPResponseError.self) { try SMSPResponseReader.read(response.body) }
                #expect(error?.fault?.isClientFault == false)
            case .noResponse:
                let error = #expect(throws: HTTPTransportError.self) { try rig.post(number, timeout: .milliseconds(400)) }
                #expect(error?.code == .timeout)
                #expect(error?.requestMayHaveBeenProcessed == true)
            case .resetMidBody:
                let error = #expect(throws: HTTPTransportError.self) { try rig.post(number) }
                #expect(error?.code == .connectionClosed)
            case .invalidXML:
                let response = try rig.post(number)
                #expect(response.status == 200)
                let error = #expect(throws: SMSPResponseError.self) { try SMSPResponseReader.read(response.body) }
                #expect(error?.code == .unreadable)
            case .wrongPayload:
                let error = #expect(throws: SMSPResponseError.self) { try SMSPResponseReader.read(try rig.post(number).body) }
                #expect(error?.code == .wrongPayload)
            case .crossedRecord, .crossedUnbornRecord:
                let answer = try SMSPResponseReader.read(try rig.post(number).body).answer
                #expect(answer.responseCode.code == "SMSP-0000")
                let subjects = answer.plans.map { plan -> String? in
                    switch plan.subject {
                    case .child(let nhsNumber, _, _): fault == .crossedRecord ? nhsNumber : "not a child"
                    case .unbornChild(let mother): fault == .crossedUnbornRecord ? mother.nhsNumber : "not unborn"
                    }
                }
                #expect(!subjects.isEmpty && subjects.allSatisfy { $0 != nil && $0 != number }, "\(fault): \(subjects)")
            case .wrongRelatesTo:
                let response = try SMSPResponseReader.read(try rig.post(number).body)
                #expect(response.answer.responseCode.code == "SMSP-0000")
                #expect(response.relatesTo?.hasPrefix("uuid:") == true)
            }
            // The others are answered as usual over the same client.
            #expect(try rig.post("9990000026").status == 200)
        }
    }

    @Test("sequenced answers and behaviour changes over the admin API")
    func adminAPI() throws {
        let rig = try Rig()
        defer { rig.stop() }
        let script = try rig.postJSON("/admin/script",
                                      #"{"nhsNumber":"9990000018","steps":["soap-server-fault","http-503","answer"]}"#)
        #expect(script.status == 204)
        #expect(try rig.post("9990000018").status == 500)
        #expect(try rig.post("9990000018").status == 503)
        #expect(try rig.post("9990000018").status == 200)
        #expect(try rig.postJSON("/admin/script", #"{"nhsNumber":"1","steps":["explode"]}"#).status == 400)

        #expect(try rig.postJSON("/admin/behaviour", #"{"latencyMs": 150}"#).status == 204)
        let started = ContinuousClock.now
        #expect(try rig.post("9990000026").status == 200)
        #expect(ContinuousClock.now - started >= .milliseconds(150))  // the configured delay was applied

        #expect(try rig.postJSON("/admin/reset", "").status == 204)
        #expect(String(decoding: try rig.get("/notifications").body, as: UTF8.self) == "[]")
        #expect(try rig.get("/nowhere").status == 404)
    }
}
