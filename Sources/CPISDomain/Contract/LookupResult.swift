import Foundation

/// The contract's lookup result (`message-contract.md`, "Lookup result"): exactly one per request.
public struct LookupResult: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
        case recordsFound = "records-found"
        case noRecord = "no-record"
        /// Our validation or authorisation refused it: nothing was sent.
        case rejected
        /// The SMSP or CP-IS refused it, or it stayed unavailable through every retry.
        case failed
        /// Its deadline passed before an answer.
        case expired
    }

    public struct Failure: Sendable, Hashable, Codable {
        public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
            case invalidRequest = "invalid-request"
            case unauthorised
            case upstreamRejected = "upstream-rejected"
            case upstreamUnavailable = "upstream-unavailable"
            case timeout
            case expired
            /// The SMSP answered about another patient, or to another message: nothing of it was used.
            case wrongPatient = "wrong-patient"
        }
        public var kind: Kind
        /// What happened, in words a person can act on.
        public var message: String

        public init(kind: Kind, message: String) {
            self.kind = kind
            self.message = message
        }
    }

    public var requestId: String
    /// The ten digits; nil when the request carried no readable NHS number.
    public var nhsNumber: String?
    public var outcome: Outcome
    public var responseCode: ResponseCode?
    public var possiblyStale: Bool
    public var plans: [ProtectionPlan]
    public var accessHistory: [AccessRecord]
    public var attempts: Int
    public var completedAt: Date
    public var error: Failure?

    public init(requestId: String, nhsNumber: String?, outcome: Outcome, responseCode: ResponseCode? = nil,
                possiblyStale: Bool = false, plans: [ProtectionPlan] = [], accessHistory: [AccessRecord] = [],
                attempts: Int, completedAt: Date = Date(), error: Failure? = nil) {
        self.requestId = requestId
        self.nhsNumber = nhsNumber
        self.outcome = outcome
        self.responseCode = responseCode
        self.possiblyStale = possiblyStale
        self.plans = plans
        self.accessHistory = accessHistory
        self.attempts = attempts
        self.completedAt = completedAt
        self.error = error
    }

    /// The result for an answer the SMSP gave. A transient failure becomes `failed` /
    /// `upstream-unavailable`: call this for one only once retrying is over.
    public init(requestId: String, nhsNumber: String?, answer: CPISAnswer, attempts: Int, completedAt: Date = Date()) {
        let code = answer.responseCode
        switch answer.disposition {
        case .found:
            self.init(requestId: requestId, nhsNumber: nhsNumber, outcome: .recordsFound, responseCode: code,
                      plans: answer.plans, accessHistory: answer.accessHistory, attempts: attempts,
                      completedAt: completedAt)
        case .noRecord:
            self.init(requestId: requestId, nhsNumber: nhsNumber, outcome: .noRecord, responseCode: code,
                      accessHistory: answer.accessHistory, attempts: attempts, completedAt: completedAt)
        case .possiblyStale:
            self.init(requestId: requestId, nhsNumber: nhsNumber,
                      outcome: answer.plans.isEmpty ? .noRecord : .recordsFound, responseCode: code,
                      possiblyStale: true, plans: answer.plans, accessHistory: answer.accessHistory,
                      attempts: attempts, completedAt: completedAt)
        case .permanentFailure:
            self.init(requestId: requestId, nhsNumber: nhsNumber, outcome: .failed, responseCode: code,
                      attempts: attempts, completedAt: completedAt,
                      error: Failure(kind: .upstreamRejected, message: "\(code.code): \(code.meaning)"))
        case .transientFailure:
            self.init(requestId: requestId, nhsNumber: nhsNumber, outcome: .failed, responseCode: code,
                      attempts: attempts, completedAt: completedAt,
                      error: Failure(kind: .upstreamUnavailable,
                                     message: "\(code.code): \(code.meaning); still failing after \(attempts) attempt(s)"))
        }
    }
}
