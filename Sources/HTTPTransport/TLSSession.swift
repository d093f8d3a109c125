internal import COpenSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One OpenSSL `SSL` object over a non-blocking ``Socket``: the handshake, reads and writes, each
/// waiting with `poll(2)` for whatever OpenSSL says it needs (`SSL_ERROR_WANT_READ`/`WANT_WRITE`)
/// until a deadline.
///
/// Owned by one ``Connection`` and so used by one thread at a time, as OpenSSL requires of an `SSL`.
/// OpenSSL's error queue is per thread: every call below clears it first and drains it on failure.
final class TLSSession {
    private let ssl: OpaquePointer
    private let socket: Socket
    // Until the first application data arrives, a fatal alert from a server means it refused our
    // handshake (see `read`).
    private var hasReadApplicationData = false
    /// A write just went out, so what is read next is the peer's answer to it.
    private var awaitsAnswer = false

    /// Prepares a session on `socket`; the client side checks the server's certificate against
    /// `host` (a DNS name or an IP address) when the configuration verifies host names.
    init(context: TLSContext, socket: Socket, host: String?) throws(IOError) {
        ERR_clear_error()
        guard let ssl = SSL_new(context.context) else { throw .tls(OpenSSLError.drain()) }
        self.ssl = ssl
        self.socket = socket
        guard SSL_set_fd(ssl, socket.descriptor) == 1 else {
            let reason = OpenSSLError.drain()
            SSL_free(ssl)
            throw .tls(reason)
        }
        switch context.configuration.role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let host, !configureServerIdentity(host, verify: context.configuration.verifyHostname) {
                let reason = OpenSSLError.drain()
                SSL_free(ssl)
                throw .tls("cannot set the expected host \(host): \(reason)")
            }
        }
    }

    /// Sends SNI for a DNS name (RFC 6066 forbids it for addresses) and makes certificate
    /// verification also require the name or address in the certificate's subjectAltName.
    private func configureServerIdentity(_ host: String, verify: Bool) -> Bool {
        if Socket.isIPAddress(host) {
            // SSL_set1_host matches DNS names only in OpenSSL 3.0; addresses need the IP check.
            return !verify || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1
        }
        guard cpis_ssl_set_tlsext_host_name(ssl, host) == 1 else { return false }
        return !verify || SSL_set1_host(ssl, host) == 1
    }

    func handshake(deadline: Deadline) throws(IOError) {
        while true {
            ERR_clear_error()
            let result = SSL_do_handshake(ssl)
            if result == 1 { return }
            let failure = classify(result, errno: errno)
            switch failure {
            case .wantRead: try socket.wait(for: .readable, deadline: deadline)
            case .wantWrite: try socket.wait(for: .writable, deadline: deadline)
            case .closed: throw .reset("the peer closed the connection during the TLS handshake")
            case .failed(let error): throw error
            }
        }
    }

    /// Reads some application data: a count, 0 at the end of the stream.
    ///
    /// A peer closing without TLS's close_notify also counts as the end of the stream: HTTP's own
    /// framing (Content-Length, chunked) is what detects a truncated message.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws(IOError) -> Int {
        // Right after a request is written its answer is not there yet: wait for it rather than
        // try a read that would only find nothing (one system call and a pass through OpenSSL less
        // per exchange).
        if awaitsAnswer, SSL_has_pending(ssl) == 0 { try socket.wait(for: .readable, deadline: deadline) }
        awaitsAnswer = false
        while true {
            OpenSSLError.clearStale()
            var count = 0
            let result = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count)
            if result == 1 {
                hasReadApplicationData = true
                return count
            }
            switch classify(result, errno: errno) {
            case .wantRead: try socket.wait(for: .readable, deadline: deadline)
            case .wantWrite: try socket.wait(for: .writable, deadline: deadline)
            case .closed: return 0
            case .failed(let error): throw error
            }
        }
    }

    /// Writes some of `bytes` (partial writes are enabled): the count written, at least 1.
    func write(_ bytes: UnsafeRawBufferPointer, deadline: Deadline) throws(IOError) -> Int {
        while true {
            OpenSSLError.clearStale()
            var count = 0
            let result = SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &count)
            if result == 1 {
                awaitsAnswer = true
                return count
            }
            switch classify(result, errno: errno) {
            case .wantRead: try socket.wait(for: .readable, deadline: deadline)
            case .wantWrite: try socket.wait(for: .writable, deadline: deadline)
            case .closed: throw .reset("the peer closed the TLS session")
            case .failed(let error): throw error
            }
        }
    }

    /// For an idle connection whose socket is readable: processes what arrived without waiting.
    /// `true` if it was only TLS housekeeping (e.g. a TLS 1.3 session ticket) and the session is
    /// still usable; `false` for close_notify, end of stream, an error or unexpected data.
    func absorbIdleRecords() -> Bool {
        ERR_clear_error()
        var byte: UInt8 = 0
        var count = 0
        let result = SSL_read_ex(ssl, &byte, 1, &count)
        guard result != 1 else { return false }
        if case .wantRead = classify(result, errno: errno) { return true }
        return false
    }

    /// The subject of the peer's verified certificate in RFC 2253 form
    /// (e.g. "CN=cpis-worker,O=CP-IS SMSP development,C=GB"); `nil` if it presented none.
    var peerCertificateSubject: String? {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(certificate) }
        guard let name = X509_get_subject_name(certificate), let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, cpis_xn_flag_rfc2253) >= 0 else { return nil }
        var text = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(bio)))
        let count = BIO_read(bio, &text, Int32(clamping: text.count))
        return String(decoding: text.prefix(max(0, Int(count))), as: UTF8.self)
    }

    /// Sends close_notify if the socket takes it now (never waits), then frees the `SSL`. The
    /// owner closes the socket afterwards.
    func close(notifyingPeer: Bool) {
        if notifyingPeer {
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
        }
        ERR_clear_error()
        SSL_free(ssl)
    }

    // MARK: - Errors

    private enum Outcome {
        case wantRead, wantWrite, closed
        case failed(IOError)
    }

    /// What a failed `SSL_*` call means. `savedErrno` must be read right after the call.
    private func classify(_ result: Int32, errno savedErrno: Int32) -> Outcome {
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ:
            return .wantRead
        case SSL_ERROR_WANT_WRITE:
            return .wantWrite
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        case SSL_ERROR_SYSCALL:
            let reasons = OpenSSLError.drain()
            if savedErrno == 0 { return reasons.isEmpty ? .closed : .failed(.tls(reasons)) }
            return .failed(.reset(Socket.errnoDescription(savedErrno)))
        default:
            let codes = OpenSSLError.takeAll()
            let reasons = codes.map { ERR_GET_REASON($0) }
            if reasons.contains(SSL_R_UNEXPECTED_EOF_WHILE_READING) { return .closed }
            var text = OpenSSLError.describe(codes)
            let verification = SSL_get_verify_result(ssl)
            if verification != X509_V_OK, let detail = X509_verify_cert_error_string(verification) {
                text += ": \(String(cString: detail))"
            }
            if !hasReadApplicationData, reasons.contains(where: Self.handshakeRejectionAlerts.contains) {
                return .failed(.tlsRejectedByPeer(text))
            }
            return .failed(.tls(text.isEmpty ? "TLS failure" : text))
        }
    }

    /// Fatal alerts (as OpenSSL's "alert received" reasons) with which a peer refuses a handshake:
    /// our certificate is missing, untrusted, expired, revoked or not acceptable.
    private static let handshakeRejectionAlerts: Set<Int32> = [
        SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, SSL_R_SSLV3_ALERT_BAD_CERTIFICATE,
        SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE, SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED,
        SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED, SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN,
        SSL_R_TLSV1_ALERT_UNKNOWN_CA, SSL_R_TLSV1_ALERT_ACCESS_DENIED, SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED,
    ]
}
