internal import COpenSSL
import Foundation

/// A loaded ``TLSConfiguration``: one OpenSSL `SSL_CTX`, from which every connection of a client or
/// server makes its `SSL` object.
///
/// Sendable because the `SSL_CTX` is never changed after `init`, and OpenSSL allows any number of
/// threads to make `SSL` objects from a configured context at once.
final class TLSContext: @unchecked Sendable {
    let configuration: TLSConfiguration
    /// The `SSL_CTX`.
    let context: OpaquePointer

    /// Reads the certificate, key and CA files, throwing ``HTTPTransportError/Code/invalidConfiguration``
    /// with a reason a person can act on.
    init(_ configuration: TLSConfiguration) throws(HTTPTransportError) {
        self.configuration = configuration
        let method = configuration.role == .server ? TLS_server_method() : TLS_client_method()
        guard let context = SSL_CTX_new(method) else {
            throw Self.invalid("OpenSSL cannot make a TLS context: \(OpenSSLError.drain())")
        }
        do throws(HTTPTransportError) {
            try Self.configure(context, configuration)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        self.context = context
    }

    // The one C call in a deinit: the context is shared by the client or server and all its
    // connections on their threads, so ARC is what knows when the last user is gone. (OpenSSL also
    // counts references: an `SSL` made from the context keeps it alive until `SSL_free`.)
    deinit {
        SSL_CTX_free(context)
    }

    private static func configure(_ context: OpaquePointer, _ configuration: TLSConfiguration) throws(HTTPTransportError) {
        guard cpis_ssl_ctx_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            throw invalid("OpenSSL refused TLS 1.2 as the minimum version: \(OpenSSLError.drain())")
        }
        // Partial writes let a non-blocking write report progress; the moving buffer lets a retried
        // write pass the rest of a Swift array, whose address may differ from the previous attempt.
        _ = cpis_ssl_ctx_set_mode(context, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))

        switch (configuration.certificateFile, configuration.keyFile) {
        case let (certificate?, key?):
            try loadIdentity(context, certificateFile: certificate, keyFile: key)
        case (nil, nil) where configuration.role == .client:
            break
        case (nil, nil):
            throw invalid("a TLS server needs a certificate file and a key file")
        default:
            throw invalid("give both a certificate file and a key file, or neither")
        }

        switch configuration.role {
        case .client:
            guard let caFile = configuration.caFile else { throw invalid("a TLS client needs a CA file") }
            try loadTrustedCAs(context, caFile)
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        case .server:
            if let caFile = configuration.caFile {
                try loadTrustedCAs(context, caFile)
                // Tells clients which CAs' certificates the server accepts.
                SSL_CTX_set_client_CA_list(context, SSL_load_client_CA_file(caFile))
                SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
            }
            // No session resumption: connections are kept alive instead, and every handshake then
            // verifies the client certificate afresh (a resumed session needs a session id context too).
            _ = cpis_ssl_ctx_set_session_cache_mode(context, Int(SSL_SESS_CACHE_OFF))
            _ = SSL_CTX_set_num_tickets(context, 0)
        }
    }

    private static func loadIdentity(_ context: OpaquePointer, certificateFile: String, keyFile: String) throws(HTTPTransportError) {
        try requireReadable(certificateFile, "certificate")
        try requireReadable(keyFile, "key")
        guard SSL_CTX_use_certificate_chain_file(context, certificateFile) == 1 else {
            throw invalid("\(certificateFile) is not a usable PEM certificate: \(OpenSSLError.drain())")
        }
        // Loading the key also compares it with the certificate loaded above.
        guard SSL_CTX_use_PrivateKey_file(context, keyFile, SSL_FILETYPE_PEM) == 1 else {
            let codes = OpenSSLError.takeAll()
            if codes.contains(where: { ERR_GET_LIB($0) == ERR_LIB_X509 && ERR_GET_REASON($0) == X509_R_KEY_VALUES_MISMATCH }) {
                throw invalid("the key in \(keyFile) does not match the certificate in \(certificateFile)")
            }
            throw invalid("\(keyFile) is not a usable unencrypted PEM private key: \(OpenSSLError.describe(codes))")
        }
    }

    private static func loadTrustedCAs(_ context: OpaquePointer, _ caFile: String) throws(HTTPTransportError) {
        try requireReadable(caFile, "CA")
        guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
            throw invalid("\(caFile) holds no usable PEM CA certificate: \(OpenSSLError.drain())")
        }
    }

    private static func requireReadable(_ path: String, _ kind: String) throws(HTTPTransportError) {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw invalid("cannot read the \(kind) file \(path): it is missing or not readable by this user")
        }
    }

    private static func invalid(_ message: String) -> HTTPTransportError {
        HTTPTransportError(.invalidConfiguration, message)
    }
}

/// OpenSSL reports failures in a per-thread queue of error codes.
enum OpenSSLError {
    /// Empties this thread's queue into readable text ("" when it was empty).
    static func drain() -> String {
        describe(takeAll())
    }

    /// Empties this thread's queue before an `SSL_*` call, so that `SSL_get_error` reads only that
    /// call's errors. Looking first is cheaper than clearing, and the queue is nearly always empty:
    /// every failure handled here takes its errors.
    static func clearStale() {
        if ERR_peek_error() != 0 { ERR_clear_error() }
    }

    /// Empties this thread's queue.
    static func takeAll() -> [UInt] {
        var codes: [UInt] = []
        while case let code = ERR_get_error(), code != 0 {
            codes.append(code)
        }
        return codes
    }

    /// OpenSSL's reasons for the codes, e.g. "certificate verify failed", without repeats.
    static func describe(_ codes: [UInt]) -> String {
        var reasons: [String] = []
        for code in codes {
            let reason = ERR_reason_error_string(code).map { String(cString: $0) }
                ?? "OpenSSL error \(String(code, radix: 16))"
            if !reasons.contains(reason) { reasons.append(reason) }
        }
        return reasons.joined(separator: "; ")
    }
}
