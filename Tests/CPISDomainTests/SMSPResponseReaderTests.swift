@testable import CPISDomain
import Foundation
import Testing
import XMLSupport

@Suite("reading SMSP responses")
struct SMSPResponseReaderTests {
    @Test("every NHS test tool template reads back with its code and outcome",
          .enabled(if: NHSArtefacts.isPresent, Comment(rawValue: NHSArtefacts.missingMessage)))
    func everyTemplate() throws {
        let templates = try NHSArtefacts.templateFiles()
        #expect(templates.count == 9)
        let expected: [String: Disposition] = [
            "SMSP-0000": .found, "CPIS-0001": .noRecord, "SMSP-0001": .permanentFailure,
            "SMSP-0002": .transientFailure(maximumRetries: 1), "SMSP-0003": .possiblyStale,
            "SMSP-0004": .transientFailure(maximumRetries: nil), "SMSP-0005": .permanentFailure,
            "SMSP-9999": .transientFailure(maximumRetries: nil), "CPIS-9999": .transientFailure(maximumRetries: nil),
        ]
        for (code, url) in templates {
            let template = try String(contentsOf: url, encoding: .utf8)
            let response = try SMSPResponseReader.read(Array(NHSArtefacts.soapWrapped(template).utf8))
            #expect(response.answer.responseCode.code == code)
            #expect(response.answer.disposition == expected[code], "\(code)")
            #expect(response.relatesTo == "REQUEST-MESSAGE-ID")
            #expect(response.trackingID == "7D6F23E0-AE1A-11DB-8707-B18E1E0994EA")
            if code != "SMSP-0000" {
                #expect(response.answer.plans.isEmpty)
                #expect(response.answer.accessHistory.isEmpty)
            }
            // A bare Distribution Envelope (as `cpis smsp decode` accepts) reads the same.
            #expect(try SMSPResponseReader.read(Array(template.utf8)).answer == response.answer)
        }
    }

    @Test("the success template's plan, local authority, phones, subject and history",
          .enabled(if: NHSArtefacts.isPresent, Comment(rawValue: NHSArtefacts.missingMessage)))
    func successTemplate() throws {
        let url = try #require(try NHSArtefacts.templateFiles().first { $0.code == "SMSP-0000" }).url
        let answer = try SMSPResponseReader.read(Array(try Data(contentsOf: url))).answer
        #expect(answer.responseCode == ResponseCode(code: "SMSP-0000", displayName: "Success"))
        #expect(answer.totalAccessRecords == 1)
        #expect(answer.totalChildRecords == 1)
        #expect(answer.id == "3C4C0AEF-3537-44C4-A8B5-F0C313603458")
        #expect(answer.effectiveTime == Samples.date("2012-12-08T20:00:00Z"))

        let plan = try #require(answer.plans.first)
        #expect(answer.plans.count == 1)
        #expect(plan.type == .unbornChildProtectionPlan)
        // 201209260900 is English local time: BST, so 08:00 UTC.
        #expect(plan.start == Samples.date("2012-09-26T08:00:00Z"))
        #expect(plan.end == Samples.date("2013-09-26T08:00:00Z"))
        #expect(plan.localAuthority == LocalAuthority(odsCode: "V145", name: "Islington Local Authority",
                                                      officeHoursPhone: "0207527200", emergencyDutyPhone: "0734577777"))
        #expect(plan.subject == .unbornChild(mother: .init(
            nhsNumber: "1234567895", name: PersonName(given: "Louise", family: "Doyle"),
            birthDate: CalendarDate(year: 2000, month: 9, day: 26))))

        let access = try #require(answer.accessHistory.first)
        #expect(answer.accessHistory.count == 1)
        #expect(access.accessedAt == Samples.date("2012-12-08T19:00:00Z"))  // 20:00 at +0100
        #expect(access.organisation == Organisation(odsCode: "RKE", name: "THE WHITTINGTON COMMUNITY HOSPITAL"))
        #expect(access.author == .user(name: PersonName(prefix: "Mrs", given: "Paula", family: "Palmer"),
                                       jobRole: JobRole(code: "R0670", displayName: "Midwife - Sister/Charge Nurse"),
                                       sdsUserId: "200009876204"))
        #expect(answer.notifiedLocalAuthorities == [Organisation(odsCode: "V145", name: "Islington Local Authority")])
    }

    @Test("several plans, open-ended plans, an unborn child, 25 history entries, system authors round-trip")
    func richAnswerRoundTrips() throws {
        let answer = Samples.richAnswer
        let soap = SMSPResponseBuilder.soapResponse(answer, relatesTo: "MSG-1")
        let response = try SMSPResponseReader.read(Array(soap.utf8))
        #expect(response.relatesTo == "MSG-1")
        #expect(response.answer == answer)
        #expect(response.answer.plans.map(\.type) == [.childProtectionPlan, .lookedAfterChild, .unbornChildProtectionPlan])
        #expect(response.answer.plans[0].end == nil)
        #expect(response.answer.accessHistory.count == 25)
        #expect(response.answer.notifiedLocalAuthorities.map(\.odsCode) == ["V145", "V102"])
    }

    @Test("an end date sent as a null value is open-ended; an empty total is absent")
    func nilEndDateAndEmptyTotals() throws {
        var answer = Samples.richAnswer
        answer.totalAccessRecords = nil
        answer.accessHistory = []
        var soap = SMSPResponseBuilder.soapResponse(answer, relatesTo: nil)
        let lacEnd = "<component1><lACEndDate><value value=\"\(HL7Time.localMinutes(answer.plans[1].end!))\"/>"
        #expect(soap.contains(lacEnd))
        soap = soap.replacingOccurrences(of: lacEnd, with: "<component1><lACEndDate><value nullFlavor=\"NI\"/>")
        let read = try SMSPResponseReader.read(Array(soap.utf8)).answer
        #expect(read.plans[1].end == nil)
        #expect(read.totalAccessRecords == nil)
        #expect(read.totalChildRecords == 3)
    }

    @Test("SOAP faults are typed, with the toolkit's details; Client is permanent, Server transient")
    func soapFaults() throws {
        for (code, transient) in [("soap:Client", false), ("soap:Server", true)] {
            let fault = SOAPFault(faultCode: code, faultString: "A client related error has occurred, see detail element",
                                  errorID: "5A3E5E0C-1E1A-4B0A-9A0C-1E5C6F7A8B9C", errorCode: "1000",
                                  errorText: "Invalid message", errorDiagnosticText: "wsa:Action does not match")
            let error = #expect(throws: SMSPResponseError.self) {
                try SMSPResponseReader.read(Array(SMSPResponseBuilder.soapFault(fault).utf8))
            }
            #expect(error?.code == .soapFault)
            #expect(error?.fault == fault)
            #expect(error?.isTransient == transient)
        }
    }

    @Test("anything else is a clear typed error", arguments: [
        ("", SMSPResponseError.Code.unreadable, "not well-formed"),
        ("<html><body><h1>502 Bad Gateway</h1></body></html>", .notSOAP, "<html>"),
        ("<!DOCTYPE html><html><body>Bad Gateway<br></body></html>", .unreadable, "HTML page"),
        ("<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body>", .unreadable, "not well-formed"),
        ("%PDF-1.4 binary", .unreadable, "not well-formed"),
        ("<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'/>", .notSOAP, "no Body"),
        ("<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body><x/></soap:Body></soap:Envelope>",
         .notSOAP, "<x>"),
        ("<itk:DistributionEnvelope xmlns:itk='urn:nhs-itk:ns:201005'><itk:payloads><itk:payload><getPatientDetailsResponse xmlns='urn:hl7-org:v3'/></itk:payload></itk:payloads></itk:DistributionEnvelope>",
         .wrongPayload, "getPatientDetailsResponse"),
        ("<itk:DistributionEnvelope xmlns:itk='urn:nhs-itk:ns:201005'/>", .wrongPayload, "no payload"),
        ("<itk:DistributionEnvelope xmlns:itk='urn:nhs-itk:ns:201005'><itk:payloads><itk:payload><CP-ISNHSQueryResponse xmlns='urn:hl7-org:v3'/></itk:payload></itk:payloads></itk:DistributionEnvelope>",
         .malformedAnswer, "no response code"),
    ])
    func typedErrors(body: String, code: SMSPResponseError.Code, message: String) {
        let error = #expect(throws: SMSPResponseError.self) { try SMSPResponseReader.read(Array(body.utf8)) }
        #expect(error?.code == code)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
    }

    @Test("an oversized response is refused before parsing")
    func sizeLimit() {
        let soap = SMSPResponseBuilder.soapResponse(Samples.richAnswer, relatesTo: nil)
        let error = #expect(throws: SMSPResponseError.self) {
            try SMSPResponseReader.read(Array(soap.utf8), limits: XMLParsingLimits(maximumInputBytes: 1024))
        }
        #expect(error?.code == .unreadable)
    }

    @Test("thousands of mutated and truncated responses never crash the reader")
    func mutationsNeverCrash() throws {
        var generator = SeededGenerator(seed: 0xC0FFEE)
        let original = Array(SMSPResponseBuilder.soapResponse(Samples.richAnswer, relatesTo: "M").utf8)
        let alphabet = Array("<>/=\"'&;: abcxyz0123456789-#?![]".utf8)
        var outcomes: [String: Int] = [:]
        for round in 0..<3000 {
            var bytes = original
            switch round % 4 {
            case 0:  // truncate anywhere
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
            case 1:  // flip a few bytes to structural characters
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = alphabet.randomElement(using: &generator)!
                }
            case 2:  // delete a slice
                let start = Int.random(in: 0..<bytes.count, using: &generator)
                bytes.removeSubrange(start..<min(bytes.count, start + Int.random(in: 1...400, using: &generator)))
            default:  // duplicate a slice somewhere else
                let start = Int.random(in: 0..<bytes.count, using: &generator)
                let slice = bytes[start..<min(bytes.count, start + Int.random(in: 1...400, using: &generator))]
                bytes.insert(contentsOf: slice, at: Int.random(in: 0..<bytes.count, using: &generator))
            }
            do {
                _ = try SMSPResponseReader.read(bytes)
                outcomes["read", default: 0] += 1
            } catch {
                outcomes[error.code.description, default: 0] += 1
                #expect(!error.message.isEmpty)
            }
        }
        // Most mutations must be caught: the reader is not just accepting anything.
        #expect(outcomes["unreadable response", default: 0] > 1000, "\(outcomes)")
        #expect(outcomes.values.reduce(0, +) == 3000)
    }
}

/// A deterministic generator so a failing mutation can be reproduced.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
