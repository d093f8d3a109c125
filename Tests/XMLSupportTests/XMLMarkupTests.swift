import Testing
import XMLSupport

/// Markup made by interpolation: every value escaped, optional parts left out.
@Suite("XML markup")
struct XMLMarkupTests {
    @Test("interpolated values are escaped; characters XML cannot carry become U+FFFD")
    func escaping() {
        let name = "Tom & Jerry <script>\"'"
        let markup: XMLMarkup = "<name a=\"\(name)\">\(name)\u{01}</name>"
        #expect(markup.text == "<name a=\"Tom &amp; Jerry &lt;script&gt;&quot;&apos;\">Tom &amp; Jerry &lt;script&gt;&quot;&apos;\u{01}</name>")
        let control: XMLMarkup = "<v>\("a\u{01}b")</v>"
        #expect(control.text == "<v>a\u{FFFD}b</v>")
    }

    @Test("an optional element is written in place, escaped, or left out when nil")
    func optionalElements() {
        let given: String? = "Amy & Co"
        let prefix: String? = nil
        let markup: XMLMarkup = "<name>\(element: "prefix", prefix)\(element: "given", given)</name>"
        #expect(markup.text == "<name><given>Amy &amp; Co</given></name>")
    }
}
