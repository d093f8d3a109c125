import Foundation
import Testing
import XMLSupport

@Suite("DTDs and entities are parsed but never expanded or loaded")
struct EntityHardeningTests {
    @Test func theListenerSeesAConnectionWhenThereIsOne() throws {
        // Without this, "zero connections" below would prove nothing.
        let listener = try LoopbackListener()
        #expect(listener.connectAndClose())
        #expect(listener.connectionCount() == 1)
        #expect(listener.connectionCount() == 0)
    }

    @Test func entitiesAreNeitherExpandedNorLoaded() throws {
        let listener = try LoopbackListener()
        let directory = try TemporaryDirectory()
        let secret = "SECRET-\(UUID().uuidString)"
        let secretFile = try directory.write(secret, to: "secret.txt")
        let text = """
        <?xml version="1.0"?>
        <!DOCTYPE r [
          <!ENTITY internal "EXPANDED">
          <!ENTITY file SYSTEM "\(secretFile.absoluteString)">
          <!ENTITY network SYSTEM "http://127.0.0.1:\(listener.port)/x">
          <!ENTITY % parameter SYSTEM "http://127.0.0.1:\(listener.port)/p.dtd">
          %parameter;
        ]>
        <r a="[&internal;]"><t>before &internal; &file; &network; after</t></r>
        """
        let document = try parse(text)
        #expect(document.hasDocumentTypeDeclaration)
        let root = document.rootElement
        for value in [root.text, try document.string(matching: "/r/t") ?? "", root.attribute("a") ?? ""] {
            #expect(!value.contains("EXPANDED"))
            #expect(!value.contains(secret))
        }
        #expect(root.text == "before    after")
        #expect(root.attribute("a") == "[]")
        #expect(listener.connectionCount() == 0)
    }

    @Test func externalDTDIsNotLoaded() throws {
        let listener = try LoopbackListener()
        let document = try parse("""
        <?xml version="1.0"?>
        <!DOCTYPE r SYSTEM "http://127.0.0.1:\(listener.port)/x.dtd">
        <r>ok</r>
        """)
        #expect(document.hasDocumentTypeDeclaration)
        #expect(document.rootElement.text == "ok")
        #expect(listener.connectionCount() == 0)
    }

    @Test func billionLaughsNeverExpands() throws {
        var declarations = #"<!ENTITY lol0 "lol">"#
        for level in 1...9 {
            let previous = String(repeating: "&lol\(level - 1);", count: 10)
            declarations += "\n<!ENTITY lol\(level) \"\(previous)\">"
        }
        let text = "<?xml version=\"1.0\"?>\n<!DOCTYPE r [\n\(declarations)\n]>\n<r>&lol9;</r>"
        let clock = ContinuousClock()
        let start = clock.now
        do throws(XMLError) {
            let document = try parse(text)
            #expect(!document.rootElement.text.contains("lol"))
        } catch {
            #expect(error.code == .notWellFormed)
        }
        #expect(clock.now - start < .seconds(2))
    }
}
