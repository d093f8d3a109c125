import CPISDomain
import Foundation
import HTTPTransport

/// What CP-IS is asked through: another organisation's SMSP (``SMSPClient``, ITK SOAP), or Spine
/// itself when this deployment is the SMSP (``SpineClient``, HL7 V3).
protocol Upstream: Sendable {
    var http: HTTPClient { get }
    /// Where its queries go.
    var endpoint: SOAPEndpoint { get }
    /// Sends one query, unless less than `minimumCallTime` is left until `deadline` by the moment it
    /// is ready to go; the call's timeout is `timeout` or what is left until `deadline`, whichever is
    /// shorter. Blocking: call it from a Dispatch queue, never from Swift's cooperative pool.
    func call(_ request: LookupRequest, deadline: Date?, timeout: Duration, minimumCallTime: Duration) -> SMSPCallOutcome
}

extension Upstream {
    /// Opens up to `connections` connections in advance, within `timeout`; how many it opened.
    func warmUp(connections: Int, within timeout: Duration) -> Int {
        endpoint.warmUp(over: http, connections: connections, within: timeout)
    }
}

/// What one call to the upstream came to, classified for the worker (wire format, section 5).
enum SMSPCallOutcome: Sendable {
    /// CP-IS answered (records, no record, or possibly stale records); `spine` is the audit record
    /// of a query this deployment sent to Spine itself.
    case answered(CPISAnswer, spine: AccessNotification.SpineAudit? = nil)
    /// The SMSP or CP-IS refused the request: answer at once, never retry.
    case rejected(message: String, responseCode: ResponseCode?)
    /// Worth retrying; `maximumRetries` caps it where the response code says so. `timedOut` when no
    /// answer came in time. `mayHaveReachedCPIS` when the query may have been processed (and the
    /// local authority notified) although no answer came back: a timeout or a reset after sending.
    case unavailable(message: String, responseCode: ResponseCode?, maximumRetries: Int?, timedOut: Bool,
                     mayHaveReachedCPIS: Bool = false)
    /// Our own checks refused the request before sending (it lacks what Spine requires).
    case notSent(message: String)
    /// The caller's deadline had passed, or left less than the minimum call time, when the request
    /// was ready to go: nothing was sent.
    case expiredBeforeSend
    /// The SMSP answered about someone else (a record for another NHS number, or an answer to
    /// another message): nothing of it may reach the result.
    case wrongPatient(message: String)
}

/// Calls the SMSP: builds the SOAP request, POSTs it over mutual TLS on a keep-alive connection,
/// and reads the answer. Blocking: call it from a Dispatch queue, never from Swift's cooperative pool.
struct SMSPClient: Upstream {
    let http: HTTPClient
    let builder: SMSPRequestBuilder
    /// When set, every request is validated against the NHS schemas before it is sent.
    let validator: SMSPSchemaValidator?
    let endpoint: SOAPEndpoint

    /// - Throws: ``HTTPTransportError/Code/invalidRequest`` for an endpoint that is not `http` or `https`.
    init(http: HTTPClient, endpoint: URL, builder: SMSPRequestBuilder, validator: SMSPSchemaValidator?) throws(HTTPTransportError) {
        self.http = http
        self.builder = builder
        self.validator = validator
        self.endpoint = try SOAPEndpoint(endpoint, name: "the SMSP", unreachableCode: nil)
    }

    func call(_ request: LookupRequest, deadline: Date?, timeout: Duration, minimumCallTime: Duration) -> SMSPCallOutcome {
        let soap: SMSPRequest
        do {
            soap = try builder.build(nhsNumber: request.nhsNumber, requester: request.requester)
            try validator?.validate(request: soap)
        } catch let error as SMSPRequestError {
            return .notSent(message: error.description)
        } catch {
            return .notSent(message: "the request does not conform to the NHS schemas: \(error)")
        }
        switch endpoint.post(soap.body, soapAction: soap.soapAction, over: http, deadline: deadline, timeout: timeout,
                             minimumCallTime: minimumCallTime) {
        case .outcome(let outcome): return outcome
        case .response(let response): return Self.classify(response, asked: soap.messageID, about: request.nhsNumber)
        }
    }

    /// Classifies a response to the query `messageID` about `nhsNumber`.
    static func classify(_ response: HTTPResponse, asked messageID: String, about nhsNumber: NHSNumber) -> SMSPCallOutcome {
        let smspResponse: SMSPResponse
        do {
            smspResponse = try SMSPResponseReader.read(response.body)
        } catch let error where error.code == .soapFault {
            return error.isTransient
                ? .unavailable(message: error.message, responseCode: nil, maximumRetries: nil, timedOut: false)
                : .rejected(message: error.message, responseCode: nil)
        } catch {
            if response.status >= 500 || response.status == 429 || error.isTransient {
                return .unavailable(message: "HTTP \(response.status) from the SMSP: \(error.message)", responseCode: nil,
                                    maximumRetries: nil, timedOut: false)
            }
            return .rejected(message: "HTTP \(response.status) from the SMSP: \(error.message)", responseCode: nil)
        }
        if let problem = mismatch(smspResponse, asked: messageID, about: nhsNumber) {
            return .wrongPatient(message: problem)
        }
        let answer = smspResponse.answer
        switch answer.disposition {
        case .found, .noRecord, .possiblyStale:
            return .answered(answer)
        case .permanentFailure:
            return .rejected(message: "\(answer.responseCode.code): \(answer.responseCode.meaning)",
                             responseCode: answer.responseCode)
        case .transientFailure(let maximumRetries):
            return .unavailable(message: "\(answer.responseCode.code): \(answer.responseCode.meaning)",
                                responseCode: answer.responseCode, maximumRetries: maximumRetries, timedOut: false)
        }
    }

    /// Why the response is not the answer to this query about this patient, or nil when it is:
    /// `wsa:RelatesTo`, where sent, names our MessageID, and every record's subject carries the
    /// requested NHS number (the child's own, or the mother's for an unborn child).
    ///
    /// A subject with no NHS number at all is refused too, even in an answer tied to our query by its
    /// ids, unless `allowingUnnumbered` (the Spine leg, where the rest of the answer vouches for it):
    /// nothing else shows the record is the child's.
    static func mismatch(_ response: SMSPResponse, asked messageID: String, about nhsNumber: NHSNumber,
                         allowingUnnumbered: Bool = false) -> String? {
        if let relatesTo = response.relatesTo, relatesTo != messageID {
            return "the SMSP's answer relates to another message (wsa:RelatesTo \(relatesTo), not our \(messageID)): "
                + "it may be another patient's answer, so none of it is used"
        }
        if let problem = response.answer.plans.notAbout(nhsNumber, allowingUnnumbered: allowingUnnumbered) {
            return "the SMSP returned a record for a different patient (\(problem)): none of the answer is used; "
                + "report it to the SMSP's service desk"
        }
        return nil
    }
}
