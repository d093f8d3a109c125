import CPISDomain
import Foundation
import HTTPTransport

/// Where an upstream (the SMSP, or Spine) takes its SOAP POSTs, and the send both clients make:
/// the deadline checked last thing before it, with the minimum call time as its floor (a query that
/// cannot be answered in time would still notify a local authority of an access nobody will see), the
/// call's timeout cut to what is left, and a transport failure turned into an outcome saying whether
/// the query may have reached CP-IS.
struct SOAPEndpoint {
    /// The endpoint's scheme, host and port (the connection pool's key), and its path and query:
    /// worked out once (Foundation's URL parts showed in profiles).
    private let server: HTTPEndpoint
    private let target: String
    /// Who is reached there, for messages ("the SMSP", "Spine").
    private let name: String
    /// The response code of a lookup that could not reach it (nil: the worker's own choice).
    private let unreachableCode: ResponseCode?

    init(_ url: URL, name: String, unreachableCode: ResponseCode?) throws(HTTPTransportError) {
        (server, target) = try HTTPEndpoint.serverAndTarget(of: url)
        self.name = name
        self.unreachableCode = unreachableCode
    }

    /// Opens `connections` connections in advance (see ``HTTPClient/warmUp(_:connections:within:)``);
    /// how many it opened.
    func warmUp(over http: HTTPClient, connections: Int, within timeout: Duration) -> Int {
        http.warmUp(server, connections: connections, within: timeout)
    }

    /// The send's result: the response to classify, or the outcome already decided.
    enum Sent {
        case response(HTTPResponse)
        case outcome(SMSPCallOutcome)
    }

    /// Sends `body` unless less than `minimumCallTime` is left until `deadline` (then nothing is sent).
    func post(_ body: String, soapAction: String, over http: HTTPClient, deadline: Date?, timeout: Duration,
              minimumCallTime: Duration) -> Sent {
        var timeout = timeout
        if let deadline {
            let left = deadline.timeIntervalSinceNow
            guard left > 0, left >= minimumCallTime.seconds else { return .outcome(.expiredBeforeSend) }
            timeout = min(timeout, .seconds(left))
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/xml; charset=utf-8")
        headers.add(name: "SOAPAction", value: soapAction)
        do {
            return .response(try http.execute(HTTPRequest(method: "POST", target: target, headers: headers, body: Array(body.utf8)),
                                              at: server, timeout: timeout))
        } catch {
            if !error.requestMayHaveBeenProcessed, let deadline, deadline.timeIntervalSinceNow <= 0 {
                return .outcome(.expiredBeforeSend)
            }
            return .outcome(.unavailable(message: "\(name) could not be reached: \(error)", responseCode: unreachableCode,
                                         maximumRetries: nil, timedOut: error.code == .timeout,
                                         mayHaveReachedCPIS: error.requestMayHaveBeenProcessed))
        }
    }
}
