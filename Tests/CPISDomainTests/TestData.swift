@testable import CPISDomain
import Foundation

/// Where the NHS reference artefacts are: `../shared/nhs` beside the package (absent in a user's clone).
enum NHSArtefacts {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "../shared/nhs").standardizedFileURL

    static var isPresent: Bool { FileManager.default.fileExists(atPath: directory.path) }

    static let missingMessage = "../shared/nhs (the NHS reference artefacts) is absent: skipped"

    static var templates: URL { directory.appending(path: "tkw-cpis-smsp-simulator/response_templates") }

    /// The NHS test tool's response templates, by response code (from the file names).
    static func templateFiles() throws -> [(code: String, url: URL)] {
        try FileManager.default.contentsOfDirectory(at: templates, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "xml" }
            .compactMap { url -> (String, URL)? in
                let parts = url.lastPathComponent.split(separator: "_")
                guard let code = parts.first(where: { $0.hasPrefix("SMSP-") || $0.hasPrefix("CPIS-") }) else { return nil }
                return (String(code), url)
            }
            .sorted { $0.0 < $1.0 }
    }

    /// Wraps a bare Distribution Envelope in a SOAP response, as the NHS test tool does.
    static func soapWrapped(_ distributionEnvelope: String, relatesTo: String = "REQUEST-MESSAGE-ID") -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://www.w3.org/2005/08/addressing">
        <soap:Header><wsa:Action>urn:nhs-itk:services:201005:sendRecvDistEnvelopeResponse</wsa:Action>\
        <wsa:RelatesTo>\(relatesTo)</wsa:RelatesTo></soap:Header>
        <soap:Body>\(distributionEnvelope)</soap:Body>
        </soap:Envelope>
        """
    }
}

enum Samples {
    static let organisation = Organisation(odsCode: "RKE", name: "The Whittington Hospital")
    static let paula = UserAuthor(sdsUserId: "200009876204", sdsRoleProfileId: "100077650987",
                                  jobRole: JobRole(code: "R0260", displayName: "General Medical Practitioner"),
                                  name: PersonName(prefix: "Dr", given: "Paula", family: "Palmer"))
    static let userRequester = Requester(organisation: organisation, author: .user(paula))
    static let systemRequester = Requester(organisation: organisation, author: .system(SystemAuthor(
        asid: "200000000123",
        nominatedPerson: NominatedPerson(jobRole: JobRole(code: "R0260", displayName: "General Medical Practitioner"),
                                         name: PersonName(given: "Paula", family: "Palmer")))))
    static let identity = SMSPIdentity(endpoint: "https://smsp.example.nhs.uk/smsp/cpis", username: "cpis-worker",
                                       senderODSCode: "RKE", asid: "200000000999")

    static func date(_ text: String) -> Date {
        guard let date = ISO8601DateFormatter().date(from: text) else { fatalError("bad test date \(text)") }
        return date
    }

    static let islington = LocalAuthority(odsCode: "V145", name: "Islington", officeHoursPhone: "020 7527 2000",
                                          emergencyDutyPhone: "020 7226 0992")
    static let camden = LocalAuthority(odsCode: "V102", name: "Camden", officeHoursPhone: "020 7974 3317",
                                       emergencyDutyPhone: nil)
    static let child = PlanSubject.child(nhsNumber: "9434765919", name: PersonName(given: "Amy", family: "Carter"),
                                         birthDate: CalendarDate(year: 2019, month: 3, day: 2))

    /// Several plans of different types, an open-ended one, an unborn child, a system author in the
    /// history, and 25 history entries: what the NHS templates do not cover.
    static var richAnswer: CPISAnswer {
        let history = (0..<25).map { index -> AccessRecord in
            let at = date("2026-11-23T22:10:00Z").addingTimeInterval(-Double(index) * 90_000)
            return index % 5 == 4
                ? AccessRecord(accessedAt: at, organisation: Organisation(odsCode: "RAL", name: "Royal Free"),
                               author: .system(asid: "20000000\(1000 + index)",
                                               nominatedPerson: PersonName(given: "Sam", family: "Jones"),
                                               jobRole: JobRole(code: "R0260", displayName: "GP")))
                : AccessRecord(accessedAt: at, organisation: Samples.organisation,
                               author: .user(name: PersonName(prefix: "Dr", given: "Paula", family: "O'Brien & Co"),
                                             jobRole: JobRole(code: "R0670", displayName: "Midwife <senior>"),
                                             sdsUserId: "2000098762\(10 + index)"))
        }
        return CPISAnswer(
            responseCode: ResponseCode(code: "SMSP-0000", displayName: "Success"),
            effectiveTime: date("2026-11-24T14:30:00Z"), id: "3C4C0AEF-3537-44C4-A8B5-F0C313603458",
            plans: [
                ProtectionPlan(type: .childProtectionPlan, start: date("2026-09-26T08:00:00Z"), end: nil,
                               subject: child, localAuthority: islington),
                ProtectionPlan(type: .lookedAfterChild, start: date("2025-01-10T10:30:00Z"),
                               end: date("2026-01-10T10:30:00Z"), subject: child, localAuthority: camden),
                ProtectionPlan(type: .unbornChildProtectionPlan, start: date("2026-06-01T08:00:00Z"), end: nil,
                               subject: .unbornChild(mother: .init(nhsNumber: "9990000018",
                                                                  name: PersonName(given: "Louise", family: "Doyle"),
                                                                  birthDate: CalendarDate(year: 2000, month: 9, day: 26))),
                               localAuthority: islington),
            ],
            accessHistory: history, totalAccessRecords: 25, totalChildRecords: 3)
    }
}
