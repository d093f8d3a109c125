#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Random (version 4) UUIDs as upper-case text, for the identifiers every message needs fresh.
///
/// Foundation's `UUID()` on Linux opens, reads and closes `/dev/urandom` for each UUID: three system
/// calls, and a lookup needs six UUIDs. This takes the same kernel randomness (`arc4random_buf`)
/// 4 KiB at a time and formats the text itself.
public enum FreshUUID {
    private static let pool = Mutex(RandomPool())

    /// A new UUID such as `"0F8FAD5B-D9CB-469F-A165-70867728950E"`.
    public static func string() -> String {
        var bytes = pool.withLock { $0.next() }
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = raw[6] & 0x0F | 0x40   // version 4
            raw[8] = raw[8] & 0x3F | 0x80   // RFC 9562 variant
            return format(UnsafeRawBufferPointer(raw))
        }
    }

    private static func format(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: 36) { text in
            let digits: StaticString = "0123456789ABCDEF"
            var index = 0
            for (position, byte) in bytes.enumerated() {
                if position == 4 || position == 6 || position == 8 || position == 10 {
                    text[index] = UInt8(ascii: "-")
                    index += 1
                }
                text[index] = digits.utf8Start[Int(byte >> 4)]
                text[index + 1] = digits.utf8Start[Int(byte & 0x0F)]
                index += 2
            }
            return index
        }
    }

    private struct RandomPool: ~Copyable {
        private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        private var used = 4096

        /// The next 16 random bytes.
        mutating func next() -> (UInt64, UInt64) {
            if used == buffer.count {
                arc4random_buf(buffer.baseAddress!, buffer.count)
                used = 0
            }
            defer { used += 16 }
            return (buffer.load(fromByteOffset: used, as: UInt64.self), buffer.load(fromByteOffset: used + 8, as: UInt64.self))
        }

        deinit { buffer.deallocate() }
    }
}
