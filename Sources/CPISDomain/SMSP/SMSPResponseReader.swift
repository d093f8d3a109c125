import Foundation
import XMLSupport

/// What the SMSP answered, read from its SOAP response.
public struct SMSPResponse: Sendable, Hashable {
    /// `wsa:RelatesTo`: our request's `wsa:MessageID`, when the SMSP sent it.
    public var relatesTo: String?
    /// The Distribution Envelope's tracking id.
    public var trackingID: String?
    public var answer: CPISAnswer

    public init(relatesTo: String?, trackingID: String?, answer: CPISAnswer) {
        self.relatesTo = relatesTo
        self.trackingID = trackingID
        self.answer = answer
    }
}

/// Reads an SMSP CP-IS response (wire format, section 4): SOAP Body → Distribution Envelope →
/// `CP-ISNHSQueryResponse`. Also accepts a bare Distribution Envelope (the NHS test tool's
/// templates, captures without the SOAP wrapper).
///
/// Parsing is hardened (XMLSupport: no DTD loading, no entity expansion, no network, a size limit)
/// and everything that is not a well-formed answer becomes an ``SMSPResponseError``.
public enum SMSPResponseReader {
    /// Read into a ``CompactXMLDocument``: an answer is only read, and a libxml2 tree of it cost a
    /// worker more than any other step of a lookup. A document type declaration is refused (SOAP
    /// forbids one).
    public static func read(_ body: some Collection<UInt8>, limits: XMLParsingLimits = .default)
        throws(SMSPResponseError) -> SMSPResponse
    {
        let document: CompactXMLDocument
        do {
            document = try CompactXMLDocument(parsing: body, limits: limits)
        } catch {
            throw unreadable(error, body: body)
        }
        return try read(root: document.rootElement)
    }

    private static func read<Element: XMLElementReading>(root: Element) throws(SMSPResponseError) -> SMSPResponse {
        // The envelope's structure is a few fixed steps from the root: each is found by local name
        // and namespace URI (never by prefix), as the answer's many small fields are. (An XPath query
        // per step built and freed a context each time, and cost more than the steps themselves.)
        var relatesTo: String?
        let envelope: Element
        if root.is("Envelope", SMSPNamespaces.soap) {
            relatesTo = root.child("Header", SMSPNamespaces.soap)?.child("RelatesTo", SMSPNamespaces.addressing)?.trimmedText
            guard let soapBody = root.child("Body", SMSPNamespaces.soap) else {
                throw SMSPResponseError(.notSOAP, "the SOAP envelope has no Body")
            }
            if let fault = soapBody.child("Fault", SMSPNamespaces.soap) {
                let soapFault = readFault(fault)
                throw SMSPResponseError(.soapFault, "the SMSP answered with a SOAP fault: \(soapFault)", fault: soapFault)
            }
            guard let distribution = soapBody.child("DistributionEnvelope", SMSPNamespaces.itk) else {
                let found = soapBody.childElements.first.map { "<\($0.localName)>" } ?? "nothing"
                throw SMSPResponseError(.notSOAP, "the SOAP Body holds \(found), not an ITK DistributionEnvelope")
            }
            envelope = distribution
        } else if root.is("DistributionEnvelope", SMSPNamespaces.itk) {
            envelope = root
        } else {
            throw SMSPResponseError(.notSOAP, "expected a SOAP envelope or an ITK DistributionEnvelope, found "
                + "<\(root.localName)> in namespace \(root.namespaceURI ?? "(none)")")
        }

        let trackingID = envelope.child("header", SMSPNamespaces.itk)?.attribute("trackingid")
        let firstPayload = envelope.child("payloads", SMSPNamespaces.itk)?.child("payload", SMSPNamespaces.itk)
        guard let payload = firstPayload?.childElements.first else {
            throw SMSPResponseError(.wrongPayload, "the Distribution Envelope carries no payload")
        }
        guard payload.is("CP-ISNHSQueryResponse", SMSPNamespaces.hl7) else {
            throw SMSPResponseError(.wrongPayload, "the payload is <\(payload.localName)> "
                + "(\(payload.namespaceURI ?? "no namespace")), not a CP-IS NHS query response: is the endpoint "
                + "the CP-IS service?")
        }
        return SMSPResponse(relatesTo: relatesTo, trackingID: trackingID, answer: try readAnswer(payload))
    }

    // MARK: The answer

    /// Reads a `CP-ISNHSQueryResponse`: the SMSP's REPC_MT000012GB01, which carries its response
    /// code in `value`, or Spine's REPC_MT000007GB01, which has none and is given `responseCode`
    /// (a `value` in it, which it should not have, is ignored).
    static func readAnswer(_ response: some XMLElementReading, responseCode given: ResponseCode? = nil) throws(SMSPResponseError)
        -> CPISAnswer
    {
        let responseCode: ResponseCode
        if let given {
            responseCode = given
        } else if let value = response.child("value"), let code = value.attribute("code"), !code.isEmpty {
            responseCode = ResponseCode(code: code, displayName: value.attribute("displayName") ?? "")
        } else {
            throw malformed("the answer has no response code (value/@code)")
        }
        var answer = CPISAnswer(responseCode: responseCode)
        answer.effectiveTime = response.child("effectiveTime")?.attribute("value").flatMap(HL7Time.date)
        answer.id = response.child("id")?.attribute("root")
        answer.totalAccessRecords = try total(response, "pertinentInformation11", "pertinentTotalReturnedAccessRecords")
        answer.totalChildRecords = try total(response, "pertinentInformation12", "pertinentTotalReturnedChildRecords")
        for query in response.children("pertinentInformation13").flatMap({ $0.children("pertinentCP-ISNHSQuery") }) {
            answer.accessHistory.append(try readAccess(query))
        }
        let records = response.children("pertinentInformation14")
            .flatMap { $0.children("pertinentCP-ISRecordControlAct") }
            .flatMap { $0.children("record") }
        for (index, record) in records.enumerated() {
            answer.plans.append(try readPlan(record, number: index + 1))
        }
        return answer
    }

    /// An empty totals element (error answers send them) is absent, not a failure.
    private static func total(_ response: some XMLElementReading, _ wrapper: String, _ name: String) throws(SMSPResponseError)
        -> Int?
    {
        guard let text = response.child(wrapper)?.child(name)?.child("value")?.attribute("value") else { return nil }
        guard let number = Int(text.trimmed), number >= 0 else {
            throw malformed("\(name) is '\(text)', not a count")
        }
        return number
    }

    private static func readPlan(_ record: some XMLElementReading, number: Int) throws(SMSPResponseError) -> ProtectionPlan {
        let which = "plan \(number)"
        guard let organisation = record.child("communicationFunctionSnd")?.child("organisation"),
              let odsCode = organisation.child("id")?.attribute("extension")?.trimmed, !odsCode.isEmpty
        else { throw malformed("\(which) names no responsible local authority (communicationFunctionSnd/organisation/id)") }
        var authority = LocalAuthority(odsCode: odsCode, name: organisation.child("name")?.trimmedText ?? "",
                                       officeHoursPhone: nil, emergencyDutyPhone: nil)
        for telecom in organisation.children("telecom") {
            guard let value = telecom.attribute("value") else { continue }
            let phone = value.hasPrefix("tel:") ? String(value.dropFirst(4)) : value
            let uses = (telecom.attribute("use") ?? "").split(separator: " ")
            if uses.contains("WP") { authority.officeHoursPhone = phone }
            if uses.contains("EC") { authority.emergencyDutyPhone = phone }
        }

        guard let cpisRecord = record.child("CP-ISRecord"), let information = cpisRecord.child("pertinentInformation15")
        else { throw malformed("\(which) has no plan details (CP-ISRecord/pertinentInformation15)") }
        let template = information.child("contentId", SMSPNamespaces.npfitLocalisation)?.attribute("extension") ?? ""
        let planType: PlanType
        switch template.split(separator: "#").last {
        case "CPPInformation": planType = .childProtectionPlan
        case "LACInformation": planType = .lookedAfterChild
        case "UCPInformation": planType = .unbornChildProtectionPlan
        default: throw malformed("\(which) has an unknown plan template '\(template)'")
        }
        guard let details = information.childElements.first(where: { $0.localName != "contentId" }) else {
            throw malformed("\(which) (\(planType.rawValue)) has no plan element")
        }
        guard let startText = details.child("component")?.childElements.first?.child("value")?.attribute("value") else {
            throw malformed("\(which) (\(planType.rawValue)) has no start date")
        }
        guard let start = HL7Time.date(startText) else {
            throw malformed("\(which) start date '\(startText)' is not an HL7 date")
        }
        var end: Date?
        // Absent, or present with a nullFlavor and no value: the plan is open-ended.
        if let endText = details.child("component1")?.childElements.first?.child("value")?.attribute("value") {
            guard let date = HL7Time.date(endText) else {
                throw malformed("\(which) end date '\(endText)' is not an HL7 date")
            }
            end = date
        }

        let subjects = cpisRecord.children("subject").compactMap(readSubject)
        let preferred = subjects.first { subject in
            if case .unbornChild = subject { planType == .unbornChildProtectionPlan } else { planType != .unbornChildProtectionPlan }
        }
        guard let subject = preferred ?? subjects.first else {
            throw malformed("\(which) (\(planType.rawValue)) has no child or unborn child subject")
        }
        return ProtectionPlan(type: planType, start: start, end: end, subject: subject, localAuthority: authority)
    }

    private static func readSubject(_ subject: some XMLElementReading) -> PlanSubject? {
        if let child = subject.child("COCT_TP145101GB01.Child") {
            let person = child.child("childPerson")
            return .child(nhsNumber: child.child("id")?.attribute("extension")?.trimmed,
                          name: person?.child("name").map(SMSPRequestReader.readName),
                          birthDate: person?.child("birthTime")?.attribute("value").flatMap(HL7Time.calendarDate))
        }
        if let mother = subject.child("COCT_TP145100GB01.UnbornChild")?.child("parentMotherPerson") {
            return .unbornChild(mother: PlanSubject.Mother(
                nhsNumber: mother.child("playedMother")?.child("id")?.attribute("extension")?.trimmed,
                name: mother.child("name").map(SMSPRequestReader.readName),
                birthDate: mother.child("birthTime")?.attribute("value").flatMap(HL7Time.calendarDate)))
        }
        return nil
    }

    private static func readAccess(_ element: some XMLElementReading) throws(SMSPResponseError) -> AccessRecord {
        let query = SMSPRequestReader.readQuery(element)
        guard let timeText = query.effectiveTime else {
            throw malformed("an access history entry has no time (effectiveTime)")
        }
        guard let accessedAt = HL7Time.date(timeText) else {
            throw malformed("an access history time '\(timeText)' is not an HL7 date")
        }
        return AccessRecord(accessedAt: accessedAt, organisation: query.organisation, author: query.author)
    }

    // MARK: Parts

    private static func readFault(_ fault: some XMLElementReading) -> SOAPFault {
        // faultcode and faultstring are unqualified in SOAP 1.1; the toolkit details are looked up by
        // local name because SMSPs differ on their namespace.
        let info = fault.descendant(named: "ToolkitErrorInfo")
        return SOAPFault(faultCode: fault.childElements.first { $0.localName == "faultcode" }?.trimmedText ?? "",
                         faultString: fault.childElements.first { $0.localName == "faultstring" }?.trimmedText ?? "",
                         errorID: info?.descendant(named: "ErrorID")?.trimmedText,
                         errorCode: info?.descendant(named: "ErrorCode")?.trimmedText,
                         errorText: info?.descendant(named: "ErrorText")?.trimmedText,
                         errorDiagnosticText: info?.descendant(named: "ErrorDiagnosticText")?.trimmedText)
    }

    static func malformed(_ message: String) -> SMSPResponseError {
        SMSPResponseError(.malformedAnswer, message)
    }

    static func unreadable(_ error: XMLError, body: some Collection<UInt8>) -> SMSPResponseError {
        let start = String(decoding: body.prefix(512), as: UTF8.self).lowercased()
        if start.contains("<html") || start.contains("<!doctype html") {
            return SMSPResponseError(.unreadable, "the SMSP answered with an HTML page, not SOAP (a proxy or "
                + "load-balancer error page?): \(error.message)")
        }
        return SMSPResponseError(.unreadable, "the response is not well-formed XML: \(error)")
    }
}

extension XMLElementReading {
    /// The first child element with this local name, in the HL7 namespace unless told otherwise.
    func child(_ localName: String, _ namespace: String = SMSPNamespaces.hl7) -> Self? {
        firstChildElement(named: localName, namespaceURI: namespace)
    }

    func children(_ localName: String, _ namespace: String = SMSPNamespaces.hl7) -> [Self] {
        childElements(named: localName, namespaceURI: namespace)
    }

    func `is`(_ localName: String, _ namespace: String) -> Bool {
        self.localName == localName && namespaceURI == namespace
    }

    /// The first descendant with this local name, in any namespace (depth first).
    func descendant(named localName: String) -> Self? {
        for child in childElements {
            if child.localName == localName { return child }
            if let found = child.descendant(named: localName) { return found }
        }
        return nil
    }

    var trimmedText: String { text.trimmed }
}
