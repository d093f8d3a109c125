import CPISDomain
import Foundation
import SMSPSimulator
import Testing

@Suite("SMSP simulator: request checks like the NHS test tool")
struct RequestCheckTests {
    /// Each defect, made by editing a valid request, and the words the fault must contain.
    static let defects: [(String, @Sendable (String) -> String, String)] = [
        ("MessageID shape", { $0.replacingOccurrences(of: #"<wsa:MessageID>"#, with: "<wsa:MessageID>not-a-uuid-") },
         "wsa:MessageID must be an upper-case UUID"),
        ("Action", { $0.replacingOccurrences(of: "<wsa:Action>urn:nhs-itk:services:201005:sendRecvDistEnvelope<",
                                             with: "<wsa:Action>urn:nhs-itk:services:201005:getPatientDetails<") },
         "wsa:Action must be"),
        ("To", { $0.replacingOccurrences(of: "<wsa:To>https://localhost:8443/smsp/cpis</wsa:To>",
                                         with: "<wsa:To>https://elsewhere/</wsa:To>") }, "wsa:To must be this endpoint"),
        ("Username", { $0.replacingOccurrences(of: "<wsse:Username>cpis-test</wsse:Username>", with: "") },
         "wsse:Username is missing"),
        ("Timestamp", { $0.replacingOccurrences(of: #"<wsu:Expires>"#, with: "<wsu:Gone>")
            .replacingOccurrences(of: #"</wsu:Expires>"#, with: "</wsu:Gone>") }, "wsu:Expires"),
        ("tracking id case", { text in
            guard let range = text.range(of: #"trackingid="[0-9A-F-]+""#, options: .regularExpression) else { return text }
            return text.replacingCharacters(in: range, with: text[range].lowercased())
        }, "trackingid must be an upper-case UUID"),
        ("manifest id", { $0.replacingOccurrences(of: #"<itk:manifestitem id="uuid_"#, with: #"<itk:manifestitem id="uuid_X"#) },
         "manifest item id must equal the payload id"),
        ("interaction", { $0.replacingOccurrences(of: "CP-ISNHSQuery-v1-0", with: "CP-ISNHSQuery-v9-9") },
         "interaction must be"),
        ("NHS number", { $0.replacingOccurrences(of: #"<value extension="9990000018"/>"#, with: "<value/>") },
         "NHS number"),
        ("job role", { $0.replacingOccurrences(of: #"displayName="General Medical Practitioner""#, with: "") },
         "job role name is missing"),
        ("SDS user id", { $0.replacingOccurrences(of: #"root="1.2.826.0.1285.0.2.0.65""#, with: #"root="1.2.3""#) },
         "SDS user id is missing"),
        ("organisation", { $0.replacingOccurrences(of: "<name>The Whittington Hospital</name>", with: "") },
         "organisation name is missing"),
        ("payload", { $0.replacingOccurrences(of: "CP-ISQueryStub", with: "OtherStub") }, "must be a CP-ISQueryStub"),
        ("not XML", { String($0.prefix(200)) }, "not a SOAP message"),
    ]

    @Test("a malformed request gets a soap:Client fault (HTTP 500) saying what was wrong",
          arguments: defects.indices)
    func malformedRequests(index: Int) throws {
        let (name, damage, expected) = Self.defects[index]
        let simulator = try Fixture.simulator()
        let valid = try Fixture.request("9990000018")
        let damaged = damage(valid.body)
        #expect(damaged != valid.body, "\(name): the edit changed nothing")
        guard case .respond(let status, _, let body) = simulator.send(body: damaged) else {
            Issue.record("\(name): no response")
            return
        }
        #expect(status == 500)
        let error = #expect(throws: SMSPResponseError.self) { try SMSPResponseReader.read(Array(body.utf8)) }
        #expect(error?.fault?.isClientFault == true)
        #expect(error?.fault?.errorCode == "1000")
        #expect(error?.fault?.errorDiagnosticText?.contains(expected) == true,
                "\(name): \(error?.fault?.errorDiagnosticText ?? "no diagnostic")")
        #expect(simulator.notifications().isEmpty, "\(name): a refused request notified a local authority")
    }

    @Test("the SOAPAction header is checked")
    func soapAction() throws {
        let simulator = try Fixture.simulator()
        guard case .respond(let status, _, let body) = simulator.send(try Fixture.request("9990000018"), soapAction: nil)
        else { return }
        #expect(status == 500)
        #expect(body.contains("SOAPAction"))
        // Quoted, as SOAP 1.1 allows, it is accepted.
        let quoted = simulator.send(try Fixture.request("9990000018"), soapAction: "\"\(SMSPConstants.requestService)\"")
        guard case .respond(let okStatus, _, _) = quoted else { return }
        #expect(okStatus == 200)
    }

    @Test("an expired request and a reused MessageID are refused")
    func expiryAndReuse() throws {
        let clock = TestClock()
        let simulator = try Fixture.simulator(clock: clock)
        let old = try Fixture.request("9990000018", at: clock.now.addingTimeInterval(-600))
        guard case .respond(let status, _, let body) = simulator.send(old) else { return }
        #expect(status == 500)
        #expect(body.contains("expired"))

        let fresh = try Fixture.request("9990000018", at: clock.now)
        #expect(try simulator.answer(fresh).responseCode.code == "SMSP-0000")
        guard case .respond(let againStatus, _, let againBody) = simulator.send(fresh) else { return }
        #expect(againStatus == 500)
        #expect(againBody.contains("already used"))
    }
}
