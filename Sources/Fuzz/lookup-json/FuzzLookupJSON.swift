import CPISDomain

/// Reads the input as the worker's intake reads a lookup request's body. A request read must also
/// survive `json()` (what tools and tests publish requests with): written and read back, it is the same.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let request = try? LookupRequest(json: UnsafeBufferPointer(start: data, count: size)) else { return 0 }
    precondition((try? LookupRequest(json: request.json())) == request, "a request read back from its json() differs")
    return 0
}

#if !FUZZING
/// Deploy/fuzz.sh builds this target with `-sanitize=fuzzer -DFUZZING`, and libFuzzer supplies
/// `main`; any other build gets this one, so that a plain `swift build` still links the target.
@main enum PlainBuild {
    static func main() {
        print("fuzz-lookup-json is a libFuzzer target: run it with Deploy/fuzz.sh")
    }
}
#endif
