import AMQPClient
import CPISDomain
import Foundation

/// A lookup that passed intake: valid, authorised, in time.
struct LookupJob: Sendable {
    var requestId: String
    var correlationId: String
    var replyTo: String?
    var lane: LookupLane
    var request: LookupRequest
    /// When the caller stops waiting (from the request's `expiration`, carried across retries).
    var deadline: Date?
    /// SMSP attempts already made (retries carry the count in a header).
    var attempts: Int
    /// An earlier attempt may have reached CP-IS without an answer coming back (a retry says so in
    /// a header): this query may repeat it.
    var mayRepeatEarlierAttempt = false
}

/// Why intake refused a request, in words its sender can act on.
struct IntakeRefusal: Sendable, Error {
    var kind: LookupResult.Failure.Kind
    var message: String
    /// What could be read of the request, for the result.
    var requestId: String
    var nhsNumber: String?
}

/// Who may act for which organisations: broker users (the `user_id` RabbitMQ verifies) to ODS codes.
public struct Authorisation: Sendable, Hashable {
    /// Nil: no configuration, every request allowed (local development only).
    public var odsCodesByUser: [String: Set<String>]?

    public init(odsCodesByUser: [String: Set<String>]?) {
        self.odsCodesByUser = odsCodesByUser
    }

    func check(userId: String?, odsCode: String) -> String? {
        guard let odsCodesByUser else { return nil }
        guard let userId, !userId.isEmpty else {
            return "the message has no user_id: publish with the broker user that sent it (RabbitMQ verifies it)"
        }
        guard let allowed = odsCodesByUser[userId] else {
            return "broker user '\(userId)' is not authorised to make CP-IS lookups"
        }
        guard allowed.contains(odsCode) else {
            return "broker user '\(userId)' may not act for organisation \(odsCode)"
        }
        return nil
    }
}

/// The checks every request passes before anything is sent: contract shape, authorisation, deadline.
public struct LookupIntake: Sendable {
    static let attemptsHeader = "x-cpis-attempts"
    /// The request's deadline in epoch milliseconds, where `expiration` cannot say it exactly (it
    /// counts from the broker's receipt; `timestamp` is whole seconds): set by the front door and on retries.
    public static let deadlineHeader = "x-cpis-deadline"
    /// On a retry whose earlier attempt may have reached CP-IS, and on a request `cpis batch`
    /// publishes again because an earlier run may have published it (public for that).
    public static let possibleRepeatHeader = "x-cpis-possible-repeat"
    /// What a request whose deadline passed before it was sent is answered (here, or just before the send).
    static let expiredMessage = "the request's deadline passed, or left too little time for CP-IS to answer, "
        + "before it could be sent: nothing was sent"

    var maximumBodyBytes: Int
    var authorisation: Authorisation

    enum Decision {
        case accept(LookupJob)
        case refuse(IntakeRefusal)
        /// The caller's patience ran out before anything was sent.
        case expired(IntakeRefusal)
    }

    /// - Parameters:
    ///   - receivedAt: when the delivery arrived (a caller's patience counts from then at the latest).
    ///   - now: when it is being decided.
    func decide(_ message: AMQPMessage, lane: LookupLane, receivedAt: Date? = nil, now: Date) -> Decision {
        let properties = message.properties
        let fallbackId = properties.messageId ?? "(no message_id)"
        func refuse(_ kind: LookupResult.Failure.Kind, _ message: String, nhsNumber: String? = nil) -> Decision {
            .refuse(IntakeRefusal(kind: kind, message: message, requestId: fallbackId, nhsNumber: nhsNumber))
        }
        guard let messageId = properties.messageId, !messageId.isEmpty else {
            return refuse(.invalidRequest, "the message has no message_id: give every request a unique one "
                + "(it identifies the request and is echoed as requestId)")
        }
        guard let contentType = properties.contentType,
              String(contentType.prefix(while: { $0 != ";" })).trimmed == "application/json"
        else {
            return refuse(.invalidRequest, "content_type must be application/json (got \(properties.contentType ?? "none"))")
        }
        guard message.body.count <= maximumBodyBytes else {
            return refuse(.invalidRequest, "the body is \(message.body.count) bytes; the limit is "
                + "\(maximumBodyBytes): send one lookup per message")
        }
        let request: LookupRequest
        do {
            request = try LookupRequest(json: message.body)
        } catch {
            return refuse(.invalidRequest, error.message)
        }
        if let problem = authorisation.check(userId: properties.userId, odsCode: request.requester.organisation.odsCode) {
            return refuse(.unauthorised, problem, nhsNumber: request.nhsNumber.digits)
        }
        let deadline = Self.deadline(properties, receivedAt: receivedAt ?? now)
        if let deadline, deadline <= now {
            return .expired(IntakeRefusal(kind: .expired, message: Self.expiredMessage, requestId: messageId,
                                          nhsNumber: request.nhsNumber.digits))
        }
        return .accept(LookupJob(
            requestId: messageId, correlationId: properties.correlationId ?? messageId, replyTo: properties.replyTo,
            lane: lane, request: request, deadline: deadline,
            attempts: Int(properties.headers[Self.attemptsHeader]?.intValue ?? 0),
            mayRepeatEarlierAttempt: properties.headers[Self.possibleRepeatHeader] == .bool(true)))
    }

    /// When the caller stops waiting. A retry carries the absolute deadline in a header. A first
    /// delivery's `expiration` (ms) counts from the request's AMQP `timestamp` where the publisher set
    /// one (so the time it waited in the queue counts), but never from later than its receipt (a
    /// publisher's clock running ahead); without a timestamp, from its receipt, the latest it can be.
    static func deadline(_ properties: AMQPProperties, receivedAt now: Date) -> Date? {
        if let milliseconds = properties.headers[deadlineHeader]?.intValue {
            return Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        }
        guard let expiration = properties.expiration, let milliseconds = Double(expiration) else { return nil }
        let start = properties.timestamp.map { min($0, now) } ?? now
        return start.addingTimeInterval(milliseconds / 1000)
    }
}
