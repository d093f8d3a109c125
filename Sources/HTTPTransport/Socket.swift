#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation
import Synchronization

/// One non-blocking TCP socket: the only type in this module that makes socket system calls.
///
/// Every socket is non-blocking and close-on-exec; waiting is `poll(2)` bounded by a ``Deadline``.
/// A socket belongs to one thread at a time (its ``Connection``'s owner, or the server's accept
/// thread), which is why it can be `@unchecked Sendable`. The exception is ``shutdownBoth()``, which
/// another thread may call to wake the owner out of a `poll`; it and ``close()`` exclude each other
/// through a mutex, so a closed descriptor number, which the system may already have reused for
/// another file, is never shut down.
///
/// SIGPIPE: OpenSSL writes to its sockets with `write(2)`, which raises SIGPIPE when the peer has
/// gone and which no flag can prevent on Linux, so the first socket this module creates sets SIGPIPE
/// to ignored for the whole process (writes then fail with EPIPE, reported as a closed connection).
final class Socket: @unchecked Sendable {
    let descriptor: Int32
    private let isClosed = Mutex(false)

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    enum Event {
        case readable, writable
    }

    // Evaluated once, on first use, by Swift's thread-safe lazy initialisation of static stored properties.
    private static let sigpipeIgnored: Void = {
        _ = signal(SIGPIPE, SIG_IGN)
    }()

    // MARK: - Making sockets

    /// Connects to the first address of `host` that accepts within the deadline; looking the name
    /// up (with `lookUp`) counts against the deadline too.
    static func connect(host: String, port: Int, deadline: Deadline, lookUp: @escaping Lookup) throws(IOError) -> Socket {
        _ = sigpipeIgnored
        var lastError = IOError.system("\(host) has no address")
        for address in try resolve(host: host, port: port, deadline: deadline, lookUp: lookUp) {
            do throws(IOError) {
                return try connect(to: address, deadline: deadline)
            } catch .timedOut {
                throw .timedOut
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    private static func connect(to address: Address, deadline: Deadline) throws(IOError) -> Socket {
        let socket = try Socket(family: address.family, type: address.type, protocol: address.protocol)
        do throws(IOError) {
            socket.disableNagle()
            if address.withSockaddr({ systemConnect(socket.descriptor, $0, address.length) }) != 0 {
                guard errno == EINPROGRESS else { throw IOError.system(errnoDescription()) }
                try socket.wait(for: .writable, deadline: deadline)
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(socket.descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
                guard error == 0 else { throw IOError.system(errnoDescription(error)) }
            }
            return socket
        } catch {
            socket.close()
            throw error
        }
    }

    /// A listening socket bound to `host` (a numeric address or a name) and `port` (0: ephemeral).
    static func listen(host: String, port: Int, backlog: Int32) throws(IOError) -> Socket {
        _ = sigpipeIgnored
        guard let address = try addresses(of: host, port: port, passive: true).first else {
            throw .system("cannot listen on \(host):\(port): it has no address")
        }
        let socket = try Socket(family: address.family, type: address.type, protocol: address.protocol)
        var reuse: Int32 = 1
        // Lets a restarted server bind its port while old connections are in TIME_WAIT.
        setsockopt(socket.descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        guard address.withSockaddr({ bind(socket.descriptor, $0, address.length) }) == 0,
              systemListen(socket.descriptor, backlog) == 0
        else {
            let reason = errnoDescription()
            socket.close()
            throw .system("cannot listen on \(host):\(port): \(reason)")
        }
        return socket
    }

    /// A connected pair of local sockets. Shutting one down makes the other readable: the server
    /// wakes its accept loop this way.
    static func pair() throws(IOError) -> (Socket, Socket) {
        var descriptors: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, streamSocketType, 0, &descriptors) == 0 else {
            throw .system("socketpair: \(errnoDescription())")
        }
        let pair = (Socket(descriptor: descriptors[0]), Socket(descriptor: descriptors[1]))
        pair.0.configure()
        pair.1.configure()
        return pair
    }

    /// Waits, with no deadline, until this listening socket has a connection to accept (`true`) or
    /// `waker` becomes readable (`false`).
    func waitForConnection(orWakeUpFrom waker: Socket) throws(IOError) -> Bool {
        var entries = [pollfd(descriptor: descriptor, event: .readable), pollfd(descriptor: waker.descriptor, event: .readable)]
        while true {
            if poll(&entries, 2, -1) > 0 { return entries[1].revents == 0 }
            guard errno == EINTR else { throw .system("poll: \(Self.errnoDescription())") }
        }
    }

    /// Accepts one pending connection; `nil` when none is pending (the caller polls and tries again).
    /// `host` is the peer's numeric address alone, `address` with its port.
    func accept() throws(IOError) -> (socket: Socket, host: String, address: String)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let accepted = withUnsafeMutablePointer(to: &storage) { storage in
            storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { systemAccept(descriptor, $0, &length) }
        }
        guard accepted >= 0 else {
            switch errno {
            case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED: return nil
            default: throw .system(Self.errnoDescription())
            }
        }
        let socket = Socket(descriptor: accepted)
        socket.configure()
        socket.disableNagle()
        let peer = withUnsafePointer(to: &storage) { storage in
            storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { Self.describe($0, length: length) }
        }
        return (socket, peer.host, peer.text)
    }

    private convenience init(family: Int32, type: Int32, protocol: Int32) throws(IOError) {
        let descriptor = systemSocket(family, type, `protocol`)
        guard descriptor >= 0 else { throw .system("socket: \(Self.errnoDescription())") }
        self.init(descriptor: descriptor)
        configure()
    }

    private func configure() {
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        // Child processes (the tests and the worker start some) must not inherit connections.
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
    }

    /// Sets TCP_NODELAY. A message is written whole, but TLS writes it as several records and TCP
    /// as several segments; Nagle's algorithm would hold back the last small piece until the peer
    /// acknowledges the rest, which a peer delaying its acknowledgements makes a 40 ms stall.
    private func disableNagle() {
        var noDelay: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
    }

    // MARK: - Using sockets

    /// The local port (after binding to port 0, the one the system chose).
    var localPort: Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &storage) { storage in
            storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                guard getsockname(descriptor, address, &length) == 0 else { return 0 }
                return Self.describe(address, length: length).port
            }
        }
    }

    /// Waits until the socket is readable or writable (or has failed, which the next call reports).
    func wait(for event: Event, deadline: Deadline) throws(IOError) {
        var entry = pollfd(descriptor: descriptor, event: event)
        while true {
            let ready = poll(&entry, 1, deadline.pollTimeout)
            if ready > 0 { return }
            if ready == 0 { throw .timedOut }
            guard errno == EINTR else { throw .system("poll: \(Self.errnoDescription())") }
        }
    }

    /// Whether an idle socket has something to say: data, end of stream or an error. An idle
    /// keep-alive connection should have nothing, so any of these means it can no longer be used.
    var hasPendingEvent: Bool {
        var entry = pollfd(descriptor: descriptor, event: .readable)
        return poll(&entry, 1, 0) != 0
    }

    /// Reads what is available: a count (0 is end of stream), or `nil` if nothing is (would block).
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> Int? {
        while true {
            let count = recv(descriptor, buffer.baseAddress, buffer.count, 0)
            if count >= 0 { return count }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default: throw Self.failure()
            }
        }
    }

    /// Writes what the kernel takes now: a count, or `nil` if it takes nothing (would block).
    func send(_ bytes: UnsafeRawBufferPointer) throws(IOError) -> Int? {
        while true {
            let count = systemSend(descriptor, bytes.baseAddress, bytes.count, 0)
            if count >= 0 { return count }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default: throw Self.failure()
            }
        }
    }

    /// Sends FIN: the peer reads end of stream while we can still read what it sends.
    func shutdownWrite() {
        _ = systemShutdown(descriptor, Int32(SHUT_WR))
    }

    /// Ends both directions without releasing the descriptor; wakes a thread polling this socket.
    /// The one method another thread may call (see the type's documentation); nothing once closed.
    func shutdownBoth() {
        isClosed.withLock { isClosed in
            if !isClosed { _ = systemShutdown(descriptor, Int32(SHUT_RDWR)) }
        }
    }

    /// Releases the descriptor (once; later calls do nothing).
    func close() {
        close(resetting: false)
    }

    /// Closes with a TCP reset (RST) instead of an orderly FIN: `SO_LINGER` with a zero timeout.
    func resetAndClose() {
        close(resetting: true)
    }

    private func close(resetting: Bool) {
        isClosed.withLock { isClosed in
            guard !isClosed else { return }
            if resetting {
                var option = linger(l_onoff: 1, l_linger: 0)
                setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
            }
            _ = systemClose(descriptor)
            isClosed = true
        }
    }

    // MARK: - Helpers

    /// Whether `host` is a numeric IPv4 or IPv6 address rather than a name.
    static func isIPAddress(_ host: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET, host, &address) == 1 || inet_pton(AF_INET6, host, &address) == 1
    }

    // MARK: - Name resolution

    /// One address of a host, copied out of `getaddrinfo`'s list (which is freed at once).
    struct Address: Sendable {
        let family: Int32
        let type: Int32
        let `protocol`: Int32
        let storage: sockaddr_storage
        let length: socklen_t

        func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>) -> Result) -> Result {
            withUnsafePointer(to: storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1, body) }
        }
    }

    /// How the client finds a host's addresses: ``addresses(of:port:passive:)`` unless a test
    /// stands in a slow resolver.
    typealias Lookup = @Sendable (_ host: String, _ port: Int) throws(IOError) -> [Address]

    /// The addresses of `host` (`getaddrinfo`, which blocks for as long as the resolver takes).
    static func addresses(of host: String, port: Int, passive: Bool = false) throws(IOError) -> [Address] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = streamSocketType
        hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let list else {
            throw .system("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var addresses: [Address] = []
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let current = entry?.pointee {
            entry = current.ai_next
            guard let address = current.ai_addr, Int(current.ai_addrlen) <= MemoryLayout<sockaddr_storage>.size else { continue }
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(current.ai_addrlen))) }
            addresses.append(Address(family: current.ai_family, type: current.ai_socktype, protocol: current.ai_protocol,
                                     storage: storage, length: current.ai_addrlen))
        }
        return addresses
    }

    /// The addresses of `host`, waiting for `lookUp` no later than the deadline: `getaddrinfo` has no
    /// timeout of its own, so a name is looked up on a thread of its own, which is abandoned at the
    /// deadline (it ends when the resolver answers, and its result is dropped). A numeric address
    /// needs no resolver, so no thread.
    private static func resolve(host: String, port: Int, deadline: Deadline, lookUp: @escaping Lookup) throws(IOError) -> [Address] {
        guard !isIPAddress(host) else { return try lookUp(host, port) }
        let lookup = PendingLookup()
        let thread = Thread {
            lookup.finish(Result { () throws(IOError) in try lookUp(host, port) })
        }
        thread.name = "http-resolve"
        thread.start()
        return try lookup.result(by: deadline).get()
    }

    /// The numeric host and port of a socket address, as `getnameinfo` gives them, and both as text.
    private static func describe(_ address: UnsafePointer<sockaddr>, length: socklen_t) -> (host: String, port: Int, text: String) {
        // NI_MAXHOST and NI_MAXSERV (1025, 32) are not visible in every C library's Swift overlay.
        var host = [CChar](repeating: 0, count: 1025)
        var service = [CChar](repeating: 0, count: 32)
        guard getnameinfo(address, length, &host, socklen_t(host.count), &service, socklen_t(service.count),
                          NI_NUMERICHOST | NI_NUMERICSERV) == 0
        else { return ("unknown", 0, "unknown") }
        let hostText = string(fromNulTerminated: host)
        let port = Int(string(fromNulTerminated: service)) ?? 0
        return (hostText, port, hostText.contains(":") ? "[\(hostText)]:\(port)" : "\(hostText):\(port)")
    }

    private static func string(fromNulTerminated characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func failure() -> IOError {
        switch errno {
        case ECONNRESET, EPIPE, ECONNABORTED, ETIMEDOUT: .reset(errnoDescription())
        default: .system(errnoDescription())
        }
    }

    static func errnoDescription(_ code: Int32 = errno) -> String {
        String(cString: strerror(code)).lowercased()
    }
}

/// The outcome of a lookup running on another thread. The thread and the waiter each hold it; if
/// the waiter gives up, the thread's reference is the last and the outcome is freed with it.
private final class PendingLookup: Sendable {
    private let outcome = Mutex<Result<[Socket.Address], IOError>?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    func finish(_ result: Result<[Socket.Address], IOError>) {
        outcome.withLock { $0 = result }
        finished.signal()
    }

    /// The outcome, or ``IOError/timedOut`` if the lookup has not finished by the deadline.
    func result(by deadline: Deadline) -> Result<[Socket.Address], IOError> {
        // A semaphore may wake a little before the deadline: wait again until it has passed.
        while finished.wait(timeout: deadline.dispatchTime) == .timedOut {
            if deadline.hasPassed { return .failure(.timedOut) }
        }
        // finish(_:) stores the outcome before it signals, so it is there.
        return outcome.withLock { $0 } ?? .failure(.timedOut)
    }
}

private extension pollfd {
    init(descriptor: Int32, event: Socket.Event) {
        self.init(fd: descriptor, events: Int16(event == .readable ? POLLIN : POLLOUT), revents: 0)
    }
}

// File-scope wrappers for the C functions whose names the methods above reuse: inside the type, the
// methods would shadow them.
private func systemSocket(_ family: Int32, _ type: Int32, _ proto: Int32) -> Int32 { socket(family, type, proto) }
private func systemConnect(_ descriptor: Int32, _ address: UnsafePointer<sockaddr>?, _ length: socklen_t) -> Int32 {
    connect(descriptor, address, length)
}
private func systemListen(_ descriptor: Int32, _ backlog: Int32) -> Int32 { listen(descriptor, backlog) }
private func systemAccept(_ descriptor: Int32, _ address: UnsafeMutablePointer<sockaddr>?,
                          _ length: UnsafeMutablePointer<socklen_t>?) -> Int32 {
    accept(descriptor, address, length)
}
private func systemSend(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int, _ flags: Int32) -> Int {
    send(descriptor, bytes, count, flags)
}
private func systemShutdown(_ descriptor: Int32, _ how: Int32) -> Int32 { shutdown(descriptor, how) }
private func systemClose(_ descriptor: Int32) -> Int32 { close(descriptor) }

#if canImport(Glibc)
private let streamSocketType = Int32(SOCK_STREAM.rawValue)
#else
private let streamSocketType = SOCK_STREAM
#endif
