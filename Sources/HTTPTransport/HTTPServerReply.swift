/// What an ``HTTPServer`` does with a request once its handler has looked at it. Besides answering,
/// the server can misbehave on purpose, as the SMSP simulator needs to test a client's error paths.
public enum HTTPServerReply: Sendable {
    /// Sends the response. The connection stays open for the next request unless the request or the
    /// response says `Connection: close` (or the request is HTTP/1.0 without keep-alive).
    case respond(HTTPResponse)
    /// Never answers: holds the connection open until the client closes it or the server shuts down.
    case noResponse
    /// Sends the status line, the headers (with the full `Content-Length`) and about half the body,
    /// then resets the TCP connection (`SO_LINGER` 0 and close, so the client sees a reset, not a FIN).
    case resetMidBody(HTTPResponse)
    /// Closes the connection without answering.
    case close
}
