/// Why an SMSP response could not be turned into an answer. Every unreadable response ends here,
/// typed, with a message a support engineer can act on: nothing in reading one may crash.
public struct SMSPResponseError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case unreadable = "unreadable response"
            case notSOAP = "not a SOAP response"
            case soapFault = "SOAP fault"
            case wrongPayload = "wrong payload"
            case malformedAnswer = "malformed answer"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// Not XML at all: empty, truncated, an HTML error page, binary, or over the size limit.
        public static let unreadable = Code(.unreadable)
        /// XML, but neither a SOAP envelope nor a Distribution Envelope.
        public static let notSOAP = Code(.notSOAP)
        /// The SMSP answered with a SOAP Fault (see `fault`).
        public static let soapFault = Code(.soapFault)
        /// A Distribution Envelope whose payload is not a `CP-ISNHSQueryResponse`.
        public static let wrongPayload = Code(.wrongPayload)
        /// A `CP-ISNHSQueryResponse` lacking something it must have (response code, a plan's dates or
        /// local authority) or carrying a value that cannot be read (a date that is not a date).
        public static let malformedAnswer = Code(.malformedAnswer)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String
    /// Set for ``Code/soapFault``.
    public let fault: SOAPFault?

    public init(_ code: Code, _ message: String, fault: SOAPFault? = nil) {
        self.code = code
        self.message = message
        self.fault = fault
    }

    /// Whether trying again may help: a Server fault or a garbled transmission may pass; a Client
    /// fault, or an answer of the wrong kind, will not.
    public var isTransient: Bool {
        switch code {
        case .soapFault: fault?.isClientFault == false
        case .unreadable: true
        default: false
        }
    }

    public var description: String { "\(code): \(message)" }
}

/// A SOAP 1.1 Fault, with the ITK toolkit's error details when present.
public struct SOAPFault: Sendable, Hashable, CustomStringConvertible {
    /// `soap:Client`, `soap:Server`, ... (prefix as sent).
    public var faultCode: String
    public var faultString: String
    /// `ToolkitErrorInfo/ErrorID`.
    public var errorID: String?
    /// `ToolkitErrorInfo/ErrorCode` (code system 2.16.840.1.113883.2.1.3.2.4.17.268: 1000, 2100, 2200, 3000, ...).
    public var errorCode: String?
    public var errorText: String?
    public var errorDiagnosticText: String?

    public init(faultCode: String, faultString: String, errorID: String? = nil, errorCode: String? = nil,
                errorText: String? = nil, errorDiagnosticText: String? = nil) {
        self.faultCode = faultCode
        self.faultString = faultString
        self.errorID = errorID
        self.errorCode = errorCode
        self.errorText = errorText
        self.errorDiagnosticText = errorDiagnosticText
    }

    /// The NHS test tool's Client fault for a request with these problems (error 1000, "Invalid
    /// message"), as the simulator and the front door answer one.
    public static func client(problems: [String]) -> SOAPFault {
        SOAPFault(faultCode: "soap:Client", faultString: "A client related error has occurred, see detail element",
                  errorID: FreshUUID.string(), errorCode: "1000", errorText: "Invalid message",
                  errorDiagnosticText: problems.joined(separator: "; "))
    }

    /// A Client fault means our request was at fault: permanent.
    public var isClientFault: Bool {
        faultCode.split(separator: ":").last.map { $0.hasPrefix("Client") } ?? false
    }

    public var description: String {
        var text = "\(faultCode): \(faultString)"
        if let errorCode { text += " [ITK error \(errorCode)" + (errorText.map { ": \($0)" } ?? "") + "]" }
        if let errorDiagnosticText { text += " (\(errorDiagnosticText))" }
        return text
    }
}
