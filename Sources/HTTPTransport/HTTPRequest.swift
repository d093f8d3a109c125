/// An HTTP/1.1 request: what an ``HTTPClient`` sends and what an ``HTTPServer``'s handler receives.
public struct HTTPRequest: Sendable {
    /// "GET", "POST", ...
    public var method: String
    /// The path and query, e.g. "/smsp/pds?x=1" (origin form).
    public var target: String
    /// The header fields. The client writes `Host` (unless given) and `Content-Length` itself, and
    /// drops any `Content-Length` or `Transfer-Encoding` given here.
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(method: String = "GET", target: String = "/", headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }
}
