@testable import CPISDomain
import Foundation
import Testing
import XMLSupport

/// The Spine leg's messages (`spine-hl7v3-wire.md`): our QUPC_IN000006GB01 against Spine's schema
/// and header rules, and Spine's four kinds of answer read from NHS Digital's own test-harness
/// templates and the NHS integration adaptors' samples.
@Suite("Spine HL7 V3 messages", .enabled(if: NHSArtefacts.isPresent, Comment(rawValue: NHSArtefacts.missingMessage)))
struct SpineTests {
    static let identity = SpineIdentity(endpoint: "https://spine.example/sync-service", asid: "200000000123",
                                        partyKey: "RKE-800123", spineASID: "999999999999",
                                        fromAddress: "https://smsp.example.nhs.uk")
    static let spine = NHSArtefacts.directory.appending(path: "spine-cpis")
    static let schemas = NHSArtefacts.directory.appending(path: "cpis-hl7v3-schemas/Schemas")

    static let person = Requester(
        organisation: Organisation(odsCode: "RKE", name: "The Whittington Hospital"),
        author: .user(UserAuthor(sdsUserId: "200009876204", sdsRoleProfileId: "100001234567",
                                 jobRole: JobRole(code: "R0260", displayName: "General Medical Practitioner"),
                                 name: PersonName(prefix: "Dr", given: "Paula", family: "Palmer"))))
    static let system = Requester(
        organisation: Organisation(odsCode: "RKE", name: "The Whittington Hospital"),
        author: .system(SystemAuthor(asid: "", nominatedPerson: NominatedPerson(
            jobRole: JobRole(code: "R0260", displayName: "General Medical Practitioner"),
            name: PersonName(given: "Paula", family: "Palmer")))))

    static func request(_ requester: Requester = person) throws -> SpineRequest {
        try SpineRequestBuilder(identity: identity).build(nhsNumber: try NHSNumber("9449310394"), requester: requester)
    }

    // MARK: Our request

    @Test("the request validates against QUPC_IN000006GB01.xsd, with a person author and with a system author")
    func requestValidates() throws {
        let schema = try XMLSchema(contentsOf: Self.schemas.appending(path: "QUPC_IN000006GB01.xsd"),
                                   normalisingProhibitedAttributeTypes: true)
        for requester in [Self.person, Self.system] {
            let document = try XMLDocument(parsing: Array(try Self.request(requester).body.utf8))
            let body = try #require(document.rootElement.child("Body", SMSPNamespaces.soap))
            let query = try #require(body.child("QUPC_IN000006GB01"))
            try schema.validate(try XMLDocument(copying: query))
        }
    }

    @Test("the SOAP header keeps Spine's rules: a 41-character MessageID, the Action, To, both ASIDs")
    func headerRules() throws {
        let request = try Self.request()
        let document = try XMLDocument(parsing: Array(request.body.utf8))
        let header = try #require(document.rootElement.child("Header", SMSPNamespaces.soap))
        let messageID = try #require(header.child("MessageID", SpineConstants.addressing)?.trimmedText)
        #expect(messageID.count == 41 && messageID.hasPrefix("uuid:") && messageID == messageID.uppercased().replacingOccurrences(of: "UUID:", with: "uuid:"))
        #expect(header.children("Action", SpineConstants.addressing).map(\.trimmedText) == [SpineConstants.queryAction])
        #expect(header.child("To", SpineConstants.addressing)?.trimmedText == Self.identity.endpoint)
        #expect(header.child("communicationFunctionRcv")?.child("device")?.child("id")?.attribute("extension") == "999999999999")
        #expect(header.child("communicationFunctionSnd")?.child("device")?.child("id")?.attribute("extension") == "200000000123")
        #expect(request.soapAction == "urn:nhs:names:services:cpisquery/QUPC_IN000006GB01")
        let query = try #require(document.rootElement.child("Body", SMSPNamespaces.soap)?.child("QUPC_IN000006GB01"))
        #expect("uuid:\(query.child("id")?.attribute("root") ?? "")" == messageID, "one UUID for both ids")
        #expect(query.child("ControlActEvent")?.children("author1").count == 1)
        #expect(query.child("ControlActEvent")?.child("author") == nil, "no smartcard author: an SMSP has none")
        let value = query.descendant(named: "person.NHSnumber")?.child("value")
        #expect(value?.attribute("extension") == "9449310394" && value?.attribute("root") == nil)
    }

    @Test("a system author without an ASID asks as this deployment")
    func systemAuthorASID() throws {
        let request = try Self.request(Self.system)
        guard case .system(let system) = request.author.author else { Issue.record("not a system author"); return }
        #expect(system.asid == "200000000123")
        let document = try XMLDocument(parsing: Array(request.body.utf8))
        #expect(document.rootElement.descendant(named: "COCT_TP145104GB01.System")?.child("id")?.attribute("extension")
                == "200000000123")
    }

    // MARK: Spine's answers

    /// A harness template (`__TOKEN__`s filled) inside the harness's response wrapper, answering `request`.
    static func harnessAnswer(_ template: String, to request: SpineRequest) throws -> String {
        let wrapper = try String(contentsOf: spine.appending(path: "spine-mth/response_wrapper_no_timestamp.txt"), encoding: .utf8)
        var payload = try String(contentsOf: spine.appending(path: "spine-mth/CPIS_Templates/\(template)"), encoding: .utf8)
        if payload.hasPrefix("<?xml") { payload = String(payload.drop { $0 != "\n" }) }
        let ids = ["__ORIG_MESSAGEID__", "__ACKNOWLEDGED_MESSAGEID_XPATH__"]
        for token in ids { payload = payload.replacingOccurrences(of: token, with: request.hl7MessageID) }
        var text = wrapper.replacingOccurrences(of: "__PAYLOAD_BODY__", with: payload)
            .replacingOccurrences(of: "__ORIGINAL_MESSAGEID__", with: request.messageID)
        text = fillTokens(text, [
            "__ERROR_VALUE_CODE_LITERAL__": "GE002", "__ERROR_VALUE_CODESYSTEM_LITERAL__": "2.16.840.1.113883.2.1.3.2.4.17.42",
            "__ERROR_VALUE_DISPLAYTEXT_LITERAL__": "Unexpected business error encountered.",
        ])
        return text
    }

    /// Replaces `__TOKEN__`s: the named ones as given, ids with UUIDs, times and ASIDs with samples.
    static func fillTokens(_ text: String, _ named: [String: String] = [:]) -> String {
        var text = text
        for (token, value) in named { text = text.replacingOccurrences(of: token, with: value) }
        while let range = text.range(of: #"__[A-Z0-9_]+__"#, options: .regularExpression) {
            let token = text[range]
            let value = token.contains("TIME") ? "20261130120000"
                : token.contains("ASID") || token.contains("SND") || token.contains("RCV") ? "999999999999"
                : token.contains("ADDRESS") ? "https://spine.example/sync-service"
                : token.contains("ACTION") ? "urn:nhs:names:services:cpisquery/REPC_IN000007GB01"
                : FreshUUID.string()
            text.replaceSubrange(range, with: value)
        }
        return text
    }

    @Test("REPC_IN000007GB01, the harness's success: records given SMSP-0000, although it fails its own schema")
    func success() throws {
        let request = try Self.request()
        let text = try Self.harnessAnswer("REPC_IN000007GB01_sync_template1.xml", to: request)
        let response = try SpineResponseReader.read(Array(text.utf8))
        guard case .records(let answer) = response.answer else { Issue.record("\(response.answer)"); return }
        #expect(answer.responseCode.code == "SMSP-0000")
        #expect(answer.plans.count == 1 && answer.plans.first?.type == .lookedAfterChild)
        #expect(answer.accessHistory.count == 10, "ten queries in one pertinentInformation13, read as ten")
        #expect(response.mismatch(with: request) == nil)
        #expect(response.relatesTo?.uppercased() == request.hl7MessageID)

        // Why it is read leniently: NHS Digital's own template fails REPC_IN000007GB01.xsd (§8).
        let schema = try XMLSchema(contentsOf: Self.schemas.appending(path: "REPC_IN000007GB01.xsd"),
                                   normalisingProhibitedAttributeTypes: true)
        let document = try XMLDocument(parsing: Array(text.utf8))
        let repc = try #require(document.rootElement.descendant(named: "REPC_IN000007GB01"))
        #expect(throws: XMLError.self) { try schema.validate(try XMLDocument(copying: repc)) }
    }

    @Test("QUQI_IN010000UK14, the harness's not-found: query act failed with its two reasons, acknowledging our query")
    func notFound() throws {
        let request = try Self.request()
        let response = try SpineResponseReader.read(Array(try Self.harnessAnswer(
            "QUPC_IN000006GB01_QUQI_IN010000UK14_sync_template.xml", to: request).utf8))
        guard case .queryActFailed(let reasons) = response.answer else { Issue.record("\(response.answer)"); return }
        #expect(reasons.map(\.code) == ["1", "NHSNCC002"])
        #expect(reasons.allSatisfy { $0.qualifier == "ER" && $0.displayName == "NHS Number Not Found" })
        #expect(response.acknowledgedID == request.hl7MessageID)
        #expect(response.mismatch(with: request) == nil)
    }

    @Test("MCCI_IN010000UK13, an application acknowledgement, bare in the Body")
    func applicationAcknowledgement() throws {
        let request = try Self.request()
        let response = try SpineResponseReader.read(Array(try Self.harnessAnswer("MCCI_IN010000UK13_sync_template.xml",
                                                                                  to: request).utf8))
        #expect(response.answer == .acknowledgement(typeCode: "AE", reasons: [SpineReason(
            code: "GE002", codeSystem: "2.16.840.1.113883.2.1.3.2.4.17.42",
            displayName: "Unexpected business error encountered.", qualifier: "ER")]))
        #expect(response.mismatch(with: request) == nil)
    }

    @Test("an answer to another query is found out, by RelatesTo or by the acknowledged id")
    func mismatch() throws {
        let request = try Self.request()
        let other = try Self.request()
        let response = try SpineResponseReader.read(Array(try Self.harnessAnswer(
            "QUPC_IN000006GB01_QUQI_IN010000UK14_sync_template.xml", to: other).utf8))
        #expect(response.mismatch(with: request)?.contains(other.hl7MessageID) == true)
    }

    @Test("SOAP faults: the harness's Client fault and the adaptors' Server faults, with every nasp error", arguments: [
        ("spine-mth/SoapFault_Template.xml", "Client", 1, "101"),
        ("integration-adaptors/mhs-test-messages/soapfault_response_single_error.xml", "Server", 1, "200"),
        ("integration-adaptors/mhs-test-messages/soapfault_response_multiple_errors.xml", "Server", 2, "200"),
        ("integration-adaptors/mhs-test-messages/soapfault_response_single_error_206.xml", "Server", 1, "206"),
        ("integration-adaptors/mhs-test-messages/soapfault_response_single_error_300.xml", "Server", 1, "300"),
    ])
    func faults(file: String, code: String, count: Int, firstError: String) throws {
        let text = Self.fillTokens(try String(contentsOf: Self.spine.appending(path: file), encoding: .utf8), [
            "__SOAP_ERROR_FAULTCODE_REQUIRED__": "SOAP:Client", "__SOAP_ERROR_FAULTSTRING_REQUIRED__": "Application Exception",
            "__SOAP_ERROR_CODECONTEXT__": "urn:nhs:names:errors:tms", "__SOAP_ERROR_ERRORCODE__": "101",
            "__SOAP_ERROR_SEVERITY__": "Error", "__SOAP_ERROR_LOCATION__": "HTTP Header - SOAPAction",
            "__SOAP_ERROR_DESCRIPTION__": "Service / interaction not supported for the requested URI",
        ])
        let response = try SpineResponseReader.read(Array(text.utf8))
        guard case .fault(let faultCode, _, let errors) = response.answer else { Issue.record("\(response.answer)"); return }
        #expect(faultCode == code)
        #expect(errors.count == count)
        #expect(errors.first?.errorCode == firstError)
    }

    @Test("ebXML MessageErrors, from the adaptors' samples", arguments: [
        "integration-adaptors/fake-spine/ebxml_fault_single_error.xml",
        "integration-adaptors/mhs-test-messages/ebxml_response_error_single.xml",
    ])
    func messagingErrors(file: String) throws {
        let response = try SpineResponseReader.read(Array(try String(contentsOf: Self.spine.appending(path: file),
                                                                     encoding: .utf8).utf8))
        guard case .messagingError(let errors) = response.answer else { Issue.record("\(response.answer)"); return }
        #expect(errors.count == 1)
        #expect(errors.first?.description.contains("501319") == true, "\(errors)")
    }

    @Test("what is not one of the four answers is refused, saying what it was", arguments: [
        ("<a/>", "expected a SOAP 1.1 envelope"),
        ("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><x/></s:Body></s:Envelope>", "not an HL7 interaction"),
        ("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><QUPA_IN050000UK32 xmlns=\"urn:hl7-org:v3\">"
            + "<interactionId extension=\"QUPA_IN050000UK32\"/></QUPA_IN050000UK32></s:Body></s:Envelope>", "not a CP-IS answer"),
        ("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><REPC_IN000007GB01 xmlns=\"urn:hl7-org:v3\">"
            + "<interactionId extension=\"MCCI_IN010000UK13\"/></REPC_IN000007GB01></s:Body></s:Envelope>", "does not name"),
    ])
    func refused(text: String, message: String) {
        let error = #expect(throws: SMSPResponseError.self) { try SpineResponseReader.read(Array(text.utf8)) }
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
    }

    @Test("interaction names", arguments: [("REPC_IN000007GB01", true), ("MCCI_IN010000UK13", true), ("CP-ISNHSQueryResponse", false),
                                           ("REPC_MT000007GB01", false), ("repc_IN000007GB01", false)])
    func interactionNames(name: String, expected: Bool) {
        #expect(SpineResponseReader.isInteractionName(name) == expected)
    }

    @Test("schema findings on answers: the harness's success template has some; what our Spine simulator writes has none")
    func answerFindings() throws {
        let validator = try SpineSchemaValidator(directory: NHSArtefacts.directory)
        let request = try Self.request()
        let harness = try Self.harnessAnswer("REPC_IN000007GB01_sync_template1.xml", to: request)
        #expect(validator.findings(in: try XMLDocument(parsing: Array(harness.utf8)))?.interaction == "REPC_IN000007GB01")

        let addressing = SpineResponseBuilder.Addressing(relatesTo: request.messageID, queryHL7ID: request.hl7MessageID,
                                                         senderASID: "200000000123", spineASID: "999999999999")
        let plan = ProtectionPlan(type: .childProtectionPlan, start: Date(timeIntervalSince1970: 1_780_000_000), end: nil,
                                  subject: .child(nhsNumber: "9449310394", name: PersonName(given: "A", family: "B"),
                                                  birthDate: CalendarDate(year: 2019, month: 3, day: 2)),
                                  localAuthority: LocalAuthority(odsCode: "V145", name: "Islington",
                                                                 officeHoursPhone: "02075272000", emergencyDutyPhone: "02072260992"))
        let access = AccessRecord(accessedAt: Date(), organisation: Organisation(odsCode: "RKE", name: "Whittington"),
                                  author: .user(name: PersonName(given: "P", family: "Q"),
                                                jobRole: JobRole(code: "R0260", displayName: "GP"), sdsUserId: "200009876204"))
        let answers = [
            SpineResponseBuilder.records(CPISAnswer(responseCode: ResponseCode(code: "SMSP-0000", displayName: "Success"),
                                                    effectiveTime: Date(), plans: [plan], accessHistory: [access],
                                                    totalAccessRecords: 1, totalChildRecords: 1), to: addressing),
            SpineResponseBuilder.queryActFailed([SpineReason(code: "NHSNCC002", codeSystem: nil,
                                                             displayName: "NHS Number Not Found", qualifier: "ER")], to: addressing),
            SpineResponseBuilder.acknowledgement("AE", [SpineReason(code: "GE002", codeSystem: nil,
                                                                    displayName: "Unexpected business error encountered.",
                                                                    qualifier: "ER")], to: addressing),
        ]
        for answer in answers {
            let findings = validator.findings(in: try XMLDocument(parsing: Array(answer.utf8)))
            #expect(findings == nil, "\(findings.map { "\($0.interaction): \($0.problem)" } ?? "")")
            #expect(try SpineResponseReader.read(Array(answer.utf8)).mismatch(with: request) == nil)
        }
    }
}
