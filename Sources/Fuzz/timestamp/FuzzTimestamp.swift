import CPISDomain
import Foundation

/// Reads the input as the front door and the simulator read `wsu:Created` and `wsu:Expires` (and the
/// contract's reader its times). Refusing it is expected; crashing is not. What it reads must be the
/// instant it says: written back in UTC, it is within half a millisecond, and that text reads and
/// writes back unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let date = UTCTimestamp.date(text) else { return 0 }
    // Years 0001–9998 only: an offset can move 0000-01-01 or 9999-12-31 out of the four-digit years
    // the writer's form has.
    guard date > earliest, date < latest else { return 0 }
    let written = UTCTimestamp.string(date)
    guard let again = UTCTimestamp.date(written) else { fatalError("'\(written)', written from '\(text)', does not read back") }
    // Half a millisecond, and the Double's own resolution at that distance from 1970.
    let tolerance = 0.0005 + abs(date.timeIntervalSince1970).ulp * 4
    guard abs(again.timeIntervalSince1970 - date.timeIntervalSince1970) <= tolerance, UTCTimestamp.string(again) == written else {
        fatalError("'\(text)' read as \(date.timeIntervalSince1970), written as '\(written)', read back as "
            + "\(again.timeIntervalSince1970), written again as '\(UTCTimestamp.string(again))'")
    }
    return 0
}

private let earliest = Date(timeIntervalSince1970: -62_135_596_800 + 86_400)   // 0001-01-02
private let latest = Date(timeIntervalSince1970: 253_402_214_400)               // 9999-12-31

#if !FUZZING
/// Deploy/fuzz.sh builds this target with `-sanitize=fuzzer -DFUZZING`, and libFuzzer supplies
/// `main`; any other build gets this one, so that a plain `swift build` still links the target.
@main enum PlainBuild {
    static func main() {
        print("fuzz-timestamp is a libFuzzer target: run it with Deploy/fuzz.sh")
    }
}
#endif
