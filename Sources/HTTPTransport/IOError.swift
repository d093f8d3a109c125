/// How a socket or TLS operation failed, before the client or server decides what it means for the
/// exchange (which ``HTTPTransportError`` code, whether the request may have been processed).
enum IOError: Error {
    /// The deadline passed first.
    case timedOut
    /// The peer reset the connection or it is otherwise gone (ECONNRESET, EPIPE).
    case reset(String)
    /// The peer rejected our TLS handshake with a fatal alert that arrived after our side of the
    /// handshake had finished (TLS 1.3 clients learn only then that the server refused their certificate).
    case tlsRejectedByPeer(String)
    /// TLS failed: OpenSSL's reasons, e.g. "certificate verify failed: IP address mismatch".
    case tls(String)
    /// Any other system call failure, with its `strerror` text.
    case system(String)

    var detail: String {
        switch self {
        case .timedOut: "timed out"
        case .reset(let detail), .tlsRejectedByPeer(let detail), .tls(let detail), .system(let detail): detail
        }
    }
}
