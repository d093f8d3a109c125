import Foundation
import Logging
import Synchronization

/// A blocking HTTP/1.1 client over plain TCP or TLS (optionally mutual TLS) that keeps connections
/// alive and reuses them per host and port.
///
/// Threading: ``execute(_:url:timeout:)`` blocks the calling thread for the whole exchange, so call
/// it from a thread or a Dispatch queue, never from Swift concurrency's cooperative pool (an `async`
/// function), whose few threads must not block. Any number of threads may execute requests at once:
/// each exchange has a connection to itself; idle connections wait in a pool guarded by a mutex.
///
/// Timeouts: the `timeout` of a request bounds the whole exchange (looking up the host name,
/// connect, TLS handshake, writing the request, reading the response), enforced with `poll(2)` on
/// non-blocking sockets; making a new connection is also bounded by `connectTimeout`. A host name is
/// looked up on a thread of its own, abandoned at the deadline (the system resolver has no timeout
/// of its own), so a slow DNS server costs a thread until it answers but never holds up the caller.
///
/// Failures are never retried: a repeated SMSP query would notify a social worker twice. Every
/// failure reaches the caller, and ``HTTPTransportError/requestMayHaveBeenProcessed`` says whether
/// the server may have acted on the request. To keep stale pooled connections from failing requests,
/// an idle connection is checked before reuse (anything readable or a hang-up means the server
/// closed it) and replaced by a new one if it is no longer usable.
///
/// Responses: bodies framed by Content-Length, chunked or the end of the connection, up to
/// `maximumResponseBodyBytes`; `Connection: close` is honoured; interim 1xx responses are skipped.
public final class HTTPClient: Sendable {
    private let tls: TLSContext?
    private let connectTimeout: Duration
    private let maximumIdleConnectionsPerHost: Int
    private let idleTimeout: Duration
    private let maximumResponseBodyBytes: Int
    private let logger: Logger
    private let lookUp: Socket.Lookup
    private let pool = Mutex(Pool())

    /// Response heads larger than this are a protocol error.
    private static let maximumResponseHeadBytes = 64 * 1024

    private struct Pool {
        var isShutDown = false
        /// Idle connections per endpoint key, the most recently used last.
        var idle: [String: [IdleConnection]] = [:]
        /// When expired idle connections are next looked for (not on every release: that scan
        /// cost more than the rest of an exchange's bookkeeping).
        var nextSweep = ContinuousClock.now
    }

    private struct IdleConnection {
        let connection: Connection
        let idleSince: ContinuousClock.Instant
    }

    /// Loads the TLS configuration (when given).
    ///
    /// - Parameters:
    ///   - tls: A ``TLSConfiguration/client(caFile:certificateFile:keyFile:verifyHostname:)``
    ///     configuration for `https` URLs, or `nil` for `http` only.
    ///   - connectTimeout: The longest a new connection (TCP and TLS handshake) may take.
    ///   - maximumIdleConnectionsPerHost: How many idle connections to keep per host and port.
    ///   - idleTimeout: Idle connections older than this are closed rather than reused.
    ///   - maximumResponseBodyBytes: Larger response bodies fail with ``HTTPTransportError/Code/bodyTooLarge``.
    /// - Throws: ``HTTPTransportError/Code/invalidConfiguration`` for an unusable TLS configuration.
    public convenience init(tls: TLSConfiguration?, connectTimeout: Duration = .seconds(5), maximumIdleConnectionsPerHost: Int = 32,
                            idleTimeout: Duration = .seconds(60), maximumResponseBodyBytes: Int = 8 * 1024 * 1024,
                            logger: Logger = Logger(label: "cpis.http.client")) throws(HTTPTransportError) {
        try self.init(tls: tls, connectTimeout: connectTimeout, maximumIdleConnectionsPerHost: maximumIdleConnectionsPerHost,
                      idleTimeout: idleTimeout, maximumResponseBodyBytes: maximumResponseBodyBytes, logger: logger,
                      lookUp: { host, port throws(IOError) in try Socket.addresses(of: host, port: port) })
    }

    /// The public initialiser's, with the way host names are looked up (tests stand in a slow one).
    init(tls: TLSConfiguration?, connectTimeout: Duration, maximumIdleConnectionsPerHost: Int, idleTimeout: Duration,
         maximumResponseBodyBytes: Int, logger: Logger, lookUp: @escaping Socket.Lookup) throws(HTTPTransportError) {
        if let tls, tls.role != .client {
            throw HTTPTransportError(.invalidConfiguration, "a client needs a TLSConfiguration.client(...) configuration")
        }
        self.tls = try tls.map { configuration throws(HTTPTransportError) in try TLSContext(configuration) }
        self.connectTimeout = connectTimeout
        self.maximumIdleConnectionsPerHost = maximumIdleConnectionsPerHost
        self.idleTimeout = idleTimeout
        self.maximumResponseBodyBytes = maximumResponseBodyBytes
        self.logger = logger
        self.lookUp = lookUp
    }

    /// Sends `request` to the server of `url` and returns its response, blocking until it has
    /// arrived, failed or `timeout` has passed. Never retries.
    ///
    /// - Parameters:
    ///   - url: Scheme, host and port only (`https://smsp.example:443`); the path and query go in
    ///     ``HTTPRequest/target``.
    ///   - timeout: The deadline for the whole exchange.
    /// - Throws: ``HTTPTransportError`` with ``HTTPTransportError/requestMayHaveBeenProcessed``
    ///   telling whether the server may have acted on the request.
    public func execute(_ request: HTTPRequest, url: URL, timeout: Duration) throws(HTTPTransportError) -> HTTPResponse {
        try execute(request, at: HTTPEndpoint(url), timeout: timeout)
    }

    /// ``execute(_:url:timeout:)`` for a server whose URL has been read once, for callers that
    /// send many requests to one server.
    public func execute(_ request: HTTPRequest, at endpoint: HTTPEndpoint, timeout: Duration) throws(HTTPTransportError)
        -> HTTPResponse
    {
        let deadline = Deadline.after(timeout)
        if endpoint.isSecure, tls == nil {
            throw HTTPTransportError(.invalidConfiguration, "\(endpoint.key) needs TLS but the client has no TLS configuration")
        }
        let bytes: [UInt8]
        switch HTTPSerializer.request(request, host: endpoint.hostHeader) {
        case .success(let serialized): bytes = serialized
        case .failure(let invalid): throw HTTPTransportError(.invalidRequest, invalid.reason)
        }
        let (connection, isReused) = try acquireConnection(to: endpoint, deadline: deadline, timeout: timeout)
        guard !deadline.hasPassed else {
            // Connecting used up the time: the request is not started late (the server would act on it
            // for a caller who has stopped waiting).
            release(connection, to: endpoint)
            throw HTTPTransportError(.timeout, "no time left to send the request to \(endpoint.authority) within \(timeout)",
                                     requestMayHaveBeenProcessed: false)
        }
        var parser = HTTPParser(maximumHeadBytes: Self.maximumResponseHeadBytes)
        let response: HTTPResponse
        let reusable: Bool
        do throws(HTTPParser.Failure) {
            do throws(IOError) {
                try connection.write(bytes, deadline: deadline)
            } catch {
                throw .io(error)
            }
            (response, reusable) = try parser.readResponse(answering: request.method, from: connection,
                                                           maximumBodyBytes: maximumResponseBodyBytes, deadline: deadline)
        } catch {
            connection.close()
            throw describe(error, endpoint: endpoint, timeout: timeout, isReused: isReused)
        }
        if reusable && !parser.hasBufferedBytes {
            release(connection, to: endpoint)
        } else {
            connection.close()
        }
        return response
    }

    /// Closes every idle connection; later calls to ``execute(_:url:timeout:)`` fail with
    /// ``HTTPTransportError/Code/shutDown``. Exchanges already running finish (within their
    /// timeouts) and close their connections.
    public func shutdown() {
        let idle = pool.withLock { pool in
            pool.isShutDown = true
            defer { pool.idle = [:] }
            return pool.idle.values.joined().map(\.connection)
        }
        idle.forEach { $0.close() }
    }

    // MARK: - Exchange

    private func describe(_ failure: HTTPParser.Failure, endpoint: HTTPEndpoint, timeout: Duration, isReused: Bool) -> HTTPTransportError {
        let server = endpoint.authority
        switch failure {
        case .io(.timedOut):
            return HTTPTransportError(.timeout, "no complete response from \(server) within \(timeout)")
        case .io(.tlsRejectedByPeer(let reason)):
            // TLS 1.3: our handshake had finished, but the server then refused our certificate, so it
            // never read the request.
            return HTTPTransportError(.tlsHandshakeFailed,
                                      "\(server) refused the TLS handshake (\(reason)); check the client certificate and that the server trusts its CA")
        case .io(.tls(let reason)):
            return HTTPTransportError(.protocolError, "TLS failed during the exchange with \(server): \(reason)")
        case .io(.reset(let reason)), .io(.system(let reason)):
            return HTTPTransportError(.connectionClosed, "the connection to \(server) failed before the whole response arrived: \(reason)"
                                      + (isReused ? " (a reused keep-alive connection)" : ""))
        case .truncated:
            return HTTPTransportError(.connectionClosed, "\(server) closed the connection before the whole response arrived"
                                      + (isReused ? " (a reused keep-alive connection)" : ""))
        case .malformed(let reason), .unsupported(let reason):
            return HTTPTransportError(.protocolError, "\(server) sent an invalid HTTP response: \(reason)")
        case .unsupportedVersion(let version):
            return HTTPTransportError(.protocolError, "\(server) answered in \(version), not HTTP/1.1")
        case .headTooLarge:
            return HTTPTransportError(.protocolError, "the response head from \(server) exceeds \(Self.maximumResponseHeadBytes) bytes")
        case .bodyTooLarge:
            return HTTPTransportError(.bodyTooLarge, "the response body from \(server) exceeds \(maximumResponseBodyBytes) bytes")
        }
    }

    /// Opens connections to `endpoint` until `count` wait idle in the pool (never more than the
    /// pool keeps), so that the first requests find one ready instead of waiting for a TCP and TLS
    /// handshake of their own. Best effort, within `timeout` in all: it stops at the first
    /// connection that cannot be made, and says how many it opened.
    @discardableResult
    public func warmUp(_ endpoint: HTTPEndpoint, connections count: Int, within timeout: Duration) -> Int {
        let deadline = Deadline.after(timeout)
        let idle = pool.withLock { $0.idle[endpoint.key]?.count ?? 0 }
        var opened = 0
        while idle + opened < min(count, maximumIdleConnectionsPerHost), !deadline.hasPassed {
            do throws(HTTPTransportError) {
                release(try openConnection(to: endpoint, deadline: deadline, timeout: timeout), to: endpoint)
                opened += 1
            } catch {
                logger.debug("warming up: could not open a connection",
                             metadata: ["server": "\(endpoint.authority)", "reason": "\(error.message)"])
                break
            }
        }
        return opened
    }

    // MARK: - Connections

    /// An idle pooled connection that is still usable, or a new one.
    private func acquireConnection(to endpoint: HTTPEndpoint, deadline: Deadline, timeout: Duration) throws(HTTPTransportError)
        -> (Connection, isReused: Bool)
    {
        while let idle = try takeIdleConnection(to: endpoint) {
            if ContinuousClock.now - idle.idleSince < idleTimeout, idle.connection.isUsableAfterIdle {
                return (idle.connection, true)
            }
            logger.debug("discarding a stale keep-alive connection", metadata: ["server": "\(endpoint.authority)"])
            idle.connection.close()
        }
        return (try openConnection(to: endpoint, deadline: deadline, timeout: timeout), false)
    }

    /// A new connection (TCP, and TLS for `https`), within `connectTimeout` and the request's deadline.
    private func openConnection(to endpoint: HTTPEndpoint, deadline: Deadline, timeout: Duration) throws(HTTPTransportError)
        -> Connection
    {
        do throws(Connection.ConnectFailure) {
            return try Connection.open(host: endpoint.host, port: endpoint.port, tls: endpoint.isSecure ? tls : nil,
                                       deadline: Deadline.earliest(deadline, .after(connectTimeout)), lookUp: lookUp)
        } catch {
            throw describe(error, endpoint: endpoint, timeout: timeout, requestDeadline: deadline)
        }
    }

    private func describe(_ failure: Connection.ConnectFailure, endpoint: HTTPEndpoint, timeout: Duration,
                          requestDeadline: Deadline) -> HTTPTransportError {
        let server = endpoint.authority
        switch failure {
        case .connect(.timedOut), .handshake(.timedOut):
            if requestDeadline.hasPassed {
                return HTTPTransportError(.timeout, "could not connect to \(server) within the request's \(timeout)",
                                          requestMayHaveBeenProcessed: false)
            }
            if case .connect = failure {
                return HTTPTransportError(.connectFailed, "no connection to \(server) within \(connectTimeout)")
            }
            return HTTPTransportError(.tlsHandshakeFailed, "the TLS handshake with \(server) did not finish within \(connectTimeout)")
        case .connect(let error):
            return HTTPTransportError(.connectFailed, "cannot connect to \(server): \(error.detail)")
        case .handshake(let error):
            return HTTPTransportError(.tlsHandshakeFailed, "the TLS handshake with \(server) failed: \(error.detail)")
        }
    }

    private func takeIdleConnection(to endpoint: HTTPEndpoint) throws(HTTPTransportError) -> IdleConnection? {
        try pool.withLock { pool throws(HTTPTransportError) in
            guard !pool.isShutDown else { throw HTTPTransportError(.shutDown, "the HTTP client has been shut down") }
            return pool.idle[endpoint.key]?.popLast()
        }
    }

    /// Puts a connection that finished an exchange back in the pool (closing what the pool will not
    /// keep, and idle connections that have expired meanwhile).
    private func release(_ connection: Connection, to endpoint: HTTPEndpoint) {
        let now = ContinuousClock.now
        let closing: [Connection] = pool.withLock { pool in
            var closing: [Connection] = []
            if now >= pool.nextSweep {
                pool.nextSweep = now + idleTimeout / 2
                for (key, connections) in pool.idle {
                    let (fresh, expired) = connections.partitioned { now - $0.idleSince < idleTimeout }
                    pool.idle[key] = fresh.isEmpty ? nil : fresh
                    closing += expired.map(\.connection)
                }
            }
            if pool.isShutDown || pool.idle[endpoint.key, default: []].count >= maximumIdleConnectionsPerHost {
                closing.append(connection)
            } else {
                pool.idle[endpoint.key, default: []].append(IdleConnection(connection: connection, idleSince: now))
            }
            return closing
        }
        closing.forEach { $0.close() }
    }
}

/// Where a URL points: scheme, host and port, and how they appear in messages. Reading a URL and
/// making these texts showed in profiles, so a caller with one server makes its endpoint once.
public struct HTTPEndpoint: Sendable, Hashable {
    let isSecure: Bool
    /// The host without IPv6 brackets, as given to `getaddrinfo` and checked against the certificate.
    let host: String
    let port: Int
    /// "host:port" with IPv6 brackets, for messages.
    let authority: String
    /// The `Host` header: the port only when it is not the scheme's default.
    let hostHeader: String
    /// The pool key: connections are shared only between requests to the same scheme, host and port.
    let key: String

    /// A service's URL (`https://smsp.example/smsp/cpis?x=1`) split into the server to connect to
    /// and the request target (`/smsp/cpis?x=1`, `/` when it has no path).
    /// - Throws: ``HTTPTransportError/Code/invalidRequest`` unless `url` is `http` or `https` with a host.
    public static func serverAndTarget(of url: URL) throws(HTTPTransportError) -> (server: HTTPEndpoint, target: String) {
        var origin = URLComponents()
        origin.scheme = url.scheme
        origin.host = url.host
        origin.port = url.port
        let path = url.path.isEmpty ? "/" : url.path
        return (try HTTPEndpoint(origin.url ?? url), url.query.map { "\(path)?\($0)" } ?? path)
    }

    /// - Throws: ``HTTPTransportError/Code/invalidRequest`` unless `url` is `http` or `https` with
    ///   a host and at most a port (no path, query, fragment or user).
    public init(_ url: URL) throws(HTTPTransportError) {
        func invalid(_ reason: String) -> HTTPTransportError {
            HTTPTransportError(.invalidRequest, "\(url): \(reason)")
        }
        switch url.scheme?.lowercased() {
        case "http": isSecure = false
        case "https": isSecure = true
        default: throw invalid("the scheme must be http or https")
        }
        guard let host = url.host, !host.isEmpty else { throw invalid("the URL has no host") }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        port = url.port ?? (isSecure ? 443 : 80)
        guard (1...65535).contains(port) else { throw invalid("the port is not between 1 and 65535") }
        guard ["", "/"].contains(url.path), url.query == nil, url.fragment == nil, url.user == nil else {
            throw invalid("give only the scheme, host and port; the path and query go in HTTPRequest.target")
        }
        let bracketedHost = self.host.contains(":") ? "[\(self.host)]" : self.host
        authority = "\(bracketedHost):\(port)"
        hostHeader = port == (isSecure ? 443 : 80) ? bracketedHost : authority
        key = "\(isSecure ? "https" : "http")://\(authority)"
    }
}

private extension Array {
    /// The elements that satisfy `predicate` and those that do not, each in order.
    func partitioned(by predicate: (Element) -> Bool) -> (matching: [Element], rest: [Element]) {
        var matching: [Element] = []
        var rest: [Element] = []
        for element in self {
            if predicate(element) { matching.append(element) } else { rest.append(element) }
        }
        return (matching, rest)
    }
}
