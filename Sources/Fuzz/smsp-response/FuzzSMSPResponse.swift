import CPISDomain
import Foundation

/// Reads the input as the worker reads an SMSP's answer, and writes what the worker would publish
/// from it: the contract's lookup result, which must be JSON whatever the answer held.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let response = try? SMSPResponseReader.read(UnsafeBufferPointer(start: data, count: size)) else { return 0 }
    let result = LookupResult(requestId: "fuzz", nhsNumber: nil, answer: response.answer, attempts: 1)
    precondition((try? JSONSerialization.jsonObject(with: Data(result.json()))) != nil, "the lookup result is not JSON")
    return 0
}

#if !FUZZING
/// Deploy/fuzz.sh builds this target with `-sanitize=fuzzer -DFUZZING`, and libFuzzer supplies
/// `main`; any other build gets this one, so that a plain `swift build` still links the target.
@main enum PlainBuild {
    static func main() {
        print("fuzz-smsp-response is a libFuzzer target: run it with Deploy/fuzz.sh")
    }
}
#endif
