/// Whole messages, as ``HTTPServer`` reads requests and ``HTTPClient`` reads responses, from any
/// ``ByteSource``: the one place these steps are written, so that ``HTTPMessageReader`` (the fuzz
/// targets' entry) reads exactly as the server and the client do.
extension HTTPParser {
    /// A request read from a connection, with what its head says about the connection.
    struct ReceivedRequest {
        let request: HTTPRequest
        let keepAlive: Bool
        let isHTTP10: Bool
    }

    /// Reads the next request; `nil` if the stream ended cleanly before its first byte.
    /// - Parameter sendContinue: called when the client asked to wait for "100 Continue" before
    ///   sending the body, and none of it has come yet (the server writes it; curl waits for it).
    mutating func readRequest(from source: some ByteSource, maximumBodyBytes: Int, deadline: Deadline,
                              sendContinue: () throws(Failure) -> Void) throws(Failure) -> ReceivedRequest? {
        guard let head = try readHead(from: source, deadline: deadline) else { return nil }
        let line = try Self.requestLine(head)
        let framing = try Self.requestFraming(head.headers)
        if case .length(let length) = framing, length > maximumBodyBytes { throw .bodyTooLarge }
        if framing != .none, line.version == "HTTP/1.1", head.headers.contains("Expect", token: "100-continue"),
           !hasBufferedBytes {
            try sendContinue()
        }
        let body = try readBody(framing, limit: maximumBodyBytes, from: source, deadline: deadline)
        return ReceivedRequest(request: HTTPRequest(method: line.method, target: line.target, headers: head.headers, body: body),
                               keepAlive: Self.keepsAlive(version: line.version, headers: head.headers),
                               isHTTP10: line.version == "HTTP/1.0")
    }

    /// Reads the response to a request with `method`: interim (1xx) responses skipped, the body
    /// framed as RFC 9112 section 6.3 says for that method. `reusable`: the connection may carry
    /// another request.
    mutating func readResponse(answering method: String, from source: some ByteSource, maximumBodyBytes: Int,
                               deadline: Deadline) throws(Failure) -> (response: HTTPResponse, reusable: Bool) {
        while true {
            guard let head = try readHead(from: source, deadline: deadline) else { throw .truncated }
            let line = try Self.statusLine(head)
            if (100..<200).contains(line.status) {
                // 101 Switching Protocols would hand the connection to another protocol: never asked for.
                guard line.status != 101 else { throw .malformed("unexpected 101 Switching Protocols") }
                continue
            }
            let framing = try Self.responseFraming(status: line.status, requestMethod: method, headers: head.headers)
            let body = try readBody(framing, limit: maximumBodyBytes, from: source, deadline: deadline)
            let response = HTTPResponse(status: line.status, reason: line.reason, headers: head.headers, body: body)
            return (response, framing != .untilClose && Self.keepsAlive(version: line.version, headers: head.headers))
        }
    }
}
