import HTTPTransport

/// The client's limits, small enough for libFuzzer's inputs (at most 4 KiB, or the largest seed) to reach.
private let maximumHeadBytes = 1024
private let maximumBodyBytes = 2048

/// Reads the input as the HTTP client reads a response to a GET and to a HEAD (which frames the
/// body differently): each in one piece, byte by byte, and in pieces of 7 bytes. How a socket
/// happens to split the bytes must not change what is read, so the three readings must agree; a
/// disagreement stops the run as a crash.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for method in ["GET", "HEAD"] {
        let whole = reading(bytes, answering: method, readSize: max(1, bytes.count))
        precondition(reading(bytes, answering: method, readSize: 1) == whole, "read byte by byte, the bytes give another result")
        precondition(reading(bytes, answering: method, readSize: 7) == whole, "read in pieces of 7, the bytes give another result")
    }
    return 0
}

/// What the client read: a response, or why it refused one.
private enum Reading: Equatable {
    case response(status: Int, reason: String, headers: HTTPHeaders, body: [UInt8])
    case failure(String)
}

private func reading(_ bytes: [UInt8], answering method: String, readSize: Int) -> Reading {
    switch HTTPMessageReader.response(in: bytes, answering: method, readSize: readSize,
                                      maximumHeadBytes: maximumHeadBytes, maximumBodyBytes: maximumBodyBytes) {
    case .success(let response):
        precondition(response.body.count <= maximumBodyBytes, "a body over the limit was read")
        precondition(method != "HEAD" || response.body.isEmpty, "a response to HEAD has a body")
        return .response(status: response.status, reason: response.reason, headers: response.headers, body: response.body)
    case .failure(let failure):
        return .failure(String(describing: failure))
    }
}

#if !FUZZING
/// Deploy/fuzz.sh builds this target with `-sanitize=fuzzer -DFUZZING`, and libFuzzer supplies
/// `main`; any other build gets this one, so that a plain `swift build` still links the target.
@main enum PlainBuild {
    static func main() {
        print("fuzz-http-response is a libFuzzer target: run it with Deploy/fuzz.sh")
    }
}
#endif
