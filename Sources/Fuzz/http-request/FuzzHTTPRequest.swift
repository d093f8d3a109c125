import HTTPTransport

/// The server's limits, small enough for libFuzzer's inputs (at most 4 KiB, or the largest seed) to reach.
private let limits = HTTPServer.Limits(maximumHeaderBytes: 1024, maximumBodyBytes: 2048)

/// Reads the input as the HTTP server reads a connection: in one piece, byte by byte, and in pieces
/// of 7 bytes. How a socket happens to split the bytes must not change what is read, so the three
/// readings must agree; a disagreement stops the run as a crash.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = reading(bytes, readSize: max(1, bytes.count))
    precondition(reading(bytes, readSize: 1) == whole, "read byte by byte, the bytes give another result")
    precondition(reading(bytes, readSize: 7) == whole, "read in pieces of 7, the bytes give another result")
    return 0
}

/// What the server read: the requests, and why it refused the next one.
private struct Reading: Equatable {
    struct Request: Equatable {
        var method: String
        var target: String
        var headers: HTTPHeaders
        var body: [UInt8]
    }

    var requests: [Request]
    var failure: String?
}

private func reading(_ bytes: [UInt8], readSize: Int) -> Reading {
    let (requests, failure) = HTTPMessageReader.requests(in: bytes, readSize: readSize, limits: limits)
    precondition(requests.allSatisfy { $0.body.count <= limits.maximumBodyBytes }, "a body over the limit was read")
    return Reading(requests: requests.map { .init(method: $0.method, target: $0.target, headers: $0.headers, body: $0.body) },
                   failure: failure.map { String(describing: $0) })
}

#if !FUZZING
/// Deploy/fuzz.sh builds this target with `-sanitize=fuzzer -DFUZZING`, and libFuzzer supplies
/// `main`; any other build gets this one, so that a plain `swift build` still links the target.
@main enum PlainBuild {
    static func main() {
        print("fuzz-http-request is a libFuzzer target: run it with Deploy/fuzz.sh")
    }
}
#endif
