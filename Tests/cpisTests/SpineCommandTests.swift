import CPISDomain
import Foundation
import Testing

/// `cpis spine decode` and `cpis spine request`, run as a support engineer would run them.
@Suite("cpis spine subcommands")
struct SpineCommandTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let addressing = SpineResponseBuilder.Addressing(relatesTo: "uuid:0E6A1C2B-7F4D-4B8E-A1C3-5D9E2F7B4A60",
                                                            queryHL7ID: "0E6A1C2B-7F4D-4B8E-A1C3-5D9E2F7B4A60",
                                                            senderASID: "200000000123", spineASID: "999999999999")

    private func decode(_ text: String) throws -> CPISProcess.Result {
        try CPISProcess.run(["spine", "decode", "-"], input: text)
    }

    @Test("request prints the QUPC_IN000006GB01 for a contract request body")
    func request() throws {
        let result = try CPISProcess.run(["spine", "request", Self.root.appending(path: "docs/examples/request-triage-person.json").path,
                                          "--asid", "200000000777"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("<QUPC_IN000006GB01") && result.output.contains("extension=\"200000000777\""))
        #expect(result.output.contains("urn:nhs:names:services:cpisquery/QUPC_IN000006GB01"))
    }

    @Test("decode prints records as the contract's result JSON, and the other answers by kind and reason")
    func decodes() throws {
        let plan = ProtectionPlan(type: .childProtectionPlan, start: Date(timeIntervalSince1970: 1_780_000_000), end: nil,
                                  subject: .child(nhsNumber: "9990000018", name: nil, birthDate: nil),
                                  localAuthority: LocalAuthority(odsCode: "V145", name: "Islington",
                                                                 officeHoursPhone: "020 7527 2000", emergencyDutyPhone: nil))
        let records = try decode(SpineResponseBuilder.records(
            CPISAnswer(responseCode: ResponseCode(code: "SMSP-0000", displayName: "Success"), plans: [plan],
                       totalAccessRecords: 0, totalChildRecords: 1), to: Self.addressing))
        #expect(records.status == 0, "\(records.error)")
        #expect(records.output.contains("\"code\" : \"SMSP-0000\"") || records.output.contains("\"code\": \"SMSP-0000\""),
                "\(records.output)")
        #expect(records.output.contains("Islington"))

        let notFound = try decode(SpineResponseBuilder.queryActFailed(
            [SpineReason(code: "NHSNCC002", codeSystem: nil, displayName: "NHS Number Not Found", qualifier: "ER")],
            to: Self.addressing))
        #expect(notFound.output.contains("query act failed") && notFound.output.contains("NHSNCC002"))

        let fault = try decode(SpineResponseBuilder.fault(client: true, "Application Exception", [SpineError(
            codeContext: nil, errorCode: "101", severity: nil, location: "HTTP Header - SOAPAction", description: "not supported")]))
        #expect(fault.output.contains("SOAP Client fault") && fault.output.contains("101"))
    }

    @Test("decode refuses what is not a Spine answer, with exit status 1")
    func refuses() throws {
        let result = try decode("<html><body>502 Bad Gateway</body></html>")
        #expect(result.status == 1)
        #expect(!result.error.isEmpty)
    }
}
