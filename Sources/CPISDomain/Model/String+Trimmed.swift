extension String {
    /// Without leading and trailing spaces, tabs and line breaks. (Foundation's
    /// `trimmingCharacters(in:)` was a twentieth of a lookup's CPU: answers hold hundreds of fields.)
    public var trimmed: String {
        let utf8 = self.utf8
        func isSpace(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
        }
        guard let first = utf8.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = utf8.lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}
