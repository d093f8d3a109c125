import Foundation
import Testing

/// The hazard log (`docs/safety/hazard-log.md`) is evidence only while what it cites is real: every
/// test it names exists, every hazard is assessed in the DCB0129 form with ratings the risk matrix
/// gives, and every SAFETY log line in the code names a hazard of the log. Offline: files only.
@Suite("the hazard log names real tests, and the code's SAFETY log lines name its hazards")
struct HazardLogTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let logPath = "docs/safety/hazard-log.md"

    /// The hazards the log must assess, in this order (issue 17).
    static let hazardIDs = (1...8).map { "HAZ-0\($0)" }
    static let severities = ["Minor", "Significant", "Considerable", "Major", "Catastrophic"]
    static let likelihoods = ["Very low", "Low", "Medium", "High", "Very high"]
    /// The DCB0129/DCB0160 risk matrix: `matrix[likelihood][severity]`, both in the orders above.
    static let matrix = [
        [1, 1, 2, 2, 3],  // Very low
        [1, 2, 2, 3, 4],  // Low
        [2, 2, 3, 3, 4],  // Medium
        [2, 3, 3, 4, 5],  // High
        [3, 4, 4, 5, 5],  // Very high
    ]

    struct Citation: Hashable, CustomStringConvertible {
        var suite: String
        var function: String
        var description: String { "\(suite)/\(function)" }
    }

    /// One hazard's section: from its `## HAZ-0N` heading to the next `## ` heading.
    struct Hazard {
        var id: String
        var lines: [String]

        /// The text of a field (`**Name.** text`, up to the next field).
        func field(_ name: String) -> [String]? {
            guard let start = lines.firstIndex(where: { $0.hasPrefix("**\(name).**") }) else { return nil }
            let end = lines[(start + 1)...].firstIndex { $0.hasPrefix("**") } ?? lines.endIndex
            return Array(lines[start..<end])
        }

        /// The controls: each list item under `**Controls.**`, with its continuation lines.
        var controls: [String] {
            var items: [String] = []
            for line in field("Controls")?.dropFirst() ?? [] {
                if line.hasPrefix("- ") { items.append(line) } else if line.hasPrefix(" "), !items.isEmpty { items[items.count - 1] += line }
            }
            return items
        }
    }

    static func read(_ path: String) throws -> String {
        try String(contentsOf: root.appending(path: path), encoding: .utf8)
    }

    static func hazards(in log: String) -> [Hazard] {
        var hazards: [Hazard] = []
        for line in log.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("## ") {
                let id = line.dropFirst(3).prefix { $0 != " " }
                hazards.append(Hazard(id: id.hasPrefix("HAZ-") ? String(id) : "", lines: []))
            } else if !hazards.isEmpty {
                hazards[hazards.count - 1].lines.append(line)
            }
        }
        return hazards.filter { !$0.id.isEmpty }
    }

    /// Every `Suite/function` in backticks.
    static func citations(in text: String) -> [Citation] {
        text.matches(of: #/`([A-Z][A-Za-z0-9]*)/([a-z][A-Za-z0-9]*)`/#).map {
            Citation(suite: String($0.output.1), function: String($0.output.2))
        }
    }

    /// Swift files under a folder of the repository, with their text.
    static func swiftFiles(under folder: String) throws -> [(path: String, text: String)] {
        let base = root.appending(path: folder)
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) else { return [] }
        var files: [(String, String)] = []
        for case let url as URL in walker where url.pathExtension == "swift" {
            files.append((String(url.path.dropFirst(root.path.count).drop { $0 == "/" }), try String(contentsOf: url, encoding: .utf8)))
        }
        return files
    }

    @Test("every test the hazard log cites exists: a file under Tests/ declares its suite and the function")
    func citedTestsExist() throws {
        let citations = Set(Self.citations(in: try Self.read(Self.logPath)))
        #expect(citations.count >= 20, "the log cites \(citations.count) tests: is it the hazard log?")
        // Each test file with the types it declares (one pass each: a regex per citation and file is slow).
        let tests = try Self.swiftFiles(under: "Tests").map { file in
            (types: Set(file.text.matches(of: #/(?:struct|class) ([A-Za-z0-9_]+)/#).map { String($0.output.1) }),
             text: file.text)
        }
        for citation in citations.sorted(by: { $0.description < $1.description }) {
            let found = tests.contains { $0.types.contains(citation.suite) && $0.text.contains("func \(citation.function)(") }
            #expect(found, """
                \(Self.logPath) cites `\(citation)`, but no file under Tests/ declares `struct \(citation.suite)` with \
                `func \(citation.function)(`: write that test, or cite the test that proves the control
                """)
        }
    }

    @Test("every hazard HAZ-01…08, in order, has causes, its effect on the child, ratings before and after, and tested controls")
    func hazardsAreAssessed() throws {
        let hazards = Self.hazards(in: try Self.read(Self.logPath))
        #expect(hazards.map(\.id) == Self.hazardIDs,
                "\(Self.logPath) must have the sections ## HAZ-01 … ## HAZ-08, each once, in order (it has \(hazards.map(\.id)))")
        for hazard in hazards {
            for name in ["Causes", "Effect on the child"] {
                #expect(hazard.field(name).map { $0.joined().count > "**\(name).** ".count + 20 } == true,
                        "\(hazard.id): write its **\(name).** field")
            }
            for stage in ["Before controls", "After controls"] {
                // "**Before controls.** Severity Major, likelihood Medium: risk 3."
                let text = hazard.field(stage)?.joined(separator: " ") ?? ""
                guard let rating = text.firstMatch(of: #/Severity ([A-Za-z]+), likelihood ([A-Za-z ]+?): risk ([1-5])/#),
                      let severity = Self.severities.firstIndex(of: String(rating.output.1)),
                      let likelihood = Self.likelihoods.firstIndex(of: String(rating.output.2))
                else {
                    Issue.record("""
                        \(hazard.id): **\(stage).** must say "Severity <\(Self.severities.joined(separator: "|"))>, \
                        likelihood <\(Self.likelihoods.joined(separator: "|"))>: risk <1-5>"
                        """)
                    continue
                }
                let given = Int(rating.output.3)
                let matrix = Self.matrix[likelihood][severity]
                #expect(given == matrix, """
                    \(hazard.id) \(stage): severity \(rating.output.1) and likelihood \(rating.output.2) are risk \(matrix) \
                    in the DCB0129 matrix, not \(given ?? 0): correct the rating or the assessment
                    """)
            }
            let controls = hazard.controls
            #expect(controls.contains { !Self.citations(in: $0).isEmpty },
                    "\(hazard.id): at least one control must name the test that proves it, as `Suite/function`")
            for control in controls where Self.citations(in: control).isEmpty && !control.contains("*Procedural*") {
                Issue.record("""
                    \(hazard.id): the control "\(control.prefix(80))…" names no test: cite the tests that prove it, \
                    or mark it *Procedural* (a rule for people or the EPR that no test of ours can prove)
                    """)
            }
        }
    }

    @Test("every SAFETY log line in Sources names its hazard, SAFETY HAZ-0N:, and the hazard is in the log")
    func safetyLinesNameHazards() throws {
        let logged = Set(Self.hazards(in: try Self.read(Self.logPath)).map(\.id))
        var found = 0
        for (path, text) in try Self.swiftFiles(under: "Sources") {
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.contains("\"SAFETY") || line.contains("SAFETY:") {
                found += 1
                let hazard = line.firstMatch(of: #/"SAFETY (HAZ-[0-9]{2}): /#).map { String($0.output.1) }
                #expect(hazard.map { logged.contains($0) } == true, """
                    \(path):\(number + 1): a SAFETY log line must begin "SAFETY HAZ-0N: " with a hazard of \
                    \(Self.logPath) (HAZ-01 … HAZ-08), so that whoever reads the log can find the hazard it is about
                    """)
            }
        }
        #expect(found > 0, "no SAFETY log line found in Sources: the wrong-patient refusal logs one")
    }
}
