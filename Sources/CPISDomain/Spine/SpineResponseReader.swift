import Foundation
import XMLSupport

/// A coded reason or detail in a Spine answer: `(code, codeSystem, displayName, qualifier)`.
public struct SpineReason: Sendable, Hashable, CustomStringConvertible {
    public var code: String
    public var codeSystem: String?
    public var displayName: String?
    /// ER (error), WG (warning) or IF (information), where given.
    public var qualifier: String?

    public init(code: String, codeSystem: String?, displayName: String?, qualifier: String?) {
        self.code = code
        self.codeSystem = codeSystem
        self.displayName = displayName
        self.qualifier = qualifier
    }

    public var description: String { "\(code) \"\(displayName ?? "")\"" + (qualifier.map { " (\($0))" } ?? "") }
}

/// One error of a SOAP fault's `nasp:errorList`, or of an ebXML `eb:ErrorList`.
public struct SpineError: Sendable, Hashable, CustomStringConvertible {
    public var codeContext: String?
    public var errorCode: String
    public var severity: String?
    public var location: String?
    public var description: String

    public init(codeContext: String?, errorCode: String, severity: String?, location: String?, description: String) {
        self.codeContext = codeContext
        self.errorCode = errorCode
        self.severity = severity
        self.location = location
        self.description = description
    }
}

/// What Spine answered (wire format §5).
public enum SpineAnswer: Sendable, Hashable {
    /// REPC_IN000007GB01 with `queryResponseCode` OK: the records, given SMSP-0000.
    case records(CPISAnswer)
    /// QUQI_IN010000UK14, query act failed, with its reasons (not found is one of them).
    case queryActFailed(reasons: [SpineReason])
    /// MCCI_IN010000UK13, an application acknowledgement: `typeCode` AE (error) or AR (reject).
    case acknowledgement(typeCode: String, reasons: [SpineReason])
    /// A SOAP Fault (HTTP 500): `faultcode` Client or Server, and the `nasp` errors.
    case fault(code: String, string: String, errors: [SpineError])
    /// An ebXML MessageError (`eb:ErrorList` in the SOAP header).
    case messagingError(errors: [SpineError])
}

/// A Spine answer and the ids that tie it to our query.
public struct SpineResponse: Sendable, Hashable {
    public var answer: SpineAnswer
    /// Spine's `wsa:MessageID`, for the audit record.
    public var messageID: String?
    /// `wsa:RelatesTo` without `uuid:`: our `wsa:MessageID`'s UUID, where sent.
    public var relatesTo: String?
    /// `acknowledgement/messageRef/id/@root`: our HL7 id, in QUQI and MCCI answers.
    public var acknowledgedID: String?
    /// Every NHS number the answer names anywhere (an `id` or `value` with the NHS number root, and
    /// each listed query's `person.NHSnumber`), in document order: what shows whose answer it is
    /// when a record names no child (NHS Digital's own success template has none).
    public var nhsNumbers: [String] = []

    /// Why this answer cannot be the answer to `request` (another query's ids, or none at all), or nil.
    /// Faults and messaging errors carry no ids and are not answers about anyone.
    public func mismatch(with request: SpineRequest) -> String? {
        switch answer {
        case .fault, .messagingError: return nil
        case .records, .queryActFailed, .acknowledgement: break
        }
        // wsa:MessageID and the HL7 id carry the same UUID.
        let ours = request.hl7MessageID.uppercased()
        if let relatesTo, relatesTo.uppercased() != ours {
            return "Spine's answer relates to \(relatesTo), not to our query \(ours)"
        }
        if let acknowledgedID, acknowledgedID.uppercased() != ours {
            return "Spine's answer acknowledges \(acknowledgedID), not our query \(ours)"
        }
        guard relatesTo != nil || acknowledgedID != nil else {
            return "Spine's answer names no query it answers (no wsa:RelatesTo, no acknowledged id)"
        }
        return nil
    }
}

/// Reads Spine's answers to QUPC_IN000006GB01 (wire format §5.6): leniently, because NHS Digital's own
/// success template fails its schema (§8). Whatever wraps the interaction (Spine's synchronous
/// `CP-ISNHSQueryResponse` wrapper, or nothing), it is found by name. Everything that is not one of the
/// four kinds of answer is an ``SMSPResponseError``.
public enum SpineResponseReader {
    public static func read(_ body: some Collection<UInt8>, limits: XMLParsingLimits = .default)
        throws(SMSPResponseError) -> SpineResponse
    {
        try read(try document(body, limits: limits))
    }

    /// The answer's XML, for a caller that reads it more than once (schema findings, then ``read(_:)-swift.type.method``).
    public static func document(_ body: some Collection<UInt8>, limits: XMLParsingLimits = .default)
        throws(SMSPResponseError) -> XMLDocument
    {
        do {
            return try XMLDocument(parsing: body, limits: limits)
        } catch {
            throw SMSPResponseReader.unreadable(error, body: body)
        }
    }

    /// Every NHS number named under `element`: the extension of an element whose root is the NHS number
    /// OID, and of a `person.NHSnumber`'s `value` (which carries no root).
    static func nhsNumbers(in element: XMLElement) -> [String] {
        var found: [String] = []
        func walk(_ element: XMLElement, underNHSNumber: Bool) {
            if underNHSNumber || element.attribute("root") == SMSPConstants.nhsNumberRoot,
               let number = element.attribute("extension") {
                found.append(number)
            }
            for child in element.childElements { walk(child, underNHSNumber: element.localName == "person.NHSnumber") }
        }
        walk(element, underNHSNumber: false)
        return found
    }

    public static func read(_ document: XMLDocument) throws(SMSPResponseError) -> SpineResponse {
        let root = document.rootElement
        guard root.is("Envelope", SMSPNamespaces.soap) else {
            throw SMSPResponseError(.notSOAP, "expected a SOAP 1.1 envelope, found <\(root.localName)> in namespace "
                + (root.namespaceURI ?? "(none)"))
        }
        let header = root.child("Header", SMSPNamespaces.soap)
        let messageID = header?.child("MessageID", SpineConstants.addressing)?.trimmedText
        let relatesTo = header?.child("RelatesTo", SpineConstants.addressing)?.trimmedText.strippingUUIDPrefix
        func response(_ answer: SpineAnswer, acknowledgedID: String? = nil) -> SpineResponse {
            SpineResponse(answer: answer, messageID: messageID, relatesTo: relatesTo, acknowledgedID: acknowledgedID)
        }
        if let errorList = header?.childElements.first(where: { $0.localName == "ErrorList" }) {
            return response(.messagingError(errors: errorList.childElements.filter { $0.localName == "Error" }
                .map(readEBXMLError)))
        }
        guard let body = root.child("Body", SMSPNamespaces.soap) else {
            throw SMSPResponseError(.notSOAP, "the SOAP envelope has no Body")
        }
        if let fault = body.child("Fault", SMSPNamespaces.soap) {
            return response(readFault(fault))
        }
        guard let interaction = firstInteraction(in: body) else {
            let found = body.childElements.first.map { "<\($0.localName)>" } ?? "nothing"
            throw SMSPResponseError(.wrongPayload, "the SOAP Body holds \(found), not an HL7 interaction")
        }
        let name = interaction.localName
        guard interaction.child("interactionId")?.attribute("extension") == name else {
            throw SMSPResponseReader.malformed("the \(name)'s interactionId does not name \(name)")
        }
        let acknowledgedID = interaction.child("acknowledgement")?.child("messageRef")?.child("id")?.attribute("root")
        switch name {
        case "REPC_IN000007GB01":
            let controlAct = interaction.child("ControlActEvent")
            let ack = controlAct?.child("queryAck")?.child("queryResponseCode")?.attribute("code")
            guard ack == "OK" else {
                throw SMSPResponseReader.malformed("Spine's REPC_IN000007GB01 says queryResponseCode \(ack ?? "(none)"), not OK")
            }
            guard let payload = controlAct?.child("subject")?.child("CP-ISNHSQueryResponse") else {
                throw SMSPResponseReader.malformed("Spine's REPC_IN000007GB01 carries no CP-ISNHSQueryResponse")
            }
            var records = response(.records(try SMSPResponseReader.readAnswer(payload, responseCode: .success)))
            records.nhsNumbers = nhsNumbers(in: interaction)
            return records
        case "QUQI_IN010000UK14":
            return response(.queryActFailed(reasons: reasons(interaction)), acknowledgedID: acknowledgedID)
        case "MCCI_IN010000UK13":
            let acknowledgement = interaction.child("acknowledgement")
            let details = acknowledgement?.children("acknowledgementDetail").compactMap { detail in
                detail.child("code").flatMap(readReason)
            } ?? []
            return response(.acknowledgement(typeCode: acknowledgement?.attribute("typeCode") ?? "",
                                             reasons: details + reasons(interaction)),
                            acknowledgedID: acknowledgedID)
        default:
            throw SMSPResponseError(.wrongPayload, "Spine answered with \(name), not a CP-IS answer")
        }
    }

    /// The first element in the HL7 namespace named like an interaction (`AAAA_IN000000AA00`), depth first.
    private static func firstInteraction(in element: XMLElement) -> XMLElement? {
        for child in element.childElements {
            if child.namespaceURI == SMSPNamespaces.hl7, isInteractionName(child.localName) { return child }
            if let found = firstInteraction(in: child) { return found }
        }
        return nil
    }

    static func isInteractionName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        func upper(_ range: Range<Int>) -> Bool { range.allSatisfy { (65...90).contains(bytes[$0]) } }
        func digits(_ range: Range<Int>) -> Bool { range.allSatisfy { (48...57).contains(bytes[$0]) } }
        return bytes.count == 17 && upper(0..<4) && name.dropFirst(4).hasPrefix("_IN") && digits(7..<13)
            && upper(13..<15) && digits(15..<17)
    }

    /// The control act's `reason/justifyingDetectedIssueEvent/code`s.
    private static func reasons(_ interaction: XMLElement) -> [SpineReason] {
        (interaction.child("ControlActEvent")?.children("reason") ?? [])
            .compactMap { $0.child("justifyingDetectedIssueEvent")?.child("code").flatMap(readReason) }
    }

    private static func readReason(_ code: XMLElement) -> SpineReason? {
        guard let value = code.attribute("code"), !value.isEmpty else { return nil }
        return SpineReason(code: value, codeSystem: code.attribute("codeSystem"), displayName: code.attribute("displayName"),
                           qualifier: code.child("qualifier")?.attribute("code"))
    }

    private static func readFault(_ fault: XMLElement) -> SpineAnswer {
        // faultcode and faultstring are unqualified in SOAP 1.1; the nasp details are read by local
        // name, because the harness spells their context differently.
        func text(_ element: XMLElement, _ name: String) -> String? {
            element.childElements.first { $0.localName == name }?.trimmedText
        }
        let errors = (fault.descendant(named: "errorList")?.childElements ?? []).filter { $0.localName == "error" }.map { error in
            SpineError(codeContext: text(error, "codeContext"), errorCode: text(error, "errorCode") ?? "",
                       severity: text(error, "severity"), location: text(error, "location"),
                       description: text(error, "description") ?? "")
        }
        let code = text(fault, "faultcode") ?? ""
        // "SOAP:Client", "soap:Server": the part after the prefix.
        return .fault(code: String(code.split(separator: ":").last ?? Substring(code)), string: text(fault, "faultstring") ?? "",
                      errors: errors)
    }

    private static func readEBXMLError(_ error: XMLElement) -> SpineError {
        // ebXML qualifies its attributes (eb:errorCode); tolerate unqualified ones.
        func attribute(_ name: String) -> String? {
            error.attribute(name, namespaceURI: SpineConstants.ebXML) ?? error.attribute(name)
        }
        return SpineError(codeContext: attribute("codeContext"), errorCode: attribute("errorCode") ?? "",
                          severity: attribute("severity"), location: attribute("location"),
                          description: error.childElements.first { $0.localName == "Description" }?.trimmedText
                              ?? error.trimmedText)
    }
}

private extension String {
    var strippingUUIDPrefix: String { lowercased().hasPrefix("uuid:") ? String(dropFirst(5)) : self }
}
