import CPISDomain
import Foundation
import Testing

@Suite("Fresh UUIDs")
struct FreshUUIDTests {
    @Test("version 4, RFC 9562 variant, upper case, as Foundation reads them")
    func format() throws {
        for _ in 0..<1_000 {
            let text = FreshUUID.string()
            let parsed = try #require(UUID(uuidString: text))
            #expect(parsed.uuidString == text)
            let bytes = withUnsafeBytes(of: parsed.uuid) { Array($0) }
            #expect(bytes[6] >> 4 == 4)
            #expect(bytes[8] >> 6 == 0b10)
        }
    }

    @Test("no repeats across refills of the random pool, from many threads")
    func unique() async {
        let batches = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<5_000).map { _ in FreshUUID.string() } }
            }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(Set(batches).count == 40_000)
    }
}
