/// A TCP connection, plain or TLS: the byte stream the HTTP client and server read and write.
///
/// Ownership: one thread at a time uses a connection (the server's connection thread, or the client
/// thread running an exchange; the client's pool hands idle ones over under its mutex), which is
/// why it can be `@unchecked Sendable`. (To stop a server, another thread shuts down the underlying
/// ``Socket``, which wakes the owner.) The owner must end every connection with exactly one of ``close()``, ``closeGracefully(within:)``
/// or ``reset()``: they release the socket and the `SSL`, deliberately not left to `deinit`.
final class Connection: @unchecked Sendable {
    private let socket: Socket
    private let tls: TLSSession?
    /// The peer's numeric address and port, e.g. "127.0.0.1:50312" or "[::1]:50312".
    let peerAddress: String

    private init(socket: Socket, tls: TLSSession?, peerAddress: String) {
        self.socket = socket
        self.tls = tls
        self.peerAddress = peerAddress
    }

    /// Looks `host` up with `lookUp`, connects to it on `port` and, with a TLS context, completes the
    /// handshake, all before the deadline.
    static func open(host: String, port: Int, tls context: TLSContext?, deadline: Deadline,
                     lookUp: @escaping Socket.Lookup) throws(ConnectFailure) -> Connection {
        let socket: Socket
        do throws(IOError) {
            socket = try Socket.connect(host: host, port: port, deadline: deadline, lookUp: lookUp)
        } catch {
            throw .connect(error)
        }
        let address = Socket.isIPAddress(host) && host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        guard let context else { return Connection(socket: socket, tls: nil, peerAddress: address) }
        do throws(IOError) {
            let session = try TLSSession(context: context, socket: socket, host: host)
            do throws(IOError) {
                try session.handshake(deadline: deadline)
            } catch {
                session.close(notifyingPeer: false)
                throw error
            }
            return Connection(socket: socket, tls: session, peerAddress: address)
        } catch {
            socket.close()
            throw .handshake(error)
        }
    }

    /// Why ``open(host:port:tls:deadline:lookUp:)`` failed: in the TCP connect or in the TLS handshake.
    enum ConnectFailure: Error {
        case connect(IOError)
        case handshake(IOError)
    }

    /// Takes over an accepted socket; with a TLS context, completes the server side of the handshake.
    /// On failure the socket is closed (after a grace period for TLS alerts) before throwing.
    static func accept(_ socket: Socket, peerAddress: String, tls context: TLSContext?, deadline: Deadline) throws(IOError) -> Connection {
        guard let context else { return Connection(socket: socket, tls: nil, peerAddress: peerAddress) }
        let session: TLSSession
        do throws(IOError) {
            session = try TLSSession(context: context, socket: socket, host: nil)
        } catch {
            socket.close()
            throw error
        }
        do throws(IOError) {
            try session.handshake(deadline: deadline)
        } catch {
            // OpenSSL has already written its alert (e.g. "certificate required"). Close as
            // closeGracefully does, so that unread client bytes (a TLS 1.3 client may already have
            // sent its request) do not turn our FIN into a reset that destroys the alert in transit.
            Connection(socket: socket, tls: session, peerAddress: peerAddress)
                .closeGracefully(within: .milliseconds(500), notifyingPeer: false)
            throw error
        }
        return Connection(socket: socket, tls: session, peerAddress: peerAddress)
    }

    /// The subject of the peer's verified client certificate (server side of mutual TLS).
    var peerCertificateSubject: String? { tls?.peerCertificateSubject }

    // MARK: - Reading and writing

    /// Reads what is available, waiting until the deadline for at least one byte: a count, 0 at
    /// the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws(IOError) -> Int {
        if let tls { return try tls.read(into: buffer, deadline: deadline) }
        while true {
            if let count = try socket.receive(into: buffer) { return count }
            try socket.wait(for: .readable, deadline: deadline)
        }
    }

    /// Writes all of `bytes` before the deadline.
    func write(_ bytes: [UInt8], deadline: Deadline) throws(IOError) {
        var offset = 0
        while offset < bytes.count {
            // `withUnsafeBytes` rethrows untyped errors, so the typed error travels in a Result.
            let written = bytes.withUnsafeBytes { all in
                let rest = UnsafeRawBufferPointer(rebasing: all[offset...])
                return Result { () throws(IOError) -> Int? in
                    if let tls { return try tls.write(rest, deadline: deadline) }
                    return try socket.send(rest)
                }
            }
            if let count = try written.get() {
                offset += count
            } else {
                try socket.wait(for: .writable, deadline: deadline)
            }
        }
    }

    /// Waits until the peer sends something or closes (the read side becomes ready) or the deadline.
    func waitUntilReadable(deadline: Deadline) throws(IOError) {
        try socket.wait(for: .readable, deadline: deadline)
    }

    /// For a connection that sat idle in a pool: whether it can still carry a request. Anything that
    /// arrived while idle (end of stream, a reset, stray bytes) means the server is done with it,
    /// except TLS housekeeping records, which are absorbed.
    var isUsableAfterIdle: Bool {
        guard socket.hasPendingEvent else { return true }
        guard let tls else { return false }
        return tls.absorbIdleRecords() && !socket.hasPendingEvent
    }

    // MARK: - Ending

    /// Closes at once: TLS close_notify if the socket takes it without waiting, then FIN.
    func close() {
        tls?.close(notifyingPeer: true)
        socket.close()
    }

    /// Closes after a response we want the peer to read even though it may still be sending
    /// (e.g. a 413 before the body arrived): closing with unread input would make the kernel send a
    /// reset, which can destroy our response in the peer's receive buffer. So we send FIN, discard
    /// what the peer still sends until it closes or the grace period ends, and only then close.
    func closeGracefully(within grace: Duration, notifyingPeer: Bool = true) {
        tls?.close(notifyingPeer: notifyingPeer)
        socket.shutdownWrite()
        discardInput(until: .after(grace))
        socket.close()
    }

    /// Reads and discards whatever the peer sends until it closes the connection (or the server's
    /// shutdown ends it), without a deadline: how a server holds a connection it will never answer.
    func waitUntilPeerCloses() {
        discardInput(until: .none)
    }

    /// Reads raw bytes (TLS records too: the session is not used again) until end of stream, an
    /// error or the deadline.
    private func discardInput(until deadline: Deadline) {
        var discard = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let received = discard.withUnsafeMutableBytes { buffer in
                Result { () throws(IOError) -> Int? in
                    try socket.wait(for: .readable, deadline: deadline)
                    return try socket.receive(into: buffer)
                }
            }
            guard case .success(let count) = received, count != 0 else { return }
        }
    }

    /// Closes with a TCP reset (no close_notify, no FIN): the peer sees the connection fail.
    func reset() {
        tls?.close(notifyingPeer: false)
        socket.resetAndClose()
    }
}
