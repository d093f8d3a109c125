import CPISDomain
import Foundation

/// The batch's results file, written as each result arrives: CSV (`.csv`) or JSON lines (`.jsonl`),
/// readable by its owner only (it holds NHS numbers and child-protection status). Beside it, a
/// journal (`<results>.journal`) names the batch, lists each row before it is sent (`12`), and
/// again once the broker has confirmed it (`12 confirmed`).
///
/// The journal is what makes a re-run safe. It holds the batch's id, made at random on the first
/// run (so a new run of the same file is a new batch, never mistaken by workers for the old one),
/// and the batch file's fingerprint (so a different file cannot resume this batch). After an
/// interruption, a re-run waits for the results of confirmed rows, which the broker holds. A row
/// journalled but not confirmed may never have reached the broker: the re-run publishes it again
/// under its same message id, so that a worker that has it already answers it once. Confirmed rows
/// that never get a result are reported, and sent again only when asked (`--resend-unanswered`),
/// because CP-IS may have been asked about them already.
final class BatchResults {
    enum Format { case csv, jsonLines }

    /// Why a results file cannot be used for this batch.
    struct Refusal: Error, CustomStringConvertible {
        let description: String
    }

    let url: URL
    let format: Format
    /// This batch's id: the prefix of its requests' `message_id`s.
    let batchID: String
    /// Lines of the batch file already answered.
    private(set) var answered: Set<Int> = []
    /// Lines journalled for sending (answered or not).
    private(set) var journalled: Set<Int> = []
    /// Lines whose request the broker has confirmed (it holds them until a worker answers).
    private(set) var confirmed: Set<Int> = []
    private let results: FileHandle
    private let journal: FileHandle

    static let csvHeader = "line,request_id,nhs_number,outcome,response_code,records,local_authorities,error_kind,error"

    /// Opens the results of the batch read from a file with `fingerprint`: resumes the batch its
    /// journal names, or starts a new one when neither file exists.
    init(url: URL, fingerprint: String) throws {
        self.url = url
        format = ["jsonl", "json", "ndjson"].contains(url.pathExtension.lowercased()) ? .jsonLines : .csv
        let journalURL = url.appendingPathExtension("journal")
        let manager = FileManager.default
        switch (manager.fileExists(atPath: url.path), manager.fileExists(atPath: journalURL.path)) {
        case (false, false):
            batchID = String(FreshUUID.string().filter(\.isHexDigit).prefix(16)).lowercased()
            try Self.create(url, contents: format == .csv ? Self.csvHeader + "\n" : "")
            try Self.create(journalURL, contents: "batch \(batchID) \(fingerprint)\n")
        case (true, true):
            let lines = try String(contentsOf: journalURL, encoding: .utf8).split(separator: "\n")
            let header = lines.first?.split(separator: " ") ?? []
            guard header.count == 3, header[0] == "batch" else {
                throw Refusal(description: "\(journalURL.path) is not a batch journal")
            }
            guard header[2] == fingerprint else {
                throw Refusal(description: "\(url.path) holds the results of another batch file (the file has changed "
                    + "since that batch started): give this batch its own --results file")
            }
            batchID = String(header[1])
            for record in lines.dropFirst() {
                let fields = record.split(separator: " ")
                guard let line = fields.first.flatMap({ Int($0) }) else { continue }
                if fields.count == 2, fields[1] == "confirmed" { confirmed.insert(line) } else { journalled.insert(line) }
            }
            for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
                if let number = Self.lineNumber(of: line, format: format, batchID: batchID) { answered.insert(number) }
            }
        case (true, false):
            throw Refusal(description: "\(url.path) already holds the results of a finished batch: give this run "
                + "another --results file (or move that one away)")
        case (false, true):
            throw Refusal(description: "\(journalURL.path) exists without its results file \(url.path): restore the "
                + "results file to resume that batch, or remove the journal to start a new one")
        }
        results = try FileHandle(forWritingTo: url)
        try results.seekToEnd()
        journal = try FileHandle(forWritingTo: journalURL)
        try journal.seekToEnd()
    }

    /// Files only their owner can read.
    private static func create(_ url: URL, contents: String) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: Data(contents.utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: url.path])
        }
    }

    /// Journals rows about to be sent; written (and flushed to the disk) before they are published.
    func journal(lines: [Int]) throws {
        guard !lines.isEmpty else { return }
        try journal.write(contentsOf: Data(lines.map { "\($0)\n" }.joined().utf8))
        try journal.synchronize()
        journalled.formUnion(lines)
    }

    /// Records the broker's confirm of a row's request. Not flushed to the disk: if the record is
    /// lost, the row is only published again under the same id.
    func confirm(line: Int) throws {
        try journal.write(contentsOf: Data("\(line) confirmed\n".utf8))
        confirmed.insert(line)
    }

    /// The request id of `line` in this batch, and back.
    func requestID(line: Int) -> String { "\(batchID)-\(line)" }

    func line(ofRequestID id: String) -> Int? {
        guard id.hasPrefix("\(batchID)-") else { return nil }
        return Int(id.dropFirst(batchID.count + 1))
    }

    /// Writes one result (the contract's JSON) for `line`, unless that line already has one; the
    /// line counts as answered only once written. Returns the outcome written, or nil for a repeat.
    func record(line: Int, result: [String: Any], raw: [UInt8]) throws -> String? {
        guard !answered.contains(line) else { return nil }
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
        answered.insert(line)
        return outcome
    }

    /// Closes the files; with every row answered, the journal has served its purpose.
    func finish(complete: Bool) throws {
        try results.synchronize()
        try results.close()
        try journal.close()
        if complete { try FileManager.default.removeItem(at: url.appendingPathExtension("journal")) }
    }

    /// The batch-file line a results-file line answers, when it is this batch's.
    private static func lineNumber(of line: Substring, format: Format, batchID: String) -> Int? {
        switch format {
        case .csv:
            let cells = line.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
            guard cells.count >= 2, cells[1] == "\(batchID)-\(cells[0])" else { return nil }
            return Int(cells[0])
        case .jsonLines:
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let number = object["line"] as? Int,
                  (object["result"] as? [String: Any])?["requestId"] as? String == "\(batchID)-\(number)"
            else { return nil }
            return number
        }
    }

    private static func csvCell(_ text: String) -> String {
        text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
            ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
}
