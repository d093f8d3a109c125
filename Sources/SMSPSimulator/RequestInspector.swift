import CPISDomain
import Foundation

/// The checks the NHS test tool makes of a CP-IS query before it answers: transport header,
/// WS-Addressing, WS-Security, Distribution Envelope and the payload's mandatory fields. Every
/// problem is named, so a developer integrating against the simulator knows what to fix.
struct RequestInspector {
    /// When set, `wsa:To` must equal it.
    var expectedTo: String?
    /// Allowed clock difference between the sender's `wsu:Created` and ours.
    var clockSkew: TimeInterval = 300

    func problems(soapAction: String?, request: SMSPIncomingRequest, now: Date) -> [String] {
        var problems: [String] = []
        let action = soapAction?.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        if action != SMSPConstants.requestService {
            problems.append("HTTP header SOAPAction must be \(SMSPConstants.requestService) (got \(action ?? "none"))")
        }

        // WS-Addressing
        if let messageID = request.messageID {
            if !Self.isUpperCaseUUID(messageID, allowingPrefix: "uuid:") {
                problems.append("wsa:MessageID must be an upper-case UUID (got '\(messageID)')")
            }
        } else {
            problems.append("wsa:MessageID is missing")
        }
        if request.action != SMSPConstants.requestService {
            problems.append("wsa:Action must be \(SMSPConstants.requestService) (got \(request.action ?? "none"))")
        }
        if request.action != request.service {
            problems.append("wsa:Action must equal the Distribution Envelope's service")
        }
        if request.to?.isEmpty ?? true {
            problems.append("wsa:To is missing")
        } else if let expectedTo, request.to != expectedTo {
            problems.append("wsa:To must be this endpoint, \(expectedTo) (got \(request.to ?? ""))")
        }
        if let replyTo = request.replyTo, replyTo != SMSPConstants.anonymousAddress {
            problems.append("wsa:ReplyTo, when present, must be \(SMSPConstants.anonymousAddress)")
        }

        // WS-Security
        let created = request.created.flatMap(Self.parseTimestamp)
        let expires = request.expires.flatMap(Self.parseTimestamp)
        if request.created == nil || request.expires == nil {
            problems.append("wsse:Security/wsu:Timestamp needs both wsu:Created and wsu:Expires")
        } else if created == nil || expires == nil {
            problems.append("wsu:Created and wsu:Expires must be UTC timestamps like 2026-11-24T14:30:00Z")
        } else if let created, let expires {
            if expires <= now { problems.append("the message has expired (wsu:Expires \(request.expires ?? ""))") }
            if created > now.addingTimeInterval(clockSkew) {
                problems.append("wsu:Created is in the future (\(request.created ?? "")): check the sender's clock")
            }
            if created >= expires { problems.append("wsu:Created must be before wsu:Expires") }
        }
        if request.username?.isEmpty ?? true {
            problems.append("wsse:UsernameToken/wsse:Username is missing")
        }

        // Distribution Envelope
        guard request.service != nil || !request.payloadIDs.isEmpty else {
            problems.append("the SOAP Body holds no ITK Distribution Envelope")
            return problems
        }
        if let trackingID = request.trackingID {
            if !Self.isUpperCaseUUID(trackingID, allowingPrefix: nil) {
                problems.append("itk:header/@trackingid must be an upper-case UUID (got '\(trackingID)')")
            }
        } else {
            problems.append("itk:header/@trackingid is missing")
        }
        if request.manifestItemIDs.count != 1 || request.payloadIDs.count != 1 {
            problems.append("the Distribution Envelope must carry exactly one manifest item and one payload")
        } else if request.manifestItemIDs != request.payloadIDs {
            problems.append("the manifest item id must equal the payload id")
        } else if let id = request.payloadIDs.first, !(id.first?.isLetter ?? false) {
            problems.append("the payload id must start with a letter (it is an XML ID): use uuid_<UUID>")
        }
        if request.interaction != SMSPConstants.queryInteraction {
            problems.append("the handling specification's interaction must be \(SMSPConstants.queryInteraction)"
                + " (got \(request.interaction ?? "none"))")
        }

        // Payload
        guard let query = request.query else {
            problems.append("the payload must be a CP-ISQueryStub with a cP-ISNHSQuery (got \(request.payloadName ?? "none"))")
            return problems
        }
        if query.effectiveTime?.isEmpty ?? true { problems.append("cP-ISNHSQuery/effectiveTime is missing") }
        if query.id?.isEmpty ?? true { problems.append("cP-ISNHSQuery/id (the event id) is missing") }
        if query.nhsNumber?.isEmpty ?? true { problems.append("the NHS number (person.NHSnumber/value/@extension) is missing") }
        problems += query.missingFields.map { "the author's \($0) is missing" }
        return problems
    }

    static func isUpperCaseUUID(_ text: String, allowingPrefix prefix: String?) -> Bool {
        var text = Substring(text)
        if let prefix, text.hasPrefix(prefix) { text = text.dropFirst(prefix.count) }
        return UUID(uuidString: String(text)) != nil && text == text.uppercased()
    }

    static func parseTimestamp(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return withFraction.date(from: text) ?? ISO8601DateFormatter().date(from: text)
    }
}
