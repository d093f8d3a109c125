import CPISDomain
import Foundation
import HTTPTransport

/// What one SMSP call came to, classified for the worker (wire format, section 5).
enum SMSPCallOutcome: Sendable {
    /// CP-IS answered (records, no record, or possibly stale records).
    case answered(CPISAnswer)
    /// The SMSP or CP-IS refused the request: answer at once, never retry.
    case rejected(message: String, responseCode: ResponseCode?)
    /// Worth retrying; `maximumRetries` caps it where the response code says so. `timedOut` when no
    /// answer came in time.
    case unavailable(message: String, responseCode: ResponseCode?, maximumRetries: Int?, timedOut: Bool)
    /// Our own checks refused the request before sending (it lacks what Spine requires).
    case notSent(message: String)
}

/// Calls the SMSP: builds the SOAP request, POSTs it over mutual TLS on a keep-alive connection,
/// and reads the answer. Blocking: call it from a Dispatch queue, never from Swift's cooperative pool.
struct SMSPClient: Sendable {
    let http: HTTPClient
    let endpoint: URL
    let builder: SMSPRequestBuilder
    /// When set, every request is validated against the NHS schemas before it is sent.
    let validator: SMSPSchemaValidator?

    func call(_ request: LookupRequest, timeout: Duration) -> SMSPCallOutcome {
        let soap: SMSPRequest
        do {
            soap = try builder.build(nhsNumber: request.nhsNumber, requester: request.requester)
            try validator?.validate(request: soap)
        } catch let error as SMSPRequestError {
            return .notSent(message: error.description)
        } catch {
            return .notSent(message: "the request does not conform to the NHS schemas: \(error)")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/xml; charset=utf-8")
        headers.add(name: "SOAPAction", value: soap.soapAction)
        let response: HTTPResponse
        do {
            response = try http.execute(
                HTTPRequest(method: "POST", target: Self.target(endpoint), headers: headers, body: Array(soap.body.utf8)),
                url: Self.origin(endpoint), timeout: timeout)
        } catch {
            return .unavailable(message: "the SMSP could not be reached: \(error)", responseCode: nil,
                                maximumRetries: nil, timedOut: error.code == .timeout)
        }
        return Self.classify(response)
    }

    static func classify(_ response: HTTPResponse) -> SMSPCallOutcome {
        let answer: CPISAnswer
        do {
            answer = try SMSPResponseReader.read(response.body).answer
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

    /// Scheme, host and port: the connection pool's key.
    private static func origin(_ url: URL) -> URL {
        var components = URLComponents()
        components.scheme = url.scheme
        components.host = url.host
        components.port = url.port
        return components.url ?? url
    }

    private static func target(_ url: URL) -> String {
        let path = url.path.isEmpty ? "/" : url.path
        return url.query.map { "\(path)?\($0)" } ?? path
    }
}
