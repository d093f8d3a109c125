import CPISDomain
import Foundation

/// Reads the input as the front door and the SMSP simulator read a SOAP request, and checks what
/// was read as they do. Refusing it is expected; crashing is not.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let request = try? SMSPRequestReader.read(UnsafeBufferPointer(start: data, count: size)) else { return 0 }
    _ = inspector.problems(soapAction: SMSPConstants.requestService, request: request, now: fixedNow)
    return 0
}

private let inspector = SMSPRequestInspector(expectedTo: "https://smsp.example/cpis")
private let fixedNow = Date(timeIntervalSince1970: 1_795_000_000)

#if !FUZZING
/// Deploy/fuzz.sh builds this target with `-sanitize=fuzzer -DFUZZING`, and libFuzzer supplies
/// `main`; any other build gets this one, so that a plain `swift build` still links the target.
@main enum PlainBuild {
    static func main() {
        print("fuzz-smsp-request is a libFuzzer target: run it with Deploy/fuzz.sh")
    }
}
#endif
