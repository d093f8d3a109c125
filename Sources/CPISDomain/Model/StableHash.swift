/// 64-bit FNV-1a, in hex: the same for the same bytes in every process and after every restart,
/// unlike Swift's seeded `Hasher` (a batch file's fingerprint, a front-door client's part of a
/// lookup's `message_id`). Not for secrets.
public enum StableHash {
    public static func fnv1a(_ bytes: some Sequence<UInt8>) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
