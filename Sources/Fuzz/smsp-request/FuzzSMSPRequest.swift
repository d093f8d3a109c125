import CPISDomain

/// Reads the input as the SMSP simulator reads a SOAP request. Refusing it is expected; crashing is not.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    _ = try? SMSPRequestReader.read(UnsafeBufferPointer(start: data, count: size))
    return 0
}

#if !FUZZING
/// Deploy/fuzz.sh builds this target with `-sanitize=fuzzer -DFUZZING`, and libFuzzer supplies
/// `main`; any other build gets this one, so that a plain `swift build` still links the target.
@main enum PlainBuild {
    static func main() {
        print("fuzz-smsp-request is a libFuzzer target: run it with Deploy/fuzz.sh")
    }
}
#endif
