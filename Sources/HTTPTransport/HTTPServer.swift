import Dispatch
import Foundation
import Logging
import Synchronization

/// A blocking HTTP/1.1 server over plain TCP or TLS (optionally mutual TLS), with one thread per
/// connection. It serves the SMSP simulator and tests, so it can also misbehave on request
/// (see ``HTTPServerReply``).
///
/// Threading: ``start(handler:)`` binds on the calling thread, then accepts on a thread of its own;
/// each accepted connection gets a thread that does the TLS handshake, reads requests one after
/// another (keep-alive) and calls the handler on that thread. The handler may block or sleep (that
/// is how the simulator adds latency): it holds up only its own connection. Every method blocks, so
/// call them from a thread or a Dispatch queue, never from Swift concurrency's cooperative pool
/// (an `async` function), whose few threads must not block.
///
/// Requests: Content-Length and chunked bodies are accepted (the chunked coding is removed before
/// the handler sees the body); `Expect: 100-continue` is answered. Malformed requests get 400, a
/// head over the limit 431, a body over the limit 413, transfer codings other than chunked 501,
/// HTTP versions other than 1.0 and 1.1 505; each of those closes the connection. A failed TLS
/// handshake (e.g. a client without a certificate) is logged and the connection dropped.
///
/// Connections: beyond ``Limits/maximumConnections`` in all, or ``Limits/maximumConnectionsPerClient``
/// from one client address, a new connection is closed at once, before any TLS handshake, and
/// counted in ``refusedConnections``.
public final class HTTPServer: Sendable {
    /// Bounds on what one connection may send and how long it may take.
    public struct Limits: Sendable, Hashable {
        /// The largest request line plus header fields (and chunked trailer); larger gets 431.
        public var maximumHeaderBytes: Int
        /// The largest request body; larger gets 413.
        public var maximumBodyBytes: Int
        /// How long a kept-alive connection may wait for its next request before the server closes it.
        public var idleTimeout: Duration
        /// How long a request may take to arrive once its first byte has (and the TLS handshake
        /// may take); slower gets 408.
        public var readTimeout: Duration
        /// How long writing a response may take (a client that stops reading is dropped).
        public var writeTimeout: Duration
        /// How many connections may be open at once (each has a thread); more are closed at once.
        public var maximumConnections: Int
        /// How many connections one client address (IP, whatever its ports) may have open at once;
        /// more are closed at once, so that one client cannot take every thread. Clients behind one
        /// NAT or proxy share an address, and an IPv6 client may use many addresses. Unless given,
        /// the same as ``maximumConnections``: a server facing other organisations (the front door)
        /// sets its own, and one whose callers are few and busy (the SMSP simulator, which a
        /// worker of 256 slots calls on 256 connections) has no smaller one.
        public var maximumConnectionsPerClient: Int

        public init(maximumHeaderBytes: Int = 16 * 1024, maximumBodyBytes: Int = 1024 * 1024,
                    idleTimeout: Duration = .seconds(60), readTimeout: Duration = .seconds(30),
                    writeTimeout: Duration = .seconds(30), maximumConnections: Int = 1024,
                    maximumConnectionsPerClient: Int? = nil) {
            self.maximumHeaderBytes = maximumHeaderBytes
            self.maximumBodyBytes = maximumBodyBytes
            self.idleTimeout = idleTimeout
            self.readTimeout = readTimeout
            self.writeTimeout = writeTimeout
            self.maximumConnections = maximumConnections
            self.maximumConnectionsPerClient = maximumConnectionsPerClient ?? maximumConnections
        }
    }

    /// The address the server binds: a numeric IPv4 or IPv6 address or a host name.
    public let host: String
    private let requestedPort: Int
    private let tls: TLSContext?
    private let limits: Limits
    private let logger: Logger
    private let state = Mutex(State())
    private let boundPort: Atomic<Int>
    private let accepted = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    private let handshakesFailed = Atomic<Int>(0)
    /// Refusals and failed handshakes are logged at most once a minute per client address.
    private let warnings = LogThrottle(interval: .seconds(60))
    /// Entered by the accept thread and every connection thread; ``shutdown()`` waits for them.
    private let threads = DispatchGroup()

    private struct State {
        var phase = Phase.notStarted
        /// The sockets of open connections, so that ``shutdown()`` can interrupt them.
        var connections: [Int: Socket] = [:]
        /// How many connections each client address has open; an address leaves when it has none.
        var connectionsPerClient: [String: Int] = [:]
        var nextConnectionID = 0
    }

    private enum Phase {
        case notStarted
        /// `waker` is the end of a socket pair whose shutdown wakes the accept thread.
        case running(waker: Socket)
        case stopped
    }

    /// Loads the TLS configuration (when given) without binding anything yet.
    ///
    /// - Parameters:
    ///   - host: The address to bind; "127.0.0.1" keeps the server local.
    ///   - port: The port; 0 lets the system choose a free one (read it from ``port`` after starting).
    ///   - tls: A ``TLSConfiguration/server(certificateFile:keyFile:clientCAFile:)`` configuration,
    ///     or `nil` for plain HTTP.
    /// - Throws: ``HTTPTransportError/Code/invalidConfiguration`` for an unusable TLS configuration.
    public init(host: String = "127.0.0.1", port: Int = 0, tls: TLSConfiguration?, limits: Limits = Limits(),
                logger: Logger = Logger(label: "cpis.http.server")) throws(HTTPTransportError) {
        guard (0...65535).contains(port) else {
            throw HTTPTransportError(.invalidConfiguration, "the port \(port) is not between 0 and 65535")
        }
        if let tls, tls.role != .server {
            throw HTTPTransportError(.invalidConfiguration, "a server needs a TLSConfiguration.server(...) configuration")
        }
        self.host = host
        requestedPort = port
        self.tls = try tls.map { configuration throws(HTTPTransportError) in try TLSContext(configuration) }
        self.limits = limits
        self.logger = logger
        boundPort = Atomic(port)
    }

    /// The port the server listens on: after ``start(handler:)``, the one actually bound.
    public var port: Int { boundPort.load(ordering: .acquiring) }

    /// How many connections the server has accepted and served since it started (keep-alive reuse
    /// shows as many requests over few connections); refused ones are not counted.
    public var acceptedConnections: Int { accepted.load(ordering: .relaxed) }

    /// How many connections the server has closed at once since it started because they were over
    /// ``Limits/maximumConnections`` or ``Limits/maximumConnectionsPerClient``.
    public var refusedConnections: Int { refused.load(ordering: .relaxed) }

    /// How many accepted connections were dropped since it started because their TLS handshake
    /// failed (a client without a certificate from the client CA, a wrong protocol, a timeout).
    public var failedHandshakes: Int { handshakesFailed.load(ordering: .relaxed) }

    /// Binds and listens, then returns; connections are served on their own threads by `handler`.
    ///
    /// - Throws: ``HTTPTransportError/Code/invalidConfiguration`` if the address cannot be bound or
    ///   the server was started before, ``HTTPTransportError/Code/shutDown`` after ``shutdown()``.
    public func start(handler: @escaping @Sendable (HTTPRequest, HTTPPeer) -> HTTPServerReply) throws(HTTPTransportError) {
        let listener: Socket
        let waker: (sender: Socket, receiver: Socket)
        do throws(IOError) {
            listener = try Socket.listen(host: host, port: requestedPort, backlog: 128)
        } catch {
            throw HTTPTransportError(.invalidConfiguration, error.detail)
        }
        do throws(IOError) {
            waker = try Socket.pair()
        } catch {
            listener.close()
            throw HTTPTransportError(.invalidConfiguration, "cannot start the server: \(error.detail)")
        }
        let refusal: HTTPTransportError? = state.withLock { state in
            switch state.phase {
            case .notStarted:
                state.phase = .running(waker: waker.sender)
                return nil
            case .running:
                return HTTPTransportError(.invalidConfiguration, "the server is already running")
            case .stopped:
                return HTTPTransportError(.shutDown, "the server has been shut down; make a new one")
            }
        }
        if let refusal {
            [listener, waker.sender, waker.receiver].forEach { $0.close() }
            throw refusal
        }
        boundPort.store(listener.localPort, ordering: .releasing)
        logger.info("HTTP server listening", metadata: ["address": "\(host):\(port)", "tls": "\(tlsDescription)"])
        spawn(name: "http-accept") { [self] in
            acceptConnections(on: listener, wakeUpFrom: waker.receiver, handler: handler)
        }
    }

    /// Stops accepting, closes every connection (including ones held open by
    /// ``HTTPServerReply/noResponse``) and waits for all the server's threads to end, which includes
    /// waiting for handlers that are running to return. Safe to call more than once, but never from
    /// a handler (it would wait for its own thread).
    public func shutdown() {
        let (waker, sockets): (Socket?, [Socket]) = state.withLock { state in
            defer { state.phase = .stopped }
            guard case .running(let waker) = state.phase else { return (nil, []) }
            return (waker, Array(state.connections.values))
        }
        waker?.shutdownBoth()
        sockets.forEach { $0.shutdownBoth() }
        threads.wait()
        if let waker {
            waker.close()
            logger.info("HTTP server stopped", metadata: ["port": "\(port)"])
        }
    }

    private var isStopping: Bool {
        state.withLock { state in
            if case .running = state.phase { return false }
            return true
        }
    }

    private var tlsDescription: String {
        guard let tls else { return "off" }
        return tls.configuration.caFile == nil ? "on" : "mutual"
    }

    // MARK: - Accepting

    private func acceptConnections(on listener: Socket, wakeUpFrom waker: Socket,
                                   handler: @escaping @Sendable (HTTPRequest, HTTPPeer) -> HTTPServerReply) {
        defer {
            listener.close()
            waker.close()
        }
        while true {
            do throws(IOError) {
                guard try listener.waitForConnection(orWakeUpFrom: waker) else { return }
                while let (socket, client, address) = try listener.accept() {
                    admit(socket, client: client, address: address, handler: handler)
                }
            } catch {
                logger.error("accepting a connection failed", metadata: ["error": "\(error.detail)"])
                // E.g. out of file descriptors: the listener stays readable, so pause instead of spinning.
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
    }

    /// What ``admit(_:client:address:handler:)`` decided for a new connection.
    private enum Admission {
        case admitted(id: Int)
        case stopping
        case overLimit(String, limit: Int)
    }

    /// Serves a new connection on a thread of its own, or closes it at once (before any TLS
    /// handshake) when the server is stopping or the connection is over a limit.
    /// `client` is the peer's address without its port.
    private func admit(_ socket: Socket, client: String, address: String,
                       handler: @escaping @Sendable (HTTPRequest, HTTPPeer) -> HTTPServerReply) {
        let admission: Admission = state.withLock { state in
            guard case .running = state.phase else { return .stopping }
            guard state.connections.count < limits.maximumConnections else {
                return .overLimit("the server's connection limit", limit: limits.maximumConnections)
            }
            guard state.connectionsPerClient[client, default: 0] < limits.maximumConnectionsPerClient else {
                return .overLimit("the connection limit per client", limit: limits.maximumConnectionsPerClient)
            }
            defer { state.nextConnectionID += 1 }
            state.connections[state.nextConnectionID] = socket
            state.connectionsPerClient[client, default: 0] += 1
            return .admitted(id: state.nextConnectionID)
        }
        switch admission {
        case .admitted(let id):
            accepted.add(1, ordering: .relaxed)
            spawn(name: "http-connection") { [self] in
                serve(socket, client: client, address: address, handler: handler)
                state.withLock { state in
                    state.connections[id] = nil
                    let remaining = state.connectionsPerClient[client, default: 1] - 1
                    state.connectionsPerClient[client] = remaining > 0 ? remaining : nil
                }
            }
        case .stopping:
            socket.close()
        case .overLimit(let which, let limit):
            refused.add(1, ordering: .relaxed)
            if let leftOut = warnings.admit("refused \(client)") {
                logger.warning("connection refused: at \(which)\(Self.andMore(leftOut))",
                               metadata: ["client": "\(client)", "limit": "\(limit)"])
            }
            socket.close()
        }
    }

    /// What a throttled warning adds: how many like it were left out since the last one logged.
    private static func andMore(_ leftOut: Int) -> String {
        leftOut == 0 ? "" : " (and \(leftOut) more from this client since the last such warning)"
    }

    private func spawn(name: String, _ body: @escaping @Sendable () -> Void) {
        threads.enter()
        let thread = Thread { [threads] in
            body()
            threads.leave()
        }
        thread.name = name
        thread.start()
    }

    // MARK: - Serving a connection

    private enum Outcome {
        case keepOpen, ended
    }

    private func serve(_ socket: Socket, client: String, address: String, handler: @Sendable (HTTPRequest, HTTPPeer) -> HTTPServerReply) {
        let connection: Connection
        do throws(IOError) {
            connection = try Connection.accept(socket, peerAddress: address, tls: tls, deadline: .after(limits.readTimeout))
        } catch {
            guard !isStopping else { return }
            handshakesFailed.add(1, ordering: .relaxed)
            if let leftOut = warnings.admit("handshake \(client)") {
                logger.warning("TLS handshake failed; connection dropped\(Self.andMore(leftOut))",
                               metadata: ["peer": "\(address)", "reason": "\(error.detail)"])
            }
            return
        }
        let peer = HTTPPeer(address: address, certificateSubject: connection.peerCertificateSubject)
        var parser = HTTPParser(maximumHeadBytes: limits.maximumHeaderBytes)
        while case .keepOpen = exchange(on: connection, peer: peer, parser: &parser, handler: handler) {}
    }

    /// Serves one request; closes the connection unless the outcome is `.keepOpen`.
    private func exchange(on connection: Connection, peer: HTTPPeer, parser: inout HTTPParser,
                          handler: @Sendable (HTTPRequest, HTTPPeer) -> HTTPServerReply) -> Outcome {
        if !parser.hasBufferedBytes {
            do throws(IOError) {
                try connection.waitUntilReadable(deadline: .after(limits.idleTimeout))
            } catch {
                connection.close()
                return .ended
            }
        }
        guard !isStopping else {
            connection.close()
            return .ended
        }
        let received: HTTPParser.ReceivedRequest
        do throws(HTTPParser.Failure) {
            guard let request = try readRequest(from: connection, parser: &parser) else {
                connection.close()
                return .ended
            }
            received = request
        } catch {
            refuse(error, on: connection, peer: peer)
            return .ended
        }
        logger.debug("request", metadata: ["peer": "\(peer.address)", "method": "\(received.request.method)",
                                           "target": "\(received.request.target)"])
        switch handler(received.request, peer) {
        case .respond(let response):
            return respond(response, to: received, on: connection)
        case .noResponse:
            connection.waitUntilPeerCloses()
            connection.close()
        case .resetMidBody(let response):
            let serialized = HTTPSerializer.response(response, answeringHEAD: false, closing: false, keepAliveHTTP10: false,
                                                     bodyPrefix: response.body.count / 2)
            if case .success(let bytes) = serialized { try? connection.write(bytes, deadline: .after(limits.writeTimeout)) }
            connection.reset()
        case .close:
            connection.close()
        }
        return .ended
    }

    /// The next request, or `nil` if the client closed the connection cleanly between requests.
    private func readRequest(from connection: Connection, parser: inout HTTPParser)
        throws(HTTPParser.Failure) -> HTTPParser.ReceivedRequest? {
        let deadline = Deadline.after(limits.readTimeout)
        return try parser.readRequest(from: connection, maximumBodyBytes: limits.maximumBodyBytes, deadline: deadline) {
            () throws(HTTPParser.Failure) in
            do throws(IOError) {
                try connection.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8), deadline: deadline)
            } catch {
                throw .io(error)
            }
        }
    }

    private func respond(_ response: HTTPResponse, to received: HTTPParser.ReceivedRequest, on connection: Connection) -> Outcome {
        let closing = !received.keepAlive || response.headers.contains("Connection", token: "close") || isStopping
        let bytes: [UInt8]
        switch HTTPSerializer.response(response, answeringHEAD: received.request.method == "HEAD", closing: closing,
                                       keepAliveHTTP10: received.isHTTP10) {
        case .success(let serialized):
            bytes = serialized
        case .failure(let invalid):
            logger.error("the handler's response cannot be sent; answering 500 instead", metadata: ["reason": "\(invalid.reason)"])
            answerAndClose(connection, status: 500, detail: "the server made an invalid response")
            return .ended
        }
        do throws(IOError) {
            try connection.write(bytes, deadline: .after(limits.writeTimeout))
        } catch {
            logger.debug("writing a response failed", metadata: ["peer": "\(connection.peerAddress)", "error": "\(error.detail)"])
            connection.close()
            return .ended
        }
        guard !closing else {
            connection.closeGracefully(within: .seconds(1))
            return .ended
        }
        return .keepOpen
    }

    /// Answers a request that could not be read with an error status, then closes the connection.
    private func refuse(_ failure: HTTPParser.Failure, on connection: Connection, peer: HTTPPeer) {
        let status: Int
        let detail: String
        switch failure {
        case .malformed(let reason): (status, detail) = (400, reason)
        case .headTooLarge: (status, detail) = (431, "the request head exceeds \(limits.maximumHeaderBytes) bytes")
        case .bodyTooLarge: (status, detail) = (413, "the request body exceeds \(limits.maximumBodyBytes) bytes")
        case .unsupported(let reason): (status, detail) = (501, reason)
        case .unsupportedVersion(let version): (status, detail) = (505, "\(version) is not supported")
        case .io(.timedOut): (status, detail) = (408, "the request did not arrive within \(limits.readTimeout)")
        case .truncated, .io:
            connection.close()
            return
        }
        logger.info("refused a request", metadata: ["peer": "\(peer.address)", "status": "\(status)", "reason": "\(detail)"])
        answerAndClose(connection, status: status, detail: detail)
    }

    /// Sends an error status with `detail` as a plain-text body, then closes the connection.
    private func answerAndClose(_ connection: Connection, status: Int, detail: String) {
        let response = HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"],
                                    body: Array("\(detail)\n".utf8))
        if case .success(let bytes) = HTTPSerializer.response(response, answeringHEAD: false, closing: true, keepAliveHTTP10: false) {
            try? connection.write(bytes, deadline: .after(limits.writeTimeout))
        }
        connection.closeGracefully(within: .seconds(1))
    }
}
