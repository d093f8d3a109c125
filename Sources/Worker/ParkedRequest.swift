import AMQPClient
import CPISDomain
import Foundation

/// A request kept in the parking lot (`cpis.lookup.dead`), as `cpis dead` shows it to the engineer
/// on call: refused by a worker (the reason in `x-cpis-*` headers), or dead-lettered by the broker
/// (its reason in `x-death`).
public struct ParkedRequest: Sendable {
    /// The headers a worker puts on a request it parks.
    enum Header {
        static let errorKind = "x-cpis-error-kind"
        static let error = "x-cpis-error"
        static let lane = "x-cpis-lane"
        static let parkedAt = "x-cpis-parked-at"
        /// On a replayed request: the id it was parked under.
        static let replayOf = "x-cpis-replay-of"
    }

    public let requestId: String
    /// Whether the request had a `message_id` (without one, no result can be matched to it).
    public let hasRequestID: Bool
    /// The NHS number, masked, when the body has a valid one.
    public let maskedNHSNumber: String?
    public let lane: LookupLane?
    /// The contract's error kind for a refusal, or `expired` / `delivery-limit` for the broker's.
    public let kind: String
    public let reason: String
    public let parkedAt: Date?
    /// SMSP attempts made for it.
    public let attempts: Int
    /// Whether its sender has had its one answer (`rejected`, `expired` or `failed`): a refusal of a
    /// request with a reply-to, and every request the broker dead-lettered (the worker answers those
    /// from `cpis.lookup.unanswered`).
    public let wasAnswered: Bool

    public init(_ message: AMQPMessage, topology: WorkerTopology) {
        let properties = message.properties
        let headers = properties.headers
        requestId = properties.messageId ?? "(no message_id)"
        hasRequestID = !(properties.messageId ?? "").isEmpty
        maskedNHSNumber = (try? LookupRequest(json: message.body))?.nhsNumber.masked
        let latestDeath = LookupWorker.latestDeath(headers)
        if let kind = headers[Header.errorKind]?.stringValue {
            self.kind = kind
            reason = headers[Header.error]?.stringValue ?? ""
            wasAnswered = properties.replyTo != nil
            parkedAt = headers[Header.parkedAt]?.intValue.map { Date(timeIntervalSince1970: Double($0) / 1000) }
        } else {
            let death = LookupWorker.latestDeathReason(headers) ?? "unknown"
            kind = death.replacingOccurrences(of: "_", with: "-")
            reason = switch death {
            case "expired": "waited in its queue past its expiration; answered expired"
            case "delivery_limit": "handed to workers \(topology.deliveryLimit + 1) times without being settled; answered failed"
            default: "dead-lettered by the broker (\(death)); answered failed"
            }
            wasAnswered = true
            parkedAt = if case .timestamp(let time)? = latestDeath?["time"] { time } else { nil }
        }
        let queue = headers[Header.lane]?.stringValue ?? latestDeath?["queue"]?.stringValue
        lane = LookupLane.allCases.first { $0.rawValue == queue || topology.queue(for: $0) == queue }
        // Not x-delivery-count: in the parking lot that counts the looks at it (`cpis dead list`).
        attempts = Int(headers[LookupIntake.attemptsHeader]?.intValue ?? 0)
    }

    /// The request to send back to its lane. It gets a new message id, `<original>/replay-<8 hex>`,
    /// because workers remember the old one as answered and would not answer it again; its
    /// correlation id stays the original request's, so the EPR can match the new result. A direct
    /// reply-to address is dropped (the channel that asked is long gone), so the result goes to
    /// `cpis.lookup.results`. No expiration and no retry state: replaying is a new decision by a person.
    public func replay(of message: AMQPMessage) -> AMQPMessage {
        var replayed = message
        var properties = message.properties
        for name in [Header.errorKind, Header.error, Header.lane, Header.parkedAt, LookupIntake.attemptsHeader,
                     LookupIntake.deadlineHeader, "x-death", "x-first-death-exchange", "x-first-death-queue",
                     "x-first-death-reason", "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason",
                     "x-delivery-count"] {
            properties.headers[name] = nil
        }
        let original = message.properties.headers[Header.replayOf]?.stringValue ?? requestId
        properties.headers[Header.replayOf] = .string(original)
        properties.correlationId = properties.correlationId ?? original
        properties.messageId = "\(original)/replay-\(FreshUUID.string().prefix(8).lowercased())"
        if properties.replyTo?.hasPrefix(AMQPQueue.directReplyTo) == true { properties.replyTo = nil }
        properties.expiration = nil
        properties.timestamp = Date()
        replayed.properties = properties
        return replayed
    }
}
