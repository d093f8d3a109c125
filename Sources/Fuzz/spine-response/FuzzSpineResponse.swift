import CPISDomain
import Foundation

/// Reads the input as the worker reads Spine's answer and, when it holds records, writes what the
/// worker would publish from them: the contract's lookup result, which must be JSON whatever they held.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let response = try? SpineResponseReader.read(UnsafeBufferPointer(start: data, count: size)),
          case .records(let answer) = response.answer
    else { return 0 }
    let result = LookupResult(requestId: "fuzz", nhsNumber: nil, answer: answer, attempts: 1)
    precondition((try? JSONSerialization.jsonObject(with: Data(result.json()))) != nil, "the lookup result is not JSON")
    return 0
}

#if !FUZZING
/// Deploy/fuzz.sh builds this target with `-sanitize=fuzzer -DFUZZING`, and libFuzzer supplies
/// `main`; any other build gets this one, so that a plain `swift build` still links the target.
@main enum PlainBuild {
    static func main() {
        print("fuzz-spine-response is a libFuzzer target: run it with Deploy/fuzz.sh")
    }
}
#endif
