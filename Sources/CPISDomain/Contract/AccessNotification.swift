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
    /// after the worker holding it stopped without settling it (a kill mid-call), or an earlier
    /// attempt may have reached CP-IS without an answer coming back and the settings allowed asking
    /// again.
    public var possibleRepeat: Bool
    /// When this deployment is the SMSP and asked Spine itself: the audit record the SMSP provider
    /// requirements ask for.
    public var spine: SpineAudit?

    /// What the Spine leg records of a query it sent.
    public struct SpineAudit: Sendable, Hashable {
        /// Our query's `wsa:MessageID`, and Spine's answer's, where it sent one.
        public var queryMessageID: String
        public var answerMessageID: String?
        /// Our ASID, the query's sender, and our party key; Spine CP-IS's ASID, its receiver.
        public var asid: String
        public var partyKey: String?
        public var spineASID: String
        /// The author as sent to Spine (a system author without an ASID is sent with ours).
        public var author: Requester

        public init(queryMessageID: String, answerMessageID: String?, asid: String, partyKey: String?, spineASID: String,
                    author: Requester) {
            self.queryMessageID = queryMessageID
            self.answerMessageID = answerMessageID
            self.asid = asid
            self.partyKey = partyKey
            self.spineASID = spineASID
            self.author = author
        }
    }

    public init(requestId: String, nhsNumber: String, accessedAt: Date, requester: Requester,
                outcome: LookupResult.Outcome, localAuthoritiesNotified: [Organisation], possibleRepeat: Bool = false,
                spine: SpineAudit? = nil) {
        self.requestId = requestId
        self.nhsNumber = nhsNumber
        self.accessedAt = accessedAt
        self.requester = requester
        self.outcome = outcome
        self.localAuthoritiesNotified = localAuthoritiesNotified
        self.possibleRepeat = possibleRepeat
        self.spine = spine
    }

    /// `<requester ODS>.<local authority ODS>`, `none` when no local authority was notified; with
    /// several, the first (each plan's authority is listed in the body).
    public var routingKey: String {
        "\(requester.organisation.odsCode).\(localAuthoritiesNotified.first?.odsCode ?? "none")"
    }

    public func json() -> [UInt8] {
        var writer = JSONWriter(capacity: 512)
        writer.object { object in
            object.member("requestId", requestId)
            object.member("nhsNumber", nhsNumber)
            object.member("accessedAt", UTCTimestamp.string(accessedAt))
            object.member("requester") { $0.write(requester) }
            object.member("outcome", outcome.rawValue)
            object.member("localAuthoritiesNotified") { $0.array(localAuthoritiesNotified) { $0.write($1) } }
            object.member("possibleRepeat", possibleRepeat)
            if let spine {
                object.member("spine") { audit in
                    audit.object { fields in
                        fields.member("queryMessageId", spine.queryMessageID)
                        fields.member("answerMessageId", spine.answerMessageID)
                        fields.member("asid", spine.asid)
                        fields.member("partyKey", spine.partyKey)
                        fields.member("spineAsid", spine.spineASID)
                        fields.member("author") { $0.write(spine.author) }
                    }
                }
            }
        }
        return writer.bytes
    }
}
