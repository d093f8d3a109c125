import ArgumentParser
import CPISDomain
import Foundation

/// The cost of the messages of a lookup: building the SMSP request, reading responses, and the
/// contract's JSON both ways.
struct SMSPMessagesBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smsp-messages",
        abstract: "Build a SOAP request, read SMSP responses, read and write the contract's JSON: µs and allocations per operation."
    )

    @Option(help: "Runs per operation.")
    var iterations = 20_000

    @Option(help: "The NHS test tool's success template, read as a second response shape, if present.")
    var template = "../shared/nhs/tkw-cpis-smsp-simulator/response_templates/NHSQueryResponse_Success_REPC_MT000012GB01_SMSP-0000_01_ITK.xml"

    func run() throws {
        let builder = SMSPRequestBuilder(identity: SMSPIdentity(
            endpoint: "https://smsp.example.nhs.uk/smsp/cpis", username: "cpis-worker", senderODSCode: "RKE"))
        let nhsNumber = try NHSNumber("9434765919")
        let requester = Requester(
            organisation: Organisation(odsCode: "RKE", name: "The Whittington Hospital"),
            author: .user(UserAuthor(sdsUserId: "200009876204", sdsRoleProfileId: "100077650987",
                                     jobRole: JobRole(code: "R0260", displayName: "General Medical Practitioner"),
                                     name: PersonName(prefix: "Dr", given: "Paula", family: "Palmer"))))
        let full = Array(SMSPResponseBuilder.soapResponse(Self.fullAnswer(), relatesTo: "BENCH").utf8)
        let noRecord = Array(SMSPResponseBuilder.soapResponse(
            CPISAnswer(responseCode: .noMatch, effectiveTime: Date(), totalAccessRecords: 0, totalChildRecords: 0),
            relatesTo: "BENCH").utf8)
        let lookupBody = LookupRequest(nhsNumber: nhsNumber, requester: requester).json()
        let noRecordResult = LookupResult(requestId: "BENCH", nhsNumber: nhsNumber.digits,
                                          answer: try SMSPResponseReader.read(noRecord).answer, attempts: 1)

        var measurements = [
            try Measurement.run("build request (person author)", iterations: iterations) {
                _ = try builder.build(nhsNumber: nhsNumber, requester: requester)
            },
            try Measurement.run("read full response (3 plans, 25 accesses)", iterations: iterations) {
                _ = try SMSPResponseReader.read(full)
            },
            // The rest of a no-record lookup's own work: its request body read, its answer read, its
            // result written.
            try Measurement.run("read a lookup request (JSON)", iterations: iterations) {
                _ = try LookupRequest(json: lookupBody)
            },
            try Measurement.run("read a no-record response", iterations: iterations) {
                _ = try SMSPResponseReader.read(noRecord)
            },
            Measurement.run("write a no-record result (JSON)", iterations: iterations) {
                _ = noRecordResult.json()
            },
        ]
        if let data = FileManager.default.contents(atPath: template) {
            let bytes = Array(data)
            measurements.append(try Measurement.run("read NHS success template", iterations: iterations) {
                _ = try SMSPResponseReader.read(bytes)
            })
        }
        print("response sizes: full \(full.count) bytes")
        Measurement.printTable(measurements)
    }

    /// A large realistic answer: three plans of different types, the 25-entry history CP-IS keeps.
    static func fullAnswer() -> CPISAnswer {
        let islington = LocalAuthority(odsCode: "V145", name: "Islington", officeHoursPhone: "020 7527 2000",
                                       emergencyDutyPhone: "020 7226 0992")
        let child = PlanSubject.child(nhsNumber: "9434765919", name: PersonName(given: "Amy", family: "Carter"),
                                      birthDate: CalendarDate(year: 2019, month: 3, day: 2))
        let now = Date()
        let history = (0..<25).map { index in
            AccessRecord(accessedAt: now.addingTimeInterval(-Double(index) * 90_000),
                         organisation: Organisation(odsCode: "RKE", name: "The Whittington Hospital"),
                         author: .user(name: PersonName(prefix: "Dr", given: "Paula", family: "Palmer"),
                                       jobRole: JobRole(code: "R0260", displayName: "General Medical Practitioner"),
                                       sdsUserId: "200009876204"))
        }
        return CPISAnswer(
            responseCode: ResponseCode(code: "SMSP-0000", displayName: "Success"), effectiveTime: now,
            plans: [
                ProtectionPlan(type: .childProtectionPlan, start: now.addingTimeInterval(-86_400 * 60), end: nil,
                               subject: child, localAuthority: islington),
                ProtectionPlan(type: .lookedAfterChild, start: now.addingTimeInterval(-86_400 * 400),
                               end: now.addingTimeInterval(-86_400 * 30), subject: child, localAuthority: islington),
                ProtectionPlan(type: .unbornChildProtectionPlan, start: now.addingTimeInterval(-86_400 * 700),
                               end: now.addingTimeInterval(-86_400 * 500),
                               subject: .unbornChild(mother: .init(nhsNumber: "9990000018",
                                                                  name: PersonName(given: "Louise", family: "Doyle"),
                                                                  birthDate: CalendarDate(year: 2000, month: 9, day: 26))),
                               localAuthority: islington),
            ],
            accessHistory: history, totalAccessRecords: 25, totalChildRecords: 3)
    }
}
