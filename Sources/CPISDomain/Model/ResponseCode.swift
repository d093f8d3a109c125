/// The SMSP response code (code system 2.16.840.1.113883.2.1.3.2.4.17.499) and what it means for us.
public struct ResponseCode: Sendable, Hashable {
    public let code: String
    /// As the SMSP sent it (the NHS test tool's wording is not always the code's meaning: it calls
    /// SMSP-0003 "No Match (NRF)").
    public let displayName: String

    public init(code: String, displayName: String) {
        self.code = code
        self.displayName = displayName
    }

    // The codes with the NHS test tool's display names (its response templates'), which the SMSP
    // simulator answers with and the front door answers with where no upstream answer gives its own.
    public static let success = ResponseCode(code: "SMSP-0000", displayName: "Success")
    public static let noMatch = ResponseCode(code: "CPIS-0001", displayName: "No Match (NRF)")
    public static let inputValidationError = ResponseCode(code: "SMSP-0001", displayName: "Input message validation error")
    public static let responseValidationError = ResponseCode(code: "SMSP-0002", displayName: "Response message validation error")
    /// The test tool's own wording for SMSP-0003, kept as it is.
    public static let localStoreOnly = ResponseCode(code: "SMSP-0003", displayName: "No Match (NRF)")
    public static let spineUnavailable = ResponseCode(code: "SMSP-0004", displayName: "Could not connect to spine")
    public static let authorCredentialsError = ResponseCode(code: "SMSP-0005", displayName: "Author Credentials Error")
    public static let softwareFailure = ResponseCode(code: "SMSP-9999", displayName: "Spine mini service provider software failure")
    public static let cpisServiceError = ResponseCode(code: "CPIS-9999", displayName: "CP-IS Spine Service Error")

    /// What the worker should do with an answer carrying this code (wire format, section 5).
    public var disposition: Disposition {
        switch code {
        case "SMSP-0000": .found
        case "CPIS-0001": .noRecord
        case "SMSP-0003": .possiblyStale
        case "SMSP-0001", "SMSP-0005": .permanentFailure
        case "SMSP-0002": .transientFailure(maximumRetries: 1)
        case "SMSP-0004", "SMSP-9999", "CPIS-9999": .transientFailure(maximumRetries: nil)
        // A code we do not know: not safe to retry blindly (it may not be idempotent for the social
        // worker who gets the notification), and not an answer either.
        default: .permanentFailure
        }
    }

    /// The code's documented meaning, for people reading results.
    public var meaning: String {
        switch code {
        case "SMSP-0000": "Success: records (and history) returned"
        case "CPIS-0001": "No match: the NHS number is not on CP-IS"
        case "SMSP-0001": "Input message validation error: the SMSP rejected the request"
        case "SMSP-0002": "Response message validation error: the SMSP could not validate Spine's answer"
        case "SMSP-0003": "Data returned from the SMSP's local store: Spine unavailable, may be out of date"
        case "SMSP-0004": "The SMSP could not connect to Spine"
        case "SMSP-0005": "Author credentials error: the SMSP refused the requesting user or system"
        case "SMSP-9999": "SMSP software failure"
        case "CPIS-9999": "CP-IS service error"
        default: "Unknown response code \(code) (\(displayName))"
        }
    }
}

/// The outcome classes of an SMSP answer.
public enum Disposition: Sendable, Hashable {
    /// Records returned: publish them.
    case found
    /// Not on CP-IS: a normal outcome, not an error.
    case noRecord
    /// Records from the SMSP's local store while Spine was unavailable: publish, flagged.
    case possiblyStale
    /// The request itself or its author was refused: answer at once, never retry.
    case permanentFailure
    /// Worth retrying with backoff; `maximumRetries` caps it where the code says so (nil: until the
    /// attempts or the deadline run out).
    case transientFailure(maximumRetries: Int?)

    /// Whether CP-IS answered the query (and so notified the local authority).
    public var isAnswer: Bool {
        switch self {
        case .found, .noRecord, .possiblyStale: true
        case .permanentFailure, .transientFailure: false
        }
    }
}
