/// An HTTP/1.1 response: what an ``HTTPClient`` returns and what an ``HTTPServer``'s handler answers.
public struct HTTPResponse: Sendable {
    /// The status code, e.g. 200.
    public var status: Int
    /// The reason phrase, e.g. "OK" (informational only: nothing should depend on it).
    public var reason: String
    /// The header fields. The server writes `Content-Length` (and `Connection: close` when it will
    /// close) itself and drops any `Content-Length` or `Transfer-Encoding` given here.
    public var headers: HTTPHeaders
    public var body: [UInt8]

    /// A response whose reason phrase defaults to the standard one for `status`.
    public init(status: Int, reason: String? = nil, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.reason = reason ?? Self.standardReason(status)
        self.headers = headers
        self.body = body
    }

    static func standardReason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }
}
