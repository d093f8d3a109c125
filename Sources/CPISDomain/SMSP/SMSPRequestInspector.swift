import Foundation
import Synchronization

/// The checks the NHS test tool makes of a CP-IS query before it answers: transport header,
/// WS-Addressing, WS-Security, Distribution Envelope and the payload's mandatory fields. Every
/// problem is named, so a developer integrating against the simulator, or a care provider's system
/// calling the front door, knows what to fix. Both make these checks with this one inspector.
public struct SMSPRequestInspector: Sendable {
    /// When set, `wsa:To` must equal it.
    public var expectedTo: String?
    /// Allowed clock difference between the sender's `wsu:Created` and ours.
    public var clockSkew: TimeInterval = 300

    public init(expectedTo: String? = nil) {
        self.expectedTo = expectedTo
    }

    /// Every problem with the request, in words; empty when it passes.
    public func problems(soapAction: String?, request: SMSPIncomingRequest, now: Date) -> [String] {
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
        // Read by our own reader only, never a Foundation formatter: ICU died on hostile input.
        let created = request.created.flatMap(UTCTimestamp.date)
        let expires = request.expires.flatMap(UTCTimestamp.date)
        if request.created == nil || request.expires == nil {
            problems.append("wsse:Security/wsu:Timestamp needs both wsu:Created and wsu:Expires")
        } else if created == nil || expires == nil {
            problems.append("wsu:Created and wsu:Expires must be timestamps with their zone, like 2026-11-24T14:30:00Z or 2026-11-24T14:30:00+00:00")
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

    public static func isUpperCaseUUID(_ text: String, allowingPrefix prefix: String?) -> Bool {
        var text = Substring(text)
        if let prefix, text.hasPrefix(prefix) { text = text.dropFirst(prefix.count) }
        return UUID(uuidString: String(text)) != nil && text == text.uppercased()
    }
}

/// The message ids seen within a window, so that a reused `wsa:MessageID` is refused (the NHS test
/// tool refuses reuse; a replayed message must not be answered as a new one). Thread-safe.
public final class SeenMessageIDs: Sendable {
    private struct State {
        var seen: [String: Date] = [:]
        /// Ids in the order first seen, with when: the oldest are forgotten first.
        var order: [(id: String, at: Date)] = []
        var orderStart = 0
    }
    private let state = Mutex(State())
    private let window: TimeInterval
    private let capacity: Int

    /// Remembers ids for `window`, and at most `capacity` of them (the oldest are forgotten first).
    public init(window: TimeInterval, capacity: Int) {
        self.window = window
        self.capacity = capacity
    }

    /// Records `id`; false when it was already seen within the window.
    public func firstUse(of id: String, at now: Date) -> Bool {
        state.withLock { state in
            // Forget what has left the window or is over capacity.
            while state.orderStart < state.order.count {
                let oldest = state.order[state.orderStart]
                guard oldest.at < now.addingTimeInterval(-window) || state.order.count - state.orderStart > capacity
                else { break }
                if state.seen[oldest.id] == oldest.at { state.seen[oldest.id] = nil }
                state.orderStart += 1
            }
            if state.orderStart > 1024, state.orderStart * 2 > state.order.count {
                state.order.removeFirst(state.orderStart)
                state.orderStart = 0
            }
            guard state.seen[id] == nil else { return false }
            state.seen[id] = now
            state.order.append((id, now))
            return true
        }
    }

    public func forgetAll() {
        state.withLock { $0 = State() }
    }
}
