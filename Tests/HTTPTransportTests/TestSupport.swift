#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import HTTPTransport
import Logging
import Synchronization
import Testing
import TestSupport

/// A quiet logger: the tests provoke failures that the module logs as warnings.
let testLogger: Logger = {
    var logger = Logger(label: "test.http")
    logger.logLevel = .critical
    return logger
}()

/// Runs blocking code on a thread of its own, as the module requires (never on Swift concurrency's
/// cooperative pool). Assertions belong in the test after it returns, where Swift Testing can
/// attribute them to the test.
func blocking<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

/// Starts a server on an ephemeral port of `host` that answers with `handler`.
func startServer(host: String = "127.0.0.1", tls: TLSConfiguration? = nil, limits: HTTPServer.Limits = .init(),
                 handler: @escaping @Sendable (HTTPRequest, HTTPPeer) -> HTTPServerReply) throws -> HTTPServer {
    let server = try HTTPServer(host: host, port: 0, tls: tls, limits: limits, logger: testLogger)
    try server.start(handler: handler)
    return server
}

extension HTTPServer {
    /// `http(s)://host:port` of the running server.
    func url(secure: Bool, host: String? = nil) -> URL {
        let host = host ?? self.host
        return URL(string: "\(secure ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(port)")!
    }
}

/// Executes `request` and captures the outcome, for assertions after ``blocking(_:)``.
func outcome(_ client: HTTPClient, _ request: HTTPRequest = HTTPRequest(), url: URL,
             timeout: Duration = .seconds(5)) -> Result<HTTPResponse, HTTPTransportError> {
    Result { () throws(HTTPTransportError) in try client.execute(request, url: url, timeout: timeout) }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// An echo handler: answers 200 with the request's body and its `X-Request-ID` header.
@Sendable func echo(_ request: HTTPRequest, _ peer: HTTPPeer) -> HTTPServerReply {
    var headers: HTTPHeaders = ["Content-Type": "application/octet-stream"]
    headers["X-Request-ID"] = request.headers["X-Request-ID"]
    return .respond(HTTPResponse(status: 200, headers: headers, body: request.body))
}

/// Sends raw bytes over a new plain TCP connection to 127.0.0.1:`port` and returns everything the
/// server sends until it closes (or 3 s pass): for requests no well-behaved client would send.
/// `halfClose`: shut the sending side after the bytes, as a client that stops mid-message does.
func rawExchange(port: Int, sending bytes: [UInt8], halfClose: Bool = false) -> String {
    guard let connection = RawConnection(port: port), connection.send(bytes) else { return "connect or send failed" }
    if halfClose { connection.shutdownSending() }
    return String(decoding: connection.receive(until: { _ in false }), as: UTF8.self)
}

/// A plain TCP connection to 127.0.0.1:`port` made with system calls, held open for as long as a
/// test needs it; every read gives up after 3 s. Closed when released.
final class RawConnection {
    private let descriptor: Int32

    /// Connects from `source` (an address on this machine; the system chooses when `nil`); `nil` if
    /// the connection cannot be made.
    init?(port: Int, from source: String? = nil) {
        descriptor = socket(AF_INET, tcpStreamType, 0)
        guard descriptor >= 0 else { return nil }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var local = Self.address(source ?? "0.0.0.0", port: 0)
        var server = Self.address("127.0.0.1", port: port)
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let connected = withUnsafePointer(to: &local) { local in
            withUnsafePointer(to: &server) { server in
                local.withMemoryRebound(to: sockaddr.self, capacity: 1) { local in
                    server.withMemoryRebound(to: sockaddr.self, capacity: 1) { server in
                        (source == nil || bind(descriptor, local, length) == 0) && connect(descriptor, server, length) == 0
                    }
                }
            }
        }
        guard connected else {
            close(descriptor)
            return nil
        }
    }

    deinit {
        close(descriptor)
    }

    func send(_ bytes: [UInt8]) -> Bool {
        systemSend(descriptor, bytes, bytes.count, 0) == bytes.count
    }

    /// Shuts the sending side: the server reads end of stream.
    func shutdownSending() {
        shutdown(descriptor, Int32(SHUT_WR))
    }

    /// What the server sends until `isComplete` says the bytes so far are enough, or until it
    /// closes or resets the connection or 3 s pass.
    func receive(until isComplete: ([UInt8]) -> Bool) -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !isComplete(received), case let count = recv(descriptor, &buffer, buffer.count, 0), count > 0 {
            received += buffer[..<count]
        }
        return received
    }

    /// Sends a GET request and returns the response head (the answers tests expect to it have no
    /// body), or what arrived before the server closed the connection.
    func get() -> String {
        guard send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)) else { return "" }
        return String(decoding: receive(until: { $0.ends(with: Array("\r\n\r\n".utf8)) }), as: UTF8.self)
    }

    /// Whether the server closed or reset the connection without sending anything (within 3 s).
    var isClosedByServer: Bool {
        var byte: UInt8 = 0
        let count = recv(descriptor, &byte, 1, 0)
        return count == 0 || (count < 0 && errno == ECONNRESET)
    }

    private static func address(_ host: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        return address
    }
}

/// A TCP server on 127.0.0.1 for responses no well-behaved server sends: for each of `responses`
/// in turn it accepts a connection, reads the request head, writes the response and closes. It
/// gives up after 5 s without a connection. Returns the port.
func serveScripted(_ responses: [String]) -> Int {
    let descriptor = socket(AF_INET, tcpStreamType, 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let listening = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && listen(descriptor, 8) == 0 && getsockname(descriptor, $0, &length) == 0
        }
    }
    guard listening else {
        close(descriptor)
        return 0
    }
    Thread {
        defer { close(descriptor) }
        for response in responses {
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 5000) > 0 else { return }
            let connection = accept(descriptor, nil, nil)
            guard connection >= 0 else { return }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var request: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !request.ends(with: Array("\r\n\r\n".utf8)), case let count = recv(connection, &buffer, buffer.count, 0), count > 0 {
                request += buffer[..<count]
            }
            let bytes = Array(response.utf8)
            _ = send(connection, bytes, bytes.count, 0)
            close(connection)
        }
    }.start()
    return Int(UInt16(bigEndian: address.sin_port))
}

private extension Array where Element: Equatable {
    func ends(with suffix: [Element]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}

// Inside RawConnection, its method `send` would shadow the C function.
private func systemSend(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int, _ flags: Int32) -> Int {
    send(descriptor, bytes, count, flags)
}

#if canImport(Glibc)
private let tcpStreamType = Int32(SOCK_STREAM.rawValue)
#else
private let tcpStreamType = SOCK_STREAM
#endif

/// Keeps the messages logged through it, for tests of what the server logs.
final class RecordingLogHandler: LogHandler, Sendable {
    private let messages = Mutex<[String]>([])
    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        messages.withLock { $0.append(event.message.description) }
    }

    var recorded: [String] { messages.withLock { $0 } }
}
