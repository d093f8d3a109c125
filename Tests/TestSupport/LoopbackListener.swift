#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP listener on 127.0.0.1 and an ephemeral port, to prove that nothing connects to it (e.g.
/// that an XML parser fetched no external entity or DTD from it).
///
/// The kernel completes connections into the listen backlog without an `accept`, so after the code
/// under test has returned, ``connectionCount()`` sees every connection it made, even one it
/// closed at once.
public final class LoopbackListener {
    public let port: UInt16
    private let socketDescriptor: Int32

    public init() throws {
        let descriptor = Self.tcpSocket()
        guard descriptor >= 0 else { throw ListenerError.failed("socket") }
        var address = Self.loopbackAddress(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(descriptor, address, length) == 0 && listen(descriptor, 16) == 0
                    && getsockname(descriptor, address, &length) == 0
            }
        }
        guard bound, fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) == 0 else {
            close(descriptor)
            throw ListenerError.failed("bind/listen")
        }
        socketDescriptor = descriptor
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit {
        close(socketDescriptor)
    }

    /// How many connections have been made since the last call (accepting and closing them).
    public func connectionCount() -> Int {
        var count = 0
        while case let connection = accept(socketDescriptor, nil, nil), connection >= 0 {
            close(connection)
            count += 1
        }
        return count
    }

    /// Connects to the listener and disconnects, as a client would: proves ``connectionCount()``
    /// can see a connection.
    public func connectAndClose() -> Bool {
        let descriptor = Self.tcpSocket()
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = Self.loopbackAddress(port: port)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                connect(descriptor, address, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static func tcpSocket() -> Int32 {
        #if os(Linux)
        socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        socket(AF_INET, SOCK_STREAM, 0)
        #endif
    }

    private static func loopbackAddress(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    public enum ListenerError: Error {
        case failed(String)
    }
}
