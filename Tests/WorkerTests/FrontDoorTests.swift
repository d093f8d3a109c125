import CPISDomain
import Foundation
@testable import FrontDoor
import HTTPTransport
import Logging
import ServiceLifecycle
@testable import SMSPSimulator
import Synchronization
import TestSupport
import Testing
import Worker

/// The SMSP front door between a care provider's SMSP client and the workers: requests built as the
/// NHS test tool's templates show, over mutual TLS, through the real broker, a worker and the
/// simulator, and back.
final class FrontDoorRig: Sendable {
    let workers: WorkerRig
    let port: Int
    let client: HTTPClient
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    static let clientCommonName = "cpis-worker"  // the CN of the generated client certificate

    /// `spine`: the workers ask the simulator as Spine's CP-IS (the product is then the whole SMSP).
    init(patience: Duration = .seconds(5), clients: [String: Set<String>]? = [clientCommonName: ["RKE"]],
         startWorker: Bool = true, spine: Bool = false) async throws {
        workers = try await WorkerRig(maximumAttempts: 2, spine: spine, startWorker: startWorker)
        var configuration = FrontDoorConfiguration(tls: try Certificates.server(), broker: try BrokerEnvironment.configuration())
        configuration.port = 0
        configuration.monitoring = nil
        configuration.triageQueue = workers.topology.triage
        configuration.patience = patience
        configuration.clients = ClientAuthorisation(odsCodesByClient: clients)
        let ports = AsyncStream<Int>.makeStream()
        let service = FrontDoorService(configuration: configuration, metrics: { [] }, logger: WorkerRig.quietLogger,
                                       started: { port, _ in ports.continuation.yield(port) })
        group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: WorkerRig.quietLogger))
        running = Task { [group] in try await group.run() }
        port = try #require(await ports.stream.first { _ in true })
        client = try HTTPClient(tls: try Certificates.client(), logger: WorkerRig.quietLogger)
    }

    func stop() async {
        await stopFrontDoor()
        client.shutdown()
        await workers.stop()
    }

    /// As SIGTERM does: a graceful shutdown, waited for.
    func stopFrontDoor() async {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
    }

    var endpoint: String { "https://localhost:\(port)/smsp/cpis" }

    static let requester = Requester(
        organisation: Organisation(odsCode: "RKE", name: "The Whittington Hospital"),
        author: .user(UserAuthor(sdsUserId: "200009876204", sdsRoleProfileId: "100077650987",
                                 jobRole: JobRole(code: "R0260", displayName: "General Medical Practitioner"),
                                 name: PersonName(prefix: "Dr", given: "Paula", family: "Palmer"))))

    /// A CP-IS query as an SMSP client sends it: fresh ids, except a tracking id when given (a resend).
    func request(_ nhsNumber: String, requester: Requester = FrontDoorRig.requester, trackingID: String? = nil) throws -> SMSPRequest {
        var ids = SMSPMessageIDs.random()
        if let trackingID { ids.trackingID = trackingID }
        let identity = SMSPIdentity(endpoint: endpoint, username: "front-door-test",
                                    senderODSCode: requester.organisation.odsCode)
        return try SMSPRequestBuilder(identity: identity).build(nhsNumber: try NHSNumber(nhsNumber), requester: requester, ids: ids)
    }

    /// POSTs a SOAP body, off Swift concurrency's pool (the client blocks).
    func post(_ body: String, soapAction: String = SMSPConstants.requestService,
              using client: HTTPClient? = nil) async throws -> HTTPResponse {
        let client = client ?? self.client
        let url = try #require(URL(string: "https://localhost:\(port)"))
        let request = HTTPRequest(method: "POST", target: "/smsp/cpis",
                                  headers: ["Content-Type": "text/xml; charset=utf-8", "SOAPAction": soapAction],
                                  body: Array(body.utf8))
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { () throws(HTTPTransportError) in
                    try client.execute(request, url: url, timeout: .seconds(30))
                })
            }.start()
        }
    }

    /// Asks about `nhsNumber` and reads the answer (a SOAP fault throws ``SMSPResponseError``).
    func ask(_ nhsNumber: String, requester: Requester = FrontDoorRig.requester,
             trackingID: String? = nil) async throws -> (request: SMSPRequest, response: SMSPResponse, body: [UInt8]) {
        let request = try request(nhsNumber, requester: requester, trackingID: trackingID)
        let response = try await post(request.body)
        return (request, try SMSPResponseReader.read(response.body), response.body)
    }
}

@Suite("front door: the SMSP CP-IS API over mutual TLS, through the workers", .serialized, .timeLimit(.minutes(3)))
struct FrontDoorTests {
    @Test("every trigger number gives its SMSP code, each answer relating to its request")
    func triggers() async throws {
        let rig = try await FrontDoorRig()
        let expected = [
            "1111111111": "SMSP-0001", "2222222222": "SMSP-0002", "3333333333": "SMSP-0003", "4444444444": "SMSP-0004",
            "5555555555": "SMSP-0005", "6666666666": "SMSP-9999", "7777777777": "CPIS-9999", "8888888888": "CPIS-0001",
            "9990000018": "SMSP-0000",
        ]
        for (number, code) in expected.sorted(by: { $0.key < $1.key }) {
            let (request, response, _) = try await rig.ask(number)
            #expect(response.answer.responseCode.code == code, "\(number)")
            #expect(response.relatesTo == request.messageID)
        }
        await rig.stop()
    }

    @Test("a dataset patient's full answer validates against the NHS schemas and carries every field",
          .enabled(if: FrontDoorTests.nhsSchemas != nil, "../shared/nhs (the NHS reference artefacts) is absent: skipped"),
          arguments: ["9990000018", "9990000034"])
    func fullAnswer(nhsNumber: String) async throws {
        let rig = try await FrontDoorRig()
        let (_, response, body) = try await rig.ask(nhsNumber)
        let validator = try SMSPAnswerValidator(directory: try #require(Self.nhsSchemas))
        #expect(throws: Never.self) { try validator.validate(answer: body) }

        let answer = response.answer
        #expect(answer.responseCode == .success)
        let plans = try #require(rig.workers.simulator.dataset.plansByNHSNumber[nhsNumber])
        #expect(answer.plans == plans, "plans, local authorities, phones, subjects, dates")
        #expect(answer.totalChildRecords == plans.count)
        // This query is the history's latest access, with the author as sent.
        let access = try #require(answer.accessHistory.first)
        #expect(access.organisation == FrontDoorRig.requester.organisation)
        #expect(access.author == .user(name: PersonName(prefix: "Dr", given: "Paula", family: "Palmer"),
                                       jobRole: JobRole(code: "R0260", displayName: "General Medical Practitioner"),
                                       sdsUserId: "200009876204"))
        #expect(answer.totalAccessRecords == answer.accessHistory.count)
        await rig.stop()
    }

    @Test("the whole SMSP: SMSP client → front door → lookup queue → worker → Spine's CP-IS (HL7 V3), and back")
    func wholeSMSP() async throws {
        let rig = try await FrontDoorRig(spine: true)
        let (request, response, _) = try await rig.ask("9990000018")
        #expect(response.answer.responseCode == .success)
        #expect(response.answer.plans == rig.workers.simulator.dataset.plansByNHSNumber["9990000018"])
        #expect(response.relatesTo == request.messageID)
        let (_, none, _) = try await rig.ask("9434765919")
        #expect(none.answer.responseCode.code == "CPIS-0001")
        #expect(rig.workers.simulator.requestCount == 2)
        await rig.stop()
    }

    @Test("a client without a certificate is refused at the handshake, and nothing is asked")
    func noCertificate() async throws {
        let rig = try await FrontDoorRig()
        let anonymous = try HTTPClient(tls: try Certificates.client(withCertificate: false), logger: WorkerRig.quietLogger)
        defer { anonymous.shutdown() }
        let request = try rig.request("9990000018")
        let error = await #expect(throws: HTTPTransportError.self) { try await rig.post(request.body, using: anonymous) }
        #expect(error?.code == .tlsHandshakeFailed)
        #expect(rig.workers.simulator.requestCount == 0)
        await rig.stop()
    }

    @Test("an organisation the client may not act for gets SMSP-0005, and nothing is sent")
    func unauthorisedOrganisation() async throws {
        let rig = try await FrontDoorRig()
        var other = FrontDoorRig.requester
        other.organisation = Organisation(odsCode: "RAL", name: "Royal Free")
        let (_, response, _) = try await rig.ask("9990000018", requester: other)
        #expect(response.answer.responseCode.code == "SMSP-0005")
        #expect(rig.workers.simulator.requestCount == 0)
        #expect(rig.workers.simulator.notifications().isEmpty)
        await rig.stop()
    }

    @Test("a malformed request gets a Client fault naming every problem, and nothing is sent")
    func malformed() async throws {
        let rig = try await FrontDoorRig()
        let request = try rig.request("9990000018")
        let withoutTo = request.body.replacingOccurrences(of: "<wsa:To>\(rig.endpoint)</wsa:To>", with: "")
        let response = try await rig.post(withoutTo, soapAction: "urn:wrong")
        #expect(response.status == 500)
        let error = #expect(throws: SMSPResponseError.self) { try SMSPResponseReader.read(response.body) }
        let fault = try #require(error?.fault)
        #expect(fault.isClientFault)
        let diagnostic = fault.errorDiagnosticText ?? ""
        #expect(diagnostic.contains("SOAPAction"), "\(diagnostic)")
        #expect(diagnostic.contains("wsa:To is missing"), "\(diagnostic)")

        // The same MessageID again is refused too.
        let first = try await rig.post(request.body)
        #expect(first.status == 200)
        let reused = try await rig.post(request.body)
        #expect(reused.status == 500)
        #expect(String(decoding: reused.body, as: UTF8.self).contains("was already used"))
        #expect(rig.workers.simulator.requestCount == 1)
        await rig.stop()
    }

    @Test("a resend (same tracking id, new MessageID) is answered from the first lookup, without a second CP-IS query")
    func resend() async throws {
        let rig = try await FrontDoorRig()
        let trackingID = FreshUUID.string()
        let first = try await rig.ask("9990000018", trackingID: trackingID)
        let again = try await rig.ask("9990000018", trackingID: trackingID)
        #expect(again.response.answer.responseCode == .success)
        #expect(again.response.answer.plans == first.response.answer.plans)
        #expect(again.response.relatesTo == again.request.messageID)
        #expect(rig.workers.simulator.requestCount == 1)
        #expect(rig.workers.simulator.notifications(nhsNumber: "9990000018").count == 1)
        await rig.stop()
    }

    /// A client that breaks ITK's rule (a tracking id unique per message) gets an error, never another
    /// child's record: a resend is only a message asking the same thing.
    @Test("a reused tracking id asking another NHS number or another requester is refused with a Client fault, nothing asked",
          arguments: ["another NHS number", "another author", "another organisation"])
    func reusedTrackingIDAskingAnotherQueryIsRefused(change: String) async throws {
        let rig = try await FrontDoorRig(clients: [FrontDoorRig.clientCommonName: ["RKE", "RAL"]])
        let trackingID = FreshUUID.string()
        let first = try await rig.ask("9990000018", trackingID: trackingID)
        #expect(first.response.answer.responseCode == .success)
        var nhsNumber = "9990000018", requester = FrontDoorRig.requester
        switch change {
        case "another NHS number": nhsNumber = "9990000034"
        case "another author":
            requester.author = .user(UserAuthor(sdsUserId: "200009876205", sdsRoleProfileId: nil,
                                                jobRole: JobRole(code: "R0260", displayName: "General Medical Practitioner"),
                                                name: PersonName(prefix: "Dr", given: "Sam", family: "Other")))
        default: requester.organisation = Organisation(odsCode: "RAL", name: "Royal Free London")
        }
        let reused = try rig.request(nhsNumber, requester: requester, trackingID: trackingID)
        let response = try await rig.post(reused.body)
        #expect(response.status == 500)
        let error = #expect(throws: SMSPResponseError.self) { try SMSPResponseReader.read(response.body) }
        #expect(error?.fault?.isClientFault == true)
        let diagnostic = error?.fault?.errorDiagnosticText ?? ""
        #expect(diagnostic.contains("already used for another query (\(change))"), "\(diagnostic)")
        #expect(!String(decoding: response.body, as: UTF8.self).contains("Islington"), "no record of the first child")
        #expect(rig.workers.simulator.requestCount == 1, "nothing asked for the refused message")
        // The honest resend (the same query) is still answered from the first lookup.
        let resend = try await rig.ask("9990000018", trackingID: trackingID)
        #expect(resend.response.answer.plans == first.response.answer.plans)
        #expect(rig.workers.simulator.requestCount == 1)
        await rig.stop()
    }

    @Test("the last step: a result with a record about another child, or about another NHS number, is never returned")
    func lastStepRefusesRecordsAboutAnotherChild() throws {
        let asked = try NHSNumber("9990000018")
        func plan(_ subject: PlanSubject) -> ProtectionPlan {
            ProtectionPlan(type: .childProtectionPlan, start: Date(), end: nil, subject: subject,
                           localAuthority: LocalAuthority(odsCode: "V145", name: "Islington", officeHoursPhone: nil, emergencyDutyPhone: nil))
        }
        func result(_ nhsNumber: String?, _ plans: [ProtectionPlan]) -> LookupResult {
            LookupResult(requestId: "r", nhsNumber: nhsNumber, outcome: .recordsFound, responseCode: .success, plans: plans,
                         attempts: 1)
        }
        let child = plan(.child(nhsNumber: "9990000018", name: nil, birthDate: nil))
        let otherChild = plan(.child(nhsNumber: "9990000026", name: nil, birthDate: nil))
        let mother = plan(.unbornChild(mother: .init(nhsNumber: "999 000 0018", name: nil, birthDate: nil)))
        #expect(SMSPAnswer.notAbout(asked, result("9990000018", [child, mother])) == nil)
        // Spine's template shape: the worker vouched for a record naming no child.
        #expect(SMSPAnswer.notAbout(asked, result("9990000018", [plan(.child(nhsNumber: nil, name: nil, birthDate: nil))])) == nil)
        let crossed = try #require(SMSPAnswer.notAbout(asked, result("9990000018", [child, otherChild])))
        #expect(crossed.contains("record 2") && crossed.contains("*** *** 0026") && !crossed.contains("9990000026"))
        #expect(SMSPAnswer.notAbout(asked, result("9990000026", [])) != nil, "a result about another NHS number")
        #expect(SMSPAnswer.notAbout(asked, result("9990000018",
            [plan(.unbornChild(mother: .init(nhsNumber: "9990000026", name: nil, birthDate: nil)))])) != nil)
    }

    @Test("a query with less than the minimum call time left before its wsu:Expires gets SMSP-0004 at once, nothing relayed")
    func queryWithoutTimeToAnswerIsNotRelayed() async throws {
        let rig = try await FrontDoorRig()
        let request = try rig.request("9990000018")
        let expires = try #require(request.body.firstRange(of: #/<wsu:Expires>[^<]*</wsu:Expires>/#))
        // 150 ms left: under the front door's 300 ms floor, though still in the future.
        let soon = request.body.replacingCharacters(
            in: expires, with: "<wsu:Expires>\(UTCTimestamp.string(Date().addingTimeInterval(0.15)))</wsu:Expires>")
        let started = ContinuousClock.now
        let response = try SMSPResponseReader.read(try await rig.post(soon).body)
        #expect(response.answer.responseCode.code == "SMSP-0004")
        #expect(ContinuousClock.now - started < .seconds(2), "answered at once, not at the deadline")
        try await Task.sleep(for: .seconds(1))
        #expect(rig.workers.simulator.requestCount == 0, "nothing reached CP-IS")
        #expect(rig.workers.simulator.notifications(nhsNumber: "9990000018").isEmpty)
        // With time enough, it is asked.
        #expect(try await rig.ask("9990000018").response.answer.responseCode == .success)
        await rig.stop()
    }

    /// ICU died with SIGFPE inside Foundation's ISO8601DateFormatter on this `wsu:Created`, taking the
    /// front door and every query it held: timestamps are now read by our own reader only.
    @Test("the wsu:Created that crashed the front door is refused with a Client fault, and the next query is answered")
    func crashingTimestampIsRefusedAndTheNextQueryAnswered() async throws {
        let rig = try await FrontDoorRig()
        let request = try rig.request("9990000018")
        let created = try #require(request.body.firstRange(of: #/<wsu:Created>[^<]*</wsu:Created>/#))
        let hostile = "2026-11-24T14:30:34.\(String(repeating: "7", count: 300))'7777284Z"
        let response = try await rig.post(request.body.replacingCharacters(in: created, with: "<wsu:Created>\(hostile)</wsu:Created>"))
        #expect(response.status == 500)
        let error = #expect(throws: SMSPResponseError.self) { try SMSPResponseReader.read(response.body) }
        #expect(error?.fault?.isClientFault == true)
        #expect(error?.fault?.errorDiagnosticText?.contains("wsu:Created and wsu:Expires must be timestamps") == true)
        #expect(rig.workers.simulator.requestCount == 0)
        // Still running: the next query is answered.
        #expect(try await rig.ask("9990000018").response.answer.responseCode == .success)
        await rig.stop()
    }

    @Test("a slow upstream gives SMSP-0004 at the caller's deadline, and the lookup is not asked again later")
    func slowUpstream() async throws {
        let rig = try await FrontDoorRig(patience: .milliseconds(1500))
        rig.workers.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.seconds(4)))
        let started = ContinuousClock.now
        let (_, response, _) = try await rig.ask("9990000018")
        let waited = ContinuousClock.now - started
        #expect(response.answer.responseCode.code == "SMSP-0004")
        #expect(waited >= .milliseconds(1400) && waited < .seconds(4), "answered after \(waited)")
        let asked = rig.workers.simulator.requestCount
        try await Task.sleep(for: .seconds(3))
        #expect(rig.workers.simulator.requestCount == asked, "asked again after the caller stopped waiting")
        #expect(asked <= 1)
        await rig.stop()
    }

    @Test("a shutdown answers the queries under way before it closes their connections")
    func shutdownAnswersQueriesUnderWay() async throws {
        let rig = try await FrontDoorRig()
        rig.workers.simulator.behaviour = SimulatorBehaviour(latency: .fixed(.milliseconds(1500)))
        async let asked = rig.ask("9990000018")
        try await Task.sleep(for: .milliseconds(500))
        await rig.stopFrontDoor()
        let (_, response, _) = try await asked
        #expect(response.answer.responseCode == .success)
        await rig.stop()
    }

    @Test("with no worker running, the caller gets SMSP-0004 and the lookup expires in its queue, never asked")
    func noWorker() async throws {
        let rig = try await FrontDoorRig(patience: .seconds(1), startWorker: false)
        try await rig.workers.topology.declare(on: rig.workers.epr)
        let (_, response, _) = try await rig.ask("9990000018")
        #expect(response.answer.responseCode.code == "SMSP-0004")
        try await rig.workers.start()
        try await Task.sleep(for: .seconds(2))
        #expect(rig.workers.simulator.requestCount == 0)
        await rig.stop()
    }

    @Test("XML attacks are refused with a SOAP fault or an HTTP error: nothing fetched, nothing expanded, memory bounded")
    func xmlAttacks() async throws {
        let rig = try await FrontDoorRig()
        let listener = try LoopbackListener()
        let valid = try rig.request("9990000018").body
        // The attack beside a real query's envelope content, where a request's Body goes.
        let open = try #require(valid.range(of: "<soap:Body>")), close = try #require(valid.range(of: "</soap:Body>"))
        let body = String(valid[open.upperBound..<close.lowerBound])
        let frame = HostileXML.Frame.soap(body: body)
        let url = "http://127.0.0.1:\(listener.port)/x"
        let attacks: [(String, String)] = [
            ("XXE to a file", HostileXML.externalEntity(in: frame)),
            ("XXE to a URL", HostileXML.externalEntity(url, in: frame)),
            ("XXE through a parameter entity", HostileXML.externalParameterEntity(url, in: frame)),
            ("an external DTD", HostileXML.externalDTD(url, in: frame)),
            ("billion laughs", HostileXML.billionLaughs(in: frame)),
            ("quadratic blowup within the body limit", HostileXML.quadraticBlowup(entityBytes: 30_000, references: 1_000, in: frame)),
            ("deep nesting", HostileXML.deepNesting(depth: 10_000, in: frame)),
            ("a huge attribute", HostileXML.hugeAttribute(bytes: 5 * 1024 * 1024, in: frame)),
            ("a body over the limit", HostileXML.larger(than: 64 * 1024, in: frame)),
        ]
        let memoryBefore = Self.residentBytes()
        for (name, attack) in attacks {
            let response = try await rig.post(attack)
            switch response.status {
            case 500:
                let error = #expect(throws: SMSPResponseError.self, "\(name)") { try SMSPResponseReader.read(response.body) }
                #expect(error?.fault?.isClientFault == true, "\(name): \(String(describing: error))")
            case 413:
                break
            default:
                Issue.record("\(name): HTTP \(response.status), not refused")
            }
        }
        #expect(listener.connectionCount() == 0, "something was fetched")
        #expect(rig.workers.simulator.requestCount == 0)
        let grown = Self.residentBytes() - memoryBefore
        #expect(grown < 256 * 1024 * 1024, "resident memory grew by \(grown / 1_048_576) MB")
        await rig.stop()
    }

    @Test("cpis front-door as operations run it: health, metrics that count its answers, settings refused, SIGTERM")
    func process() async throws {
        let workers = try await WorkerRig()
        let logURL = FileManager.default.temporaryDirectory.appending(path: "front-door-\(UUID().uuidString).log")
        #expect(FileManager.default.createFile(atPath: logURL.path, contents: nil))
        defer { try? FileManager.default.removeItem(at: logURL) }
        let process = try WorkerProcess(command: "front-door", settings: """
            listen: { port: 0 }
            tls: { certificate: \(try Certificates.path("server.pem")), key: \(try Certificates.path("server.key")), \
            clientCA: \(try Certificates.path("ca.pem")) }
            broker: { url: "\(BrokerEnvironment.amqpURL)" }
            topology: { triage: \(workers.topology.triage) }
            authorisation: { clients: { \(FrontDoorRig.clientCommonName): [RKE] } }
            monitoring: { port: 0 }
            """, log: try FileHandle(forWritingTo: logURL))
        let monitoring = try await WorkerMonitoringTests.monitoringURL(fromLog: logURL)
        #expect(try WorkerMonitoringTests.get(monitoring, "/health/live").status == 200)
        try await WorkerMonitoringTests.eventually("the front door is ready") {
            try WorkerMonitoringTests.get(monitoring, "/health/ready").status == 200
        }
        var port: Int?
        try await WorkerMonitoringTests.eventually("the front door logs its address") {
            let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
            port = log.firstMatch(of: /front door on https:\/\/127\.0\.0\.1:([0-9]+)/).flatMap { Int($0.1) }
            return port != nil
        }
        let client = try HTTPClient(tls: try Certificates.client(), logger: WorkerRig.quietLogger)
        defer { client.shutdown() }
        let frontDoorPort = try #require(port)
        let url = try #require(URL(string: "https://localhost:\(frontDoorPort)"))
        let builder = SMSPRequestBuilder(identity: SMSPIdentity(endpoint: "https://localhost/smsp/cpis", username: "t",
                                                                senderODSCode: "RKE"))
        let query = try builder.build(nhsNumber: try NHSNumber("9990000018"), requester: FrontDoorRig.requester)
        let statuses = try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { () throws(HTTPTransportError) -> [Int] in
                    try [query.body, "<not-soap/>"].map { body throws(HTTPTransportError) in
                        try client.execute(HTTPRequest(method: "POST", target: "/smsp/cpis",
                                                       headers: ["SOAPAction": SMSPConstants.requestService],
                                                       body: Array(body.utf8)), url: url, timeout: .seconds(20)).status
                    }
                })
            }.start()
        }
        #expect(statuses == [200, 500])
        // A client without a certificate, counted as a failed handshake.
        let anonymous = try HTTPClient(tls: try Certificates.client(withCertificate: false), logger: WorkerRig.quietLogger)
        defer { anonymous.shutdown() }
        let refusedAtHandshake = await withCheckedContinuation { continuation in
            Thread {
                let response = try? anonymous.execute(HTTPRequest(method: "POST", target: "/smsp/cpis"), url: url,
                                                      timeout: .seconds(20))
                continuation.resume(returning: response == nil)
            }.start()
        }
        #expect(refusedAtHandshake)
        let expected: [String: Double] = [
            #"cpis_front_door_tls_handshake_failures_total"#: 1,
            #"cpis_front_door_connections_refused_total"#: 0,
            #"cpis_front_door_requests_total{answer="SMSP-0000"}"#: 1,
            #"cpis_front_door_requests_total{answer="client-fault"}"#: 1,
            #"cpis_front_door_requests_total{answer="SMSP-0004"}"#: 0,
            #"cpis_front_door_request_duration_seconds_count{answer="SMSP-0000"}"#: 1,
            #"cpis_front_door_request_duration_seconds_count{answer="client-fault"}"#: 1,
            #"cpis_front_door_request_duration_seconds_count{answer="SMSP-0004"}"#: 0,
            #"cpis_front_door_resends_total"#: 0,
        ]
        var scraped: [String: Double] = [:]
        try await WorkerMonitoringTests.eventually("the metrics count the answers") {
            scraped = WorkerMonitoringTests.samples(try WorkerMonitoringTests.get(monitoring, "/metrics").body)
            return expected.allSatisfy { scraped[$0.key] == $0.value }
        }
        for (series, value) in expected { #expect(scraped[series] == value, "\(series)") }
        process.kill(signal: SIGTERM)
        #expect(process.waitForExit() == 0)
        await workers.stop()
    }

    @Test("settings: off a loopback address a client map is needed; unknown keys are refused; the environment overrides")
    func settings() async throws {
        func load(_ yaml: String, environment: [String: String] = [:]) async throws -> FrontDoorConfiguration {
            let file = FileManager.default.temporaryDirectory.appending(path: "front-door-\(UUID().uuidString).yaml")
            try ("tls: { certificate: s.pem, key: s.key, clientCA: ca.pem }\n" + yaml).write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            return try await FrontDoorConfiguration.load(file: file, environment: environment)
        }
        let open = await #expect(throws: (any Error).self) { try await load("listen: { host: 0.0.0.0 }") }
        #expect("\(open.map { "\($0)" } ?? "")".contains("authorisation.clients"))
        let typo = await #expect(throws: (any Error).self) { try await load("authorization: { clients: {} }") }
        #expect("\(typo.map { "\($0)" } ?? "")".contains("authorisation"))
        let configured = try await load("""
            listen: { host: 0.0.0.0 }
            authorisation: { clients: { "CN=ed,O=Trust": [RKE, RAL] } }
            lookup: { patienceMs: 8000 }
            """, environment: ["CPIS_LOOKUP_PATIENCE_MS": "3000", "CPIS_LIMITS_MAX_CONNECTIONS_PER_CLIENT": "4"])
        #expect(configured.clients.odsCodesByClient == ["CN=ed,O=Trust": ["RKE", "RAL"]])
        #expect(configured.patience == .seconds(3))
        #expect(configured.limits.maximumConnectionsPerClient == 4)
        #expect(configured.xmlLimits.allowsDocumentTypeDeclaration == false)
        let shipped = try await FrontDoorConfiguration.load(
            file: WorkerRig.packageRoot.appending(path: "Config/front-door.yaml"), environment: [:])
        #expect(shipped.clients.odsCodesByClient == nil && shipped.listensOnLoopbackOnly)
    }

    /// This process's resident memory (Linux).
    static func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static let nhsSchemas: URL? = {
        let url = WorkerRig.packageRoot.appending(path: "../shared/nhs").standardizedFileURL
        return FileManager.default.fileExists(atPath: url.appending(path: "itk-schemas").path) ? url : nil
    }()
}

/// The front door's decisions on their own.
@Suite("front door: answers and client authorisation")
struct FrontDoorDecisionTests {
    static func result(_ outcome: LookupResult.Outcome, code: ResponseCode? = nil, stale: Bool = false,
                       kind: LookupResult.Failure.Kind? = nil) -> LookupResult {
        LookupResult(requestId: "r", nhsNumber: "9434765919", outcome: outcome, responseCode: code, possiblyStale: stale,
                     attempts: 1, error: kind.map { .init(kind: $0, message: "because") })
    }

    @Test("each outcome's SMSP code")
    func codes() {
        let cases: [(LookupResult, String?)] = [
            (Self.result(.recordsFound, code: .success), "SMSP-0000"),
            (Self.result(.noRecord, code: .noMatch), "CPIS-0001"),
            (Self.result(.recordsFound, code: .localStoreOnly, stale: true), "SMSP-0003"),
            (Self.result(.noRecord, stale: true), "SMSP-0003"),
            (Self.result(.rejected, kind: .unauthorised), "SMSP-0005"),
            (Self.result(.rejected, kind: .invalidRequest), nil),
            (Self.result(.failed, code: .cpisServiceError, kind: .upstreamUnavailable), "CPIS-9999"),
            (Self.result(.failed, kind: .upstreamUnavailable), "SMSP-0004"),
            (Self.result(.failed, kind: .timeout), "SMSP-0004"),
            (Self.result(.failed, kind: .wrongPatient), "SMSP-0002"),
            (Self.result(.expired, kind: .expired), "SMSP-0004"),
        ]
        for (result, code) in cases {
            #expect(SMSPAnswer.responseCode(for: result)?.code == code, "\(result.outcome) \(String(describing: result.error?.kind))")
        }
    }

    @Test("a resend is answered from its first lookup only where CP-IS answered, or the request was refused for good")
    func reuse() {
        #expect(LookupRelay.mayBeReused(Self.result(.recordsFound)))
        #expect(LookupRelay.mayBeReused(Self.result(.rejected, kind: .unauthorised)))
        #expect(LookupRelay.mayBeReused(Self.result(.failed, kind: .upstreamRejected)))
        #expect(!LookupRelay.mayBeReused(Self.result(.expired, kind: .expired)))
        #expect(!LookupRelay.mayBeReused(Self.result(.failed, kind: .upstreamUnavailable)))
    }

    @Test("message ids come from the tracking id and the client, stable across processes")
    func messageIDs() {
        let key = LookupRelay.MessageKey(client: "CN=a", trackingID: "T")
        #expect(LookupRelay.messageID(for: key, attempt: 1) == LookupRelay.messageID(for: key, attempt: 1))
        #expect(LookupRelay.messageID(for: key, attempt: 1) != LookupRelay.messageID(for: .init(client: "CN=b", trackingID: "T"), attempt: 1))
        #expect(LookupRelay.messageID(for: key, attempt: 2).hasSuffix("#2"))
        #expect(LookupRelay.messageID(for: key, attempt: 1).hasPrefix("smsp:T:"))
    }

    @Test("a client acts only for its organisations: the author's, the audit identity's and the sender's")
    func authorisation() {
        let clients = ClientAuthorisation(odsCodesByClient: ["ed-epr.example.nhs.uk": ["RKE"],
                                                             "CN=other,O=Trust\\, North,C=GB": ["RAL"]])
        var request = SMSPIncomingRequest()
        var query = CPISQuery()
        query.organisation = Organisation(odsCode: "RKE", name: "Whittington")
        request.query = query
        request.auditIdentity = "urn:nhs-uk:identity:ods:RKE:200009876204"
        request.senderAddress = "urn:nhs-uk:addressing:ods:RKE"
        let subject = "CN=ed-epr.example.nhs.uk,O=Whittington Health,C=GB"
        #expect(clients.problem(clientSubject: subject, request: request) == nil)
        #expect(clients.problem(clientSubject: "CN=other,O=Trust\\, North,C=GB", request: request)?.contains("RKE") == true)
        #expect(clients.problem(clientSubject: "CN=stranger", request: request)?.contains("not authorised") == true)
        #expect(clients.problem(clientSubject: nil, request: request) != nil)
        var sender = request
        sender.senderAddress = "urn:nhs-uk:addressing:ods:RAL"
        #expect(clients.problem(clientSubject: subject, request: sender)?.contains("sender address") == true)
        var audit = request
        audit.auditIdentity = "urn:nhs-uk:identity:ods:RAL:1"
        #expect(clients.problem(clientSubject: subject, request: audit)?.contains("audit identity") == true)
        #expect(ClientAuthorisation(odsCodesByClient: nil).problem(clientSubject: nil, request: audit) == nil)
        #expect(ClientAuthorisation.commonName(of: "O=Trust\\, North,CN=x\\+y,C=GB") == "x+y")
    }
}
