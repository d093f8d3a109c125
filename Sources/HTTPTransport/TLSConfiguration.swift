/// The TLS settings of a client or server: PEM file paths, nothing loaded yet.
///
/// TLS 1.2 is the minimum version. A client always verifies the server's certificate chain against
/// ``caFile`` (there is deliberately no switch to turn that off) and, unless ``verifyHostname`` is
/// `false`, that the certificate names the host of the URL. A server with a ``caFile`` requires
/// mutual TLS: a client without a certificate signed by that CA fails the handshake.
///
/// The files are read when an ``HTTPClient`` or ``HTTPServer`` is made (or by ``validate()``), so a
/// wrong path or a key that does not match its certificate is reported at start-up, not on the first
/// request.
public struct TLSConfiguration: Sendable, Hashable {
    enum Role: Hashable {
        case client, server
    }

    let role: Role
    /// The certificate (chain) presented to the peer: required for a server, optional for a client.
    public let certificateFile: String?
    /// The private key of ``certificateFile``.
    public let keyFile: String?
    /// The CA certificates that the peer's certificate must chain to: for a client, the server's CA;
    /// for a server, the CA of the client certificates it requires (`nil`: no client certificates).
    public let caFile: String?
    /// Whether a client checks that the server's certificate names the URL's host (a DNS name or an
    /// IP address in its subjectAltName). A client sends a DNS name as SNI either way. Always `false`
    /// for a server.
    public let verifyHostname: Bool

    /// A server presenting `certificateFile`; with `clientCAFile`, clients must present a
    /// certificate signed by one of its CAs (mutual TLS).
    public static func server(certificateFile: String, keyFile: String, clientCAFile: String? = nil) -> TLSConfiguration {
        TLSConfiguration(role: .server, certificateFile: certificateFile, keyFile: keyFile, caFile: clientCAFile,
                         verifyHostname: false)
    }

    /// A client trusting the CAs in `caFile`, presenting `certificateFile` when the server asks for
    /// one (give both `certificateFile` and `keyFile`, or neither).
    public static func client(caFile: String, certificateFile: String? = nil, keyFile: String? = nil,
                              verifyHostname: Bool = true) -> TLSConfiguration {
        TLSConfiguration(role: .client, certificateFile: certificateFile, keyFile: keyFile, caFile: caFile,
                         verifyHostname: verifyHostname)
    }

    /// Reads and checks the files as a client or server would, throwing
    /// ``HTTPTransportError/Code/invalidConfiguration`` with the reason (for a start-up check).
    public func validate() throws(HTTPTransportError) {
        _ = try TLSContext(self)
    }
}
