/// Writes HTTP/1.1 messages as bytes, shared by the client (requests) and the server (responses).
///
/// The framing headers are always computed here, never taken from the caller: `Content-Length` is
/// the body's real length and `Transfer-Encoding` is never sent, so a message cannot announce a
/// body different from the one sent. Header names must be tokens and values must not hold CR, LF or
/// NUL, which would let a value inject header lines.
enum HTTPSerializer {
    /// The request's head and body, with `Host` (unless given) and `Content-Length` added, or why
    /// it cannot be sent.
    static func request(_ request: HTTPRequest, host: String) -> Result<[UInt8], Invalid> {
        guard !request.method.isEmpty, request.method.utf8.allSatisfy(HTTPParser.isTokenCharacter) else {
            return .failure(Invalid("the method \"\(request.method)\" is not a token"))
        }
        guard request.target == "*" || request.target.hasPrefix("/"),
              request.target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else {
            return .failure(Invalid("the target \"\(request.target)\" is not a path (and query) without spaces"))
        }
        var headers = request.headers
        headers.remove(name: "Content-Length")
        headers.remove(name: "Transfer-Encoding")
        if headers["Host"] == nil { headers["Host"] = host }
        // A body-less POST still says so, or servers that insist on a length answer 411.
        if !request.body.isEmpty || !["GET", "HEAD", "DELETE", "OPTIONS", "TRACE"].contains(request.method) {
            headers.add(name: "Content-Length", value: String(request.body.count))
        }
        return message(startLine: "\(request.method) \(request.target) HTTP/1.1", headers: headers, body: request.body)
    }

    /// The response's head and, unless it answers a HEAD request, `bodyPrefix` bytes of its body
    /// (all of it by default; less to simulate a connection lost mid-body). `Content-Length` is always
    /// the full body's length; `Connection: close` is added when the server will close.
    static func response(_ response: HTTPResponse, answeringHEAD: Bool, closing: Bool, keepAliveHTTP10: Bool,
                         bodyPrefix: Int? = nil) -> Result<[UInt8], Invalid> {
        guard (100...999).contains(response.status) else {
            return .failure(Invalid("the status \(response.status) is not three digits"))
        }
        guard !response.reason.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 }) else {
            return .failure(Invalid("the reason phrase holds control characters"))
        }
        var headers = response.headers
        headers.remove(name: "Content-Length")
        headers.remove(name: "Transfer-Encoding")
        let hasBody = response.status >= 200 && response.status != 204
        if hasBody { headers.add(name: "Content-Length", value: String(response.body.count)) }
        if closing {
            if !headers.contains("Connection", token: "close") { headers.add(name: "Connection", value: "close") }
        } else if keepAliveHTTP10 {
            headers["Connection"] = "keep-alive"
        }
        let body = hasBody && !answeringHEAD ? response.body.prefix(bodyPrefix ?? response.body.count) : []
        return message(startLine: "HTTP/1.1 \(response.status) \(response.reason)", headers: headers, body: body)
    }

    /// A description of why a message cannot be written.
    struct Invalid: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    private static func message(startLine: String, headers: HTTPHeaders, body: some Collection<UInt8>) -> Result<[UInt8], Invalid> {
        var bytes = Array(startLine.utf8)
        bytes += crlf
        for field in headers {
            guard !field.name.isEmpty, field.name.utf8.allSatisfy(HTTPParser.isTokenCharacter) else {
                return .failure(Invalid("the header name \"\(field.name)\" is not a token"))
            }
            guard !field.value.utf8.contains(where: { $0 == 0 || $0 == 0x0A || $0 == 0x0D }) else {
                return .failure(Invalid("the value of header \(field.name) holds CR, LF or NUL"))
            }
            bytes += field.name.utf8
            bytes += ": ".utf8
            bytes += field.value.utf8
            bytes += crlf
        }
        bytes += crlf
        bytes += body
        return .success(bytes)
    }

    private static let crlf: [UInt8] = [0x0D, 0x0A]
}
