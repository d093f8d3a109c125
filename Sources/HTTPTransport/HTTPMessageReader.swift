/// Reads HTTP/1.1 messages from bytes in memory, with the parser and the steps ``HTTPServer`` and
/// ``HTTPClient`` use on a connection, but no socket: the entry point of the fuzz targets
/// (`Sources/Fuzz`), and of any test that wants to parse bytes directly.
package enum HTTPMessageReader {
    /// The requests in `bytes`, read as ``HTTPServer`` reads a connection: one after another
    /// (pipelined), until the bytes end or a request does not keep the connection open.
    ///
    /// - Parameter readSize: the most bytes one read returns (at least 1), as a socket hands a
    ///   message over in pieces.
    /// - Returns: the requests read, and the failure that refused the next one (nil when the bytes
    ///   ended between requests).
    package static func requests(in bytes: [UInt8], readSize: Int, limits: HTTPServer.Limits)
        -> (requests: [HTTPRequest], failure: (any Error)?)
    {
        let source = MemorySource(bytes, readSize: readSize)
        var parser = HTTPParser(maximumHeadBytes: limits.maximumHeaderBytes)
        var requests: [HTTPRequest] = []
        do throws(HTTPParser.Failure) {
            // As HTTPServer reads, with no "100 Continue" to write.
            while let received = try parser.readRequest(from: source, maximumBodyBytes: limits.maximumBodyBytes,
                                                        deadline: .none, sendContinue: {}) {
                requests.append(received.request)
                guard received.keepAlive else { break }
            }
        } catch {
            return (requests, error)
        }
        return (requests, nil)
    }

    /// The response in `bytes` to a request with `method`, read as ``HTTPClient`` reads one: interim
    /// (1xx) responses skipped, the body framed as RFC 9112 section 6.3 says for that method.
    ///
    /// - Parameter readSize: the most bytes one read returns (at least 1).
    package static func response(in bytes: [UInt8], answering method: String, readSize: Int,
                                 maximumHeadBytes: Int, maximumBodyBytes: Int)
        -> Result<HTTPResponse, any Error>
    {
        let source = MemorySource(bytes, readSize: readSize)
        var parser = HTTPParser(maximumHeadBytes: maximumHeadBytes)
        do throws(HTTPParser.Failure) {
            return .success(try parser.readResponse(answering: method, from: source, maximumBodyBytes: maximumBodyBytes,
                                                    deadline: .none).response)
        } catch {
            return .failure(error)
        }
    }
}

/// Bytes in memory read like a connection: at most `readSize` of them per read, then the end of
/// the stream.
private final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private let readSize: Int
    private var offset = 0

    init(_ bytes: [UInt8], readSize: Int) {
        precondition(readSize > 0, "a read returns at least one byte before the end of the stream")
        self.bytes = bytes
        self.readSize = readSize
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) -> Int {
        let count = min(readSize, buffer.count, bytes.count - offset)
        bytes.withUnsafeBytes { all in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: all[offset..<offset + count]))
        }
        offset += count
        return count
    }
}
