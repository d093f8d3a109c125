import CPISDomain
import Foundation
import XMLSupport

/// Reads the input as the worker reads an SMSP's answer, and writes what the worker would publish
/// from it: the contract's lookup result, which must be JSON whatever the answer held. The compact
/// document the answer is read into must also read as a libxml2 tree of the same bytes does.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    expectCompactReadsAsTree(bytes)
    guard let response = try? SMSPResponseReader.read(bytes) else { return 0 }
    let result = LookupResult(requestId: "fuzz", nhsNumber: nil, answer: response.answer, attempts: 1)
    precondition((try? JSONSerialization.jsonObject(with: Data(result.json()))) != nil, "the lookup result is not JSON")
    return 0
}

/// Both accept the input or both refuse it, and then agree on every element's name, namespace,
/// children and text (white space aside: the tree leaves out what lies between elements).
func expectCompactReadsAsTree(_ bytes: UnsafeBufferPointer<UInt8>) {
    let limits = XMLParsingLimits(allowsDocumentTypeDeclaration: false)
    let tree = try? XMLDocument(parsing: bytes, limits: limits)
    let compact = try? CompactXMLDocument(parsing: bytes, limits: limits)
    precondition((tree == nil) == (compact == nil), "one of the tree and the compact document refused the input")
    guard let tree, let compact else { return }
    func same(_ tree: XMLElement, _ compact: CompactXMLElement) -> Bool {
        let unspaced = { (text: String) in text.unicodeScalars.filter { !" \t\r\n".unicodeScalars.contains($0) } }
        let (treeChildren, compactChildren) = (tree.childElements, compact.childElements)
        return tree.localName == compact.localName && tree.namespaceURI == compact.namespaceURI
            && String(unspaced(tree.text)) == String(unspaced(compact.text)) && treeChildren.count == compactChildren.count
            && zip(treeChildren, compactChildren).allSatisfy(same)
    }
    precondition(same(tree.rootElement, compact.rootElement), "the compact document reads otherwise than the tree")
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
