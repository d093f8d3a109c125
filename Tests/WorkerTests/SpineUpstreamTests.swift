import AMQPClient
import CPISDomain
import Foundation
import HTTPTransport
import Synchronization
import TestSupport
import Testing
import XMLSupport
@testable import Worker

/// The worker with Spine as its upstream (`upstream: spine`), over mutual TLS, against a stand-in that
/// answers as NHS Digital's Message Test Harness does for its CP-IS trigger numbers (its own templates,
/// from `../shared/nhs/spine-cpis`), and checks every request against Spine's schema.
@Suite("worker: Spine upstream", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: HarnessSpine.isPresent, Comment(rawValue: "../shared/nhs (the NHS reference artefacts) is absent: skipped")))
struct SpineUpstreamTests {
    @Test("harness templates: a record naming no child delivered, not found, a Client fault and an MCCI not asked again; audit recorded; requests valid")
    func triggers() async throws {
        let spine = try HarnessSpine()
        let rig = try await WorkerRig(maximumAttempts: 2, startWorker: false)
        var configuration = rig.configuration
        configuration.spine = try WorkerRig.spineSettings(port: spine.port, path: "/sync-service")
        let worker = try await LookupWorker.start(configuration, logger: WorkerRig.quietLogger)
        let audit = try await rig.accessNotifications()

        let found = try await rig.send(WorkerRig.body("9449310394"))
        let notFound = try await rig.send(WorkerRig.body("9448904053"))
        let clientFault = try await rig.send(WorkerRig.body("9444459993"))
        let acknowledgement = try await rig.send(WorkerRig.body("9346424613"))
        let results = try await rig.results(for: [found, notFound, clientFault, acknowledgement])

        // The harness's success template names no child in its record (against its own schema); its
        // wsa:RelatesTo and every NHS number in it tie it to this query and child, so it is delivered.
        #expect(results[found]?["outcome"] as? String == "records-found")
        #expect(results[notFound]?["outcome"] as? String == "no-record")
        #expect((results[notFound]?["responseCode"] as? [String: Any])?["code"] as? String == "CPIS-0001")
        #expect(results[clientFault]?["outcome"] as? String == "failed")
        #expect((results[clientFault]?["responseCode"] as? [String: Any])?["code"] as? String == "SMSP-9999")
        #expect(results[acknowledgement]?["outcome"] as? String == "failed")
        #expect((results[acknowledgement]?["responseCode"] as? [String: Any])?["code"] as? String == "CPIS-9999")
        #expect(spine.requests(for: "9444459993") == 1, "a Client fault is our bug: not retried")
        #expect(spine.requests(for: "9346424613") == 1, "an MCCI error shows the query reached Spine: not asked again by default")
        #expect(spine.invalidRequests == [], "every request validates against QUPC_IN000006GB01.xsd")

        // One notification per answered lookup, with the Spine leg's audit record.
        let notifications = try await audit.wait(count: 2).compactMap(WorkerRig.json)
        #expect(notifications.count == 2)
        for notification in notifications {
            let record = notification["spine"] as? [String: Any]
            #expect(record?["asid"] as? String == "200000000123")
            #expect((record?["queryMessageId"] as? String)?.hasPrefix("uuid:") == true)
            #expect((record?["author"] as? [String: Any])?["organisation"] != nil)
        }
        await worker.shutdown()
        spine.shutdown()
        await rig.stop()
    }

    /// NHS Digital's own success template names no child (its `COCT_TP145101GB01.Child` has no `id`,
    /// against the schema); the wire document says to read Spine leniently (§8).
    @Test("Spine's template-shaped answer (a child with no id) is delivered: its RelatesTo and every NHS number in it are ours")
    func templateShapedAnswerWithoutChildIDIsDelivered() async throws {
        let spine = try HarnessSpine()
        let (rig, worker) = try await Self.worker(askingSpine: spine)
        let result = try await rig.result(for: try await rig.send(WorkerRig.body("9449310394")))
        #expect(result["outcome"] as? String == "records-found")
        let records = try #require(result["records"] as? [[String: Any]])
        #expect(records.count == 1)
        let subject = try #require(records.first?["subject"] as? [String: Any])
        #expect(subject["kind"] as? String == "child")
        #expect(subject["nhsNumber"] is NSNull, "delivered as Spine gave it: no number is made up")
        #expect((records.first?["localAuthority"] as? [String: Any])?["odsCode"] != nil)
        #expect((result["accessHistory"] as? [Any])?.isEmpty == false)
        await worker.shutdown()
        spine.shutdown()
        await rig.stop()
    }

    /// Where the lenient reading and the rule that every record is about the child asked about meet,
    /// the rule wins: anything in the answer naming another patient, or no RelatesTo, and none is used.
    @Test("Spine's template-shaped answer is refused, wrong-patient, when any id differs or the correlation is missing",
          arguments: SpineTemplateVariant.allCases)
    func answerWithDifferingChildIDIsRefused(variant: SpineTemplateVariant) async throws {
        let spine = try HarnessSpine(rewrite: variant.rewrite)
        let (rig, worker) = try await Self.worker(askingSpine: spine)
        let result = try await rig.result(for: try await rig.send(WorkerRig.body("9449310394")))
        #expect(result["outcome"] as? String == "failed")
        #expect((result["error"] as? [String: Any])?["kind"] as? String == "wrong-patient", "\(variant)")
        #expect(result["records"] as? [Any] == nil || (result["records"] as? [Any])?.isEmpty == true)
        await worker.shutdown()
        spine.shutdown()
        await rig.stop()
    }

    /// A worker asking `spine`, and its rig.
    static func worker(askingSpine spine: HarnessSpine) async throws -> (WorkerRig, LookupWorker) {
        let rig = try await WorkerRig(maximumAttempts: 2, startWorker: false)
        var configuration = rig.configuration
        configuration.spine = try WorkerRig.spineSettings(port: spine.port, path: "/sync-service")
        return (rig, try await LookupWorker.start(configuration, logger: WorkerRig.quietLogger))
    }

    @Test("a query that timed out after it was sent is not sent again (it may have reached CP-IS)")
    func noRetryAfterTimeout() async throws {
        let spine = try HarnessSpine()
        let rig = try await WorkerRig(maximumAttempts: 3, startWorker: false)
        var configuration = rig.configuration
        configuration.spine = try WorkerRig.spineSettings(port: spine.port, path: "/sync-service")
        configuration.worker.smspTimeout = .milliseconds(500)
        let worker = try await LookupWorker.start(configuration, logger: WorkerRig.quietLogger)
        let silent = try await rig.send(WorkerRig.body("1111111111"))
        let result = try await rig.result(for: silent)
        #expect(result["outcome"] as? String == "failed")
        #expect((result["error"] as? [String: Any])?["kind"] as? String == "timeout")
        #expect(spine.requests(for: "1111111111") == 1)
        await worker.shutdown()
        spine.shutdown()
        await rig.stop()
    }
}

/// Ways NHS Digital's success template could be crossed with another patient's, or lose its tie to our query.
enum SpineTemplateVariant: String, CaseIterable, Sendable {
    /// The child carries an id: another child's NHS number.
    case childWithAnotherID
    /// One query in the access history names another NHS number.
    case historyNamingAnotherPatient
    /// No wsa:RelatesTo: nothing ties the answer to our query.
    case noRelatesTo

    var rewrite: @Sendable (String) -> String {
        switch self {
        case .childWithAnotherID:
            { $0.replacingOccurrences(of: "<COCT_TP145101GB01.Child>",
                                      with: "<COCT_TP145101GB01.Child><id root=\"2.16.840.1.113883.2.1.4.1\" extension=\"9990000018\"/>") }
        case .historyNamingAnotherPatient:
            { text in
                guard let range = text.range(of: "<value extension=\"9449310394\"/>") else { return text }
                return text.replacingCharacters(in: range, with: "<value extension=\"9990000018\"/>")
            }
        case .noRelatesTo:
            { $0.replacing(#/<wsa:RelatesTo>[^<]*</wsa:RelatesTo>/#, with: "") }
        }
    }
}

/// Answers as the Message Test Harness's CP-IS ruleset does (`spine-hl7v3-wire.md` §10), with its
/// templates; 1111111111 gets no answer. `rewrite` changes each answer's text before it is sent.
final class HarnessSpine: Sendable {
    static let directory = WorkerRig.packageRoot.appending(path: "../shared/nhs/spine-cpis").standardizedFileURL
    static var isPresent: Bool { FileManager.default.fileExists(atPath: directory.path) }
    private let server: HTTPServer
    private let state = Mutex<(requests: [String: Int], invalid: [String])>(([:], []))

    var port: Int { server.port }
    var invalidRequests: [String] { state.withLock { $0.invalid } }
    func requests(for nhsNumber: String) -> Int { state.withLock { $0.requests[nhsNumber, default: 0] } }

    init(rewrite: @escaping @Sendable (String) -> String = { $0 }) throws {
        server = try HTTPServer(tls: try Certificates.server())
        let validator = try SpineSchemaValidator(directory: Self.directory.deletingLastPathComponent())
        try server.start { [self] request, _ in
            guard let document = try? XMLDocument(parsing: request.body),
                  let nhsNumber = Self.descendant("person.NHSnumber", in: document.rootElement)?.childElements.first?
                      .attribute("extension"),
                  let messageID = Self.descendant("MessageID", in: document.rootElement)?.text,
                  let hl7ID = Self.descendant("QUPC_IN000006GB01", in: document.rootElement)?.childElements.first?
                      .attribute("root")
            else { return .respond(HTTPResponse(status: 400)) }
            let valid = (try? validator.validate(envelope: request.body)) != nil
            state.withLock { state in
                state.requests[nhsNumber, default: 0] += 1
                if !valid { state.invalid.append(nhsNumber) }
            }
            switch nhsNumber {
            case "1111111111":
                return .noResponse
            case "9444459993":
                return .respond(HTTPResponse(status: 500, body: Array(Self.fault.utf8)))
            default:
                let template = ["9449310394": "REPC_IN000007GB01_sync_template1.xml",
                                "9448904053": "QUPC_IN000006GB01_QUQI_IN010000UK14_sync_template.xml",
                                "9346424613": "MCCI_IN010000UK13_sync_template.xml"][nhsNumber]
                guard let template, let text = try? Self.answer(template, messageID: messageID, hl7ID: hl7ID) else {
                    return .respond(HTTPResponse(status: 500))
                }
                return .respond(HTTPResponse(status: 200, headers: ["Content-Type": "text/xml"], body: Array(rewrite(text).utf8)))
            }
        }
    }

    func shutdown() { server.shutdown() }

    static func descendant(_ name: String, in element: XMLElement) -> XMLElement? {
        for child in element.childElements {
            if child.localName == name { return child }
            if let found = descendant(name, in: child) { return found }
        }
        return nil
    }

    /// A harness template in the harness's response wrapper, its tokens filled.
    static func answer(_ template: String, messageID: String, hl7ID: String) throws -> String {
        let wrapper = try String(contentsOf: directory.appending(path: "spine-mth/response_wrapper_no_timestamp.txt"), encoding: .utf8)
        var payload = try String(contentsOf: directory.appending(path: "spine-mth/CPIS_Templates/\(template)"), encoding: .utf8)
        if payload.hasPrefix("<?xml") { payload = String(payload.drop { $0 != "\n" }) }
        var text = wrapper.replacingOccurrences(of: "__PAYLOAD_BODY__", with: payload)
            .replacingOccurrences(of: "__ORIGINAL_MESSAGEID__", with: messageID)
        for token in ["__ORIG_MESSAGEID__", "__ACKNOWLEDGED_MESSAGEID_XPATH__"] {
            text = text.replacingOccurrences(of: token, with: hl7ID)
        }
        let named = ["__ERROR_VALUE_CODE_LITERAL__": "GE002", "__ERROR_VALUE_CODESYSTEM_LITERAL__": "2.16.840.1.113883.2.1.3.2.4.17.42",
                     "__ERROR_VALUE_DISPLAYTEXT_LITERAL__": "Unexpected business error encountered."]
        for (token, value) in named { text = text.replacingOccurrences(of: token, with: value) }
        while let range = text.range(of: #"__[A-Z0-9_]+__"#, options: .regularExpression) {
            let token = text[range]
            text.replaceSubrange(range, with: token.contains("TIME") ? "20261130120000"
                : token.contains("ASID") || token.contains("SND") || token.contains("RCV") ? "999999999999"
                : token.contains("ADDRESS") ? "https://spine.example/sync-service"
                : token.contains("ACTION") ? "urn:nhs:names:services:cpisquery/REPC_IN000007GB01" : FreshUUID.string())
        }
        return text
    }

    static let fault = """
        <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:nasp="http://national.carerecords.nhs.uk/schema/">
        <soap:Body><soap:Fault><faultcode>SOAP:Client</faultcode><faultstring>Application Exception</faultstring>
        <detail><nasp:errorList><nasp:error><nasp:codeContext>urn:nhs:names:errors:tms</nasp:codeContext>
        <nasp:errorCode>101</nasp:errorCode><nasp:severity>Error</nasp:severity><nasp:location>HTTP Header - SOAPAction</nasp:location>
        <nasp:description>Service / interaction not supported for the requested URI</nasp:description></nasp:error></nasp:errorList>
        </detail></soap:Fault></soap:Body></soap:Envelope>
        """
}

/// The worker as the SMSP against the simulator answering as Spine's CP-IS (`cpis simulator --spine`).
@Suite("worker and the Spine simulator", .serialized, .timeLimit(.minutes(3)))
struct SpineSimulatorTests {
    /// A result without what changes from one run to the next (ids, times).
    static func stable(_ result: [String: Any]) -> [String: Any] {
        var result = result
        for key in ["requestId", "completedAt", "effectiveTime", "id"] { result[key] = nil }
        if var history = result["accessHistory"] as? [[String: Any]] {
            for index in history.indices { history[index]["accessedAt"] = nil }
            result["accessHistory"] = history
        }
        return result
    }

    @Test("a dataset patient's result is the same, field for field, through Spine as through an SMSP")
    func sameAsSMSP() async throws {
        var results: [[String: Any]] = []
        for spine in [false, true] {
            let rig = try await WorkerRig(spine: spine)
            let id = try await rig.send(WorkerRig.body("9990000042"))
            results.append(Self.stable(try await rig.result(for: id)))
            #expect(rig.simulator.notifications(nhsNumber: "9990000042").count == 2, "one per local authority of the answer")
            await rig.stop()
        }
        let texts = try results.map {
            String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self)
        }
        #expect(texts[0] == texts[1], "SMSP: \(texts[0])\nSpine: \(texts[1])")
    }

    @Test("Spine's records about another child are never used: failed, wrong-patient")
    func crossedRecord() async throws {
        let rig = try await WorkerRig(spine: true)
        rig.simulator.script(nhsNumber: "9990000018", steps: [.fault(.crossedRecord)])
        let result = try await rig.result(for: try await rig.send(WorkerRig.body("9990000018")))
        #expect(result["outcome"] as? String == "failed")
        #expect((result["error"] as? [String: Any])?["kind"] as? String == "wrong-patient")
        await rig.stop()
    }

    @Test("the harness's triggers through the Spine simulator: outcome and code each, retried or not as the mapping says", arguments: [
        ("9449310394", "records-found", "SMSP-0000", 1),
        ("9448904053", "no-record", "CPIS-0001", 1),
        ("9444459993", "failed", "SMSP-9999", 1),
        ("9346424613", "failed", "CPIS-9999", 1),
        ("2222222222", "failed", "CPIS-9999", 2),
        ("1111111111", "failed", "SMSP-0004", 1),
    ])
    func triggers(nhsNumber: String, outcome: String, code: String, requests: Int) async throws {
        let rig = try await WorkerRig(maximumAttempts: 2, spine: true)
        let before = rig.simulator.requestCount
        let result = try await rig.result(for: try await rig.send(WorkerRig.body(nhsNumber)))
        #expect(result["outcome"] as? String == outcome)
        #expect((result["responseCode"] as? [String: Any])?["code"] as? String == code)
        #expect(rig.simulator.requestCount - before == requests)
        await rig.stop()
    }
}

/// Spine's answers mapped to outcomes and SMSP codes, each kind (wire format §6).
@Suite("Spine answers mapped")
struct SpineMappingTests {
    static let client = try! SpineClient(http: try! HTTPClient(tls: nil), identity: SpineIdentity(
        endpoint: "http://127.0.0.1:9/sync-service", asid: "200000000123", spineASID: "999999999999"),
        validator: nil, notFoundReasons: ["NHSNCC002"])

    static func outcome(status: Int = 200, _ body: (SpineResponseBuilder.Addressing) -> String) throws -> SMSPCallOutcome {
        let nhsNumber = try NHSNumber("9990000018")
        let query = try client.builder.build(nhsNumber: nhsNumber, requester: Requester(
            organisation: Organisation(odsCode: "RKE", name: "X"), author: .system(SystemAuthor(asid: "", nominatedPerson:
                NominatedPerson(jobRole: JobRole(code: "R0260", displayName: "GP"), name: PersonName(given: "A", family: "B"))))))
        let addressing = SpineResponseBuilder.Addressing(relatesTo: query.messageID, queryHL7ID: query.hl7MessageID,
                                                         senderASID: "200000000123", spineASID: "999999999999")
        return client.classify(HTTPResponse(status: status, body: Array(body(addressing).utf8)), to: query, about: nhsNumber)
    }

    @Test("Server faults, MCCI and other QUQI reasons are CPIS-9999 and may have reached CP-IS; an ebXML error did not")
    func serviceErrors() throws {
        let answers: [(Int, (SpineResponseBuilder.Addressing) -> String)] = [
            (500, { _ in SpineResponseBuilder.fault(client: false, "x", [SpineError(codeContext: nil, errorCode: "206",
                                                                                  severity: nil, location: nil, description: "routing")]) }),
            (200, { _ in SpineResponseBuilder.ebXMLError(code: "402005", "contract") }),
            (200, { SpineResponseBuilder.acknowledgement("AR", [], to: $0) }),
            (200, { SpineResponseBuilder.queryActFailed([SpineReason(code: "XYZ", codeSystem: nil, displayName: nil, qualifier: "ER")], to: $0) }),
        ]
        for (index, (status, body)) in answers.enumerated() {
            guard case .unavailable(_, let code, _, _, let mayHaveReachedCPIS) = try Self.outcome(status: status, body) else {
                Issue.record("not unavailable: \(try Self.outcome(status: status, body))")
                continue
            }
            #expect(code?.code == "CPIS-9999")
            #expect(mayHaveReachedCPIS == (index != 1), "only the ebXML error (the messaging layer's refusal) did not")
        }
    }

    @Test("a gateway error with no Spine answer is SMSP-0004; an answer that cannot be read SMSP-0002, which may have reached CP-IS")
    func unreadable() throws {
        guard case .unavailable(_, let gateway, _, _, let gatewayReached) = try Self.outcome(status: 503, { _ in "<html>down</html>" }) else {
            Issue.record("not unavailable"); return
        }
        #expect(gateway?.code == "SMSP-0004" && gatewayReached, "a gateway may have passed the query on")
        guard case .unavailable(_, let garbled, _, _, let garbledReached) = try Self.outcome({ _ in "<oops" }) else {
            Issue.record("not unavailable"); return
        }
        #expect(garbled?.code == "SMSP-0002" && garbledReached)
    }

    @Test("an answer to another query is never used")
    func otherQuery() throws {
        guard case .wrongPatient = try Self.outcome({ addressing in
            var other = addressing
            other.relatesTo = "uuid:\(FreshUUID.string())"
            return SpineResponseBuilder.queryActFailed([], to: other)
        }) else { Issue.record("used"); return }
    }

    @Test("an answer that names no query it answers is never used")
    func noIDs() throws {
        guard case .wrongPatient = try Self.outcome({ addressing in
            SpineResponseBuilder.queryActFailed([SpineReason(code: "NHSNCC002", codeSystem: nil, displayName: nil, qualifier: "ER")],
                                                to: addressing)
                .replacingOccurrences(of: "<wsa:RelatesTo>\(addressing.relatesTo)</wsa:RelatesTo>", with: "")
                .replacingOccurrences(of: "<messageRef><id root=\"\(addressing.queryHL7ID)\"/></messageRef>", with: "<messageRef/>")
        }) else { Issue.record("used"); return }
    }

    @Test("records answered with a stray response code still count as Spine's records (SMSP-0000)")
    func strayCode() throws {
        let plan = ProtectionPlan(type: .childProtectionPlan, start: Date(), end: nil,
                                  subject: .child(nhsNumber: "9990000018", name: nil, birthDate: nil),
                                  localAuthority: LocalAuthority(odsCode: "V145", name: "Islington", officeHoursPhone: nil,
                                                                 emergencyDutyPhone: nil))
        let outcome = try Self.outcome { addressing in
            SpineResponseBuilder.records(CPISAnswer(responseCode: ResponseCode(code: "SMSP-0000", displayName: "Success"),
                                                    plans: [plan], totalAccessRecords: 0, totalChildRecords: 1), to: addressing)
                .replacingOccurrences(of: "<id root=", with: "<value code=\"CPIS-0001\"/><id root=")
        }
        guard case .answered(let answer, _) = outcome else { Issue.record("\(outcome)"); return }
        #expect(answer.responseCode.code == "SMSP-0000" && answer.plans.count == 1)
    }
}

/// The Spine leg's retry safety, through the Spine simulator.
@Suite("worker: Spine retry safety", .serialized, .timeLimit(.minutes(3)))
struct SpineRetrySafetyTests {
    @Test("allowed to, the worker asks again after no answer came, and the notification says possibleRepeat")
    func retriedWhenAllowed() async throws {
        let rig = try await WorkerRig(maximumAttempts: 3, spine: true, startWorker: false)
        var configuration = rig.configuration
        configuration.spine?.retryAfterPossibleProcessing = true
        configuration.worker.smspTimeout = .milliseconds(500)
        rig.simulator.script(nhsNumber: "9990000018", steps: [.fault(.noResponse), .answer])
        let worker = try await LookupWorker.start(configuration, logger: WorkerRig.quietLogger)
        let audit = try await rig.accessNotifications()
        let result = try await rig.result(for: try await rig.send(WorkerRig.body("9990000018")))
        #expect(result["outcome"] as? String == "records-found")
        #expect(result["attempts"] as? Int == 2)
        let notification = try #require(try await audit.wait(count: 1).compactMap(WorkerRig.json).first)
        #expect(notification["possibleRepeat"] as? Bool == true)
        await worker.shutdown()
        await rig.stop()
    }

    @Test("by default it does not ask again after no answer came")
    func notRetriedByDefault() async throws {
        let rig = try await WorkerRig(maximumAttempts: 3, spine: true, startWorker: false)
        var configuration = rig.configuration
        configuration.worker.smspTimeout = .milliseconds(500)
        rig.simulator.script(nhsNumber: "9990000018", steps: [.fault(.noResponse), .answer])
        let before = rig.simulator.requestCount
        let worker = try await LookupWorker.start(configuration, logger: WorkerRig.quietLogger)
        let result = try await rig.result(for: try await rig.send(WorkerRig.body("9990000018")))
        #expect(result["outcome"] as? String == "failed")
        #expect(rig.simulator.requestCount - before == 1)
        await worker.shutdown()
        await rig.stop()
    }
}
