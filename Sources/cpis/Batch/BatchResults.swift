import Foundation

/// The batch's results file, written as each result arrives: CSV (`.csv`) or JSON lines (`.jsonl`).
/// A re-run reads it back and sends only the rows not answered yet. Beside it, a journal
/// (`<results>.sent`) lists the rows the broker has confirmed, so that a re-run does not ask CP-IS
/// twice about a row whose result is still on its way.
final class BatchResults {
    enum Format { case csv, jsonLines }

    let url: URL
    let format: Format
    /// Lines of the batch file already answered.
    private(set) var answered: Set<Int> = []
    /// Lines already sent (confirmed by the broker), answered or not.
    private(set) var sent: Set<Int> = []
    private let results: FileHandle
    private let journal: FileHandle

    static let csvHeader = "line,request_id,nhs_number,outcome,response_code,records,local_authorities,error_kind,error"

    init(url: URL) throws {
        self.url = url
        format = ["jsonl", "json", "ndjson"].contains(url.pathExtension.lowercased()) ? .jsonLines : .csv
        let journalURL = url.appendingPathExtension("sent")
        let manager = FileManager.default
        if manager.fileExists(atPath: url.path) {
            let text = try String(contentsOf: url, encoding: .utf8)
            for line in text.split(separator: "\n") {
                if let number = Self.lineNumber(of: line, format: format) { answered.insert(number) }
            }
        } else {
            guard manager.createFile(atPath: url.path, contents: format == .csv ? Data((Self.csvHeader + "\n").utf8) : nil) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: url.path])
            }
        }
        if manager.fileExists(atPath: journalURL.path) {
            sent = Set(try String(contentsOf: journalURL, encoding: .utf8).split(separator: "\n").compactMap { Int($0) })
        } else {
            guard manager.createFile(atPath: journalURL.path, contents: nil) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: journalURL.path])
            }
        }
        results = try FileHandle(forWritingTo: url)
        try results.seekToEnd()
        journal = try FileHandle(forWritingTo: journalURL)
        try journal.seekToEnd()
    }

    /// Records that the broker confirmed the row's request.
    func recordSent(line: Int) throws {
        sent.insert(line)
        try journal.write(contentsOf: Data("\(line)\n".utf8))
    }

    /// Writes one result (the contract's JSON) for `line`, unless that line already has one.
    /// Returns the outcome written, or nil for a repeat.
    func record(line: Int, result: [String: Any], raw: [UInt8]) throws -> String? {
        guard answered.insert(line).inserted else { return nil }
        let outcome = result["outcome"] as? String ?? "unknown"
        let text: String
        switch format {
        case .jsonLines:
            text = "{\"line\":\(line),\"result\":\(String(decoding: raw, as: UTF8.self))}\n"
        case .csv:
            let code = (result["responseCode"] as? [String: Any])?["code"] as? String
            let records = result["records"] as? [[String: Any]] ?? []
            let authorities = Set(records.compactMap { ($0["localAuthority"] as? [String: Any])?["name"] as? String })
            let error = result["error"] as? [String: Any]
            let cells: [String?] = [String(line), result["requestId"] as? String, result["nhsNumber"] as? String, outcome, code,
                                    String(records.count), authorities.sorted().joined(separator: "; "),
                                    error?["kind"] as? String, error?["message"] as? String]
            text = cells.map { Self.csvCell($0 ?? "") }.joined(separator: ",") + "\n"
        }
        try results.write(contentsOf: Data(text.utf8))
        return outcome
    }

    /// Everything answered: the journal has served its purpose.
    func finish(complete: Bool) throws {
        try results.synchronize()
        try results.close()
        try journal.close()
        if complete { try FileManager.default.removeItem(at: url.appendingPathExtension("sent")) }
    }

    private static func lineNumber(of line: Substring, format: Format) -> Int? {
        switch format {
        case .csv:
            return Int(line.prefix { $0 != "," })
        case .jsonLines:
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return object["line"] as? Int
        }
    }

    private static func csvCell(_ text: String) -> String {
        text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
            ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
}
