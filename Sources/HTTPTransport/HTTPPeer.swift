/// Who sent a request to an ``HTTPServer``.
public struct HTTPPeer: Sendable, Hashable {
    /// The client's numeric address and port, e.g. "127.0.0.1:50312" or "[::1]:50312".
    public let address: String
    /// The subject of the client's certificate in RFC 2253 form, e.g.
    /// "CN=cpis-worker,O=CP-IS SMSP development,C=GB". Present only on a mutual-TLS server, where the
    /// handshake has verified the certificate against the configured client CA.
    public let certificateSubject: String?

    public init(address: String, certificateSubject: String?) {
        self.address = address
        self.certificateSubject = certificateSubject
    }
}
