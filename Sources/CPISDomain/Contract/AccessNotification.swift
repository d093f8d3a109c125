import Foundation

/// The contract's access notification (`message-contract.md`, "Access notification"): the local
/// audit record that a CP-IS access happened, and which local authorities CP-IS will have notified.
/// One per lookup that CP-IS answered (records found or no record); none for lookups that never
/// reached CP-IS.
public struct AccessNotification: Sendable, Hashable {
    public var requestId: String
    public var nhsNumber: String
    public var accessedAt: Date
    public var requester: Requester
    public var outcome: LookupResult.Outcome
    public var localAuthoritiesNotified: [Organisation]
    /// This query may repeat one already sent for the same request: the request was redelivered
    /// after the worker holding it stopped without settling it (a kill mid-call).
    public var possibleRepeat: Bool

    public init(requestId: String, nhsNumber: String, accessedAt: Date, requester: Requester,
                outcome: LookupResult.Outcome, localAuthoritiesNotified: [Organisation], possibleRepeat: Bool = false) {
        self.requestId = requestId
        self.nhsNumber = nhsNumber
        self.accessedAt = accessedAt
        self.requester = requester
        self.outcome = outcome
        self.localAuthoritiesNotified = localAuthoritiesNotified
        self.possibleRepeat = possibleRepeat
    }

    /// `<requester ODS>.<local authority ODS>`, `none` when no local authority was notified; with
    /// several, the first (each plan's authority is listed in the body).
    public var routingKey: String {
        "\(requester.organisation.odsCode).\(localAuthoritiesNotified.first?.odsCode ?? "none")"
    }

    public func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(Wire(self))) ?? Data())
    }

    private struct Wire: Encodable {
        var requestId: String
        var nhsNumber: String
        var accessedAt: String
        var requester: RequesterJSON
        var outcome: LookupResult.Outcome
        var localAuthoritiesNotified: [Organisation]
        var possibleRepeat: Bool

        init(_ notification: AccessNotification) {
            requestId = notification.requestId
            nhsNumber = notification.nhsNumber
            accessedAt = UTCTimestamp.string(notification.accessedAt)
            requester = RequesterJSON(notification.requester)
            outcome = notification.outcome
            localAuthoritiesNotified = notification.localAuthoritiesNotified
            possibleRepeat = notification.possibleRepeat
        }
    }
}
