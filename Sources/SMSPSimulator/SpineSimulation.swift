import CPISDomain
import Foundation

/// The simulator as Spine's CP-IS (`cpis simulator --spine`, wire format `spine-hl7v3-wire.md`): it
/// checks a QUPC_IN000006GB01 as Spine does, answers the Message Test Harness's trigger numbers as
/// the harness does (§10), and the dataset's patients with their plans, keeping the same access
/// history, notifications, latency and faults as the SMSP simulation.
extension SMSPSimulator {
    /// Spine CP-IS's ASID in our answers.
    static let spineASID = "999999999999"

    /// Judges and answers one POSTed Spine request.
    public func handleSpine(soapAction: String?, body: [UInt8]) -> SimulatorReply {
        requests.add(1, ordering: .relaxed)
        guard soapAction == SpineConstants.queryAction else {
            return spineFault(client: true, code: "101", "Service / interaction not supported for the requested URI",
                              location: "HTTP Header - SOAPAction")
        }
        let request: SpineIncomingRequest
        do {
            request = try SpineRequestReader.read(body)
        } catch {
            return spineFault(client: true, code: "201", "The message is not well formed: \(error.message)")
        }
        guard request.headerProblems.isEmpty, let messageID = request.messageID, let hl7ID = request.hl7ID,
              let senderASID = request.senderASID
        else {
            return spineFault(client: true, code: "200", request.headerProblems.joined(separator: "; "))
        }
        guard seenMessageIDs.firstUse(of: messageID, at: now()) else {
            return spineFault(client: true, code: "200", "wsa:MessageID \(messageID) was already used: every message needs a new one")
        }
        let addressing = SpineResponseBuilder.Addressing(relatesTo: messageID, queryHL7ID: hl7ID, senderASID: senderASID,
                                                         spineASID: Self.spineASID)
        guard let query = request.query else {
            return xml(SpineResponseBuilder.acknowledgement("AE", [Self.mandatoryMissing("CP-ISQueryStub")], to: addressing))
        }
        // Spine's own mandatory items (CPIS_Query.xsl): the query is refused, not answered.
        let missing = query.missingFields + (query.id == nil ? ["Event ID"] : [])
        guard missing.isEmpty, let rawNumber = query.nhsNumber, let nhsNumber = try? NHSNumber(rawNumber) else {
            let items = query.nhsNumber == nil ? missing + ["NHS Number"] : missing.isEmpty ? ["NHS Number"] : missing
            return xml(SpineResponseBuilder.acknowledgement("AE", items.map(Self.mandatoryMissing), to: addressing))
        }
        switch nhsNumber.digits {
        case "9448904053": return xml(SpineResponseBuilder.queryActFailed(Self.notFound, to: addressing))
        case "9444459993":
            return spineFault(client: true, code: "101", "Service / interaction not supported for the requested URI",
                              location: "HTTP Header - SOAPAction")
        case "9346424613":
            return xml(SpineResponseBuilder.acknowledgement("AE", [SpineReason(
                code: "GE002", codeSystem: nil, displayName: "Unexpected business error encountered.", qualifier: "ER")],
                to: addressing))
        case "1111111111": return .noResponse
        case "2222222222":
            return xml(SpineResponseBuilder.ebXMLError(code: "402005", "An error occurred while finding the defined contract"))
        default: break
        }
        let time = now()
        let step = nextStep(for: nhsNumber.digits)
        switch step {
        case .fault(.http503):
            return .respond(status: 503, contentType: "text/plain; charset=utf-8", body: "503 Service Unavailable\n")
        case .fault(.soapServerFault):
            return spineFault(client: false, code: "200", "System failure to process message - default")
        case .fault(.noResponse):
            return .noResponse
        case .fault(.resetMidBody):
            guard case .respond(let status, let contentType, let body) = spineAnswer(query, nhsNumber, addressing, time) else {
                return .noResponse
            }
            return .resetMidBody(status: status, contentType: contentType, body: body)
        case .fault(.invalidXML):
            let full = SpineResponseBuilder.queryActFailed(Self.notFound, to: addressing)
            return .respond(status: 200, contentType: Self.xmlContentType, body: String(full.prefix(full.count / 2)))
        case .fault(.wrongRelatesTo):
            var other = addressing
            other.relatesTo = "uuid:\(FreshUUID.string())"
            return spineAnswer(query, nhsNumber, other, time)
        case .fault(.crossedRecord), .fault(.crossedUnbornRecord):
            // Another dataset patient's records (a child's, or an unborn child's), as an answer to this query.
            let unborn = if case .fault(.crossedUnbornRecord) = step { true } else { false }
            guard let plans = crossedPlans(asked: nhsNumber, unborn: unborn) else {
                return spineAnswer(query, nhsNumber, addressing, time)
            }
            return xml(SpineResponseBuilder.records(CPISAnswer(
                responseCode: ResponseCode.success, effectiveTime: time, plans: plans, totalAccessRecords: 0,
                totalChildRecords: plans.count), to: addressing, at: time))
        case .fault(.wrongPayload):
            // Not a CP-IS answer: another service's interaction.
            return xml(SpineResponseBuilder.acknowledgement("AE", [], to: addressing)
                .replacingOccurrences(of: "MCCI_IN010000UK13", with: "QUPA_IN050000UK32"))
        case .answer:
            return spineAnswer(query, nhsNumber, addressing, time)
        }
    }

    /// The dataset's patients get their plans (the query recorded in their history); anyone else is
    /// not found.
    private func spineAnswer(_ query: CPISQuery, _ nhsNumber: NHSNumber, _ addressing: SpineResponseBuilder.Addressing,
                             _ time: Date) -> SimulatorReply {
        guard let plans = dataset.plansByNHSNumber[nhsNumber.digits] ?? (nhsNumber.digits == Self.harnessRecord ? [Self.harnessPlan] : nil)
        else {
            return xml(SpineResponseBuilder.queryActFailed(Self.notFound, to: addressing))
        }
        let access = AccessRecord(accessedAt: time, organisation: query.organisation, author: query.author)
        let history = register.record(nhsNumber: nhsNumber.digits, access: access, messageID: addressing.relatesTo, plans: plans)
        return xml(SpineResponseBuilder.records(CPISAnswer(
            responseCode: ResponseCode.success, effectiveTime: time, plans: plans, accessHistory: history,
            totalAccessRecords: history.count, totalChildRecords: plans.count), to: addressing, at: time))
    }

    /// The harness's success trigger: one looked-after-child record (the harness's own answer's
    /// shape, with made-up details: its data is reference material, not ours to copy).
    static let harnessRecord = "9449310394"
    static let harnessPlan = ProtectionPlan(
        type: .lookedAfterChild, start: Date(timeIntervalSince1970: 1_400_000_000), end: nil,
        subject: .child(nhsNumber: harnessRecord, name: PersonName(given: "Harness", family: "Testchild"),
                        birthDate: CalendarDate(year: 2010, month: 1, day: 1)),
        localAuthority: LocalAuthority(odsCode: "V999", name: "Harness Test Local Authority",
                                       officeHoursPhone: "0300 000 0001", emergencyDutyPhone: "0300 000 0002"))

    /// The harness's "NHS Number Not Found" reasons.
    static let notFound = [
        SpineReason(code: "1", codeSystem: nil, displayName: "NHS Number Not Found", qualifier: "ER"),
        SpineReason(code: "NHSNCC002", codeSystem: nil, displayName: "NHS Number Not Found", qualifier: "ER"),
    ]

    /// Spine's refusal of a query missing a mandatory item (inferred: `ErrorBase1712`).
    static func mandatoryMissing(_ item: String) -> SpineReason {
        SpineReason(code: "1712", codeSystem: nil, displayName: "MANDATORY_DATA_MISSING|\(item)", qualifier: "ER")
    }

    private func xml(_ text: String) -> SimulatorReply {
        .respond(status: 200, contentType: Self.xmlContentType, body: text)
    }

    private func spineFault(client: Bool, code: String, _ description: String, location: String = "") -> SimulatorReply {
        .respond(status: 500, contentType: Self.xmlContentType, body: SpineResponseBuilder.fault(
            client: client, "Application Exception",
            [SpineError(codeContext: "urn:nhs:names:error:tms", errorCode: code, severity: "Error", location: location,
                        description: description)]))
    }
}
