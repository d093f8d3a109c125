import CPISDomain
import Foundation

/// A shift-start batch: a CSV file of NHS numbers, one per row, optionally with the name of the
/// requester that row is asked for (the names come from a requesters file; rows without one use the
/// default requester). A header row (`nhs_number,...`), blank lines and `#` comments are skipped.
///
///     nhs_number,requester
///     943 476 5919,
///     999 000 0018,ed-night
struct BatchFile {
    struct Row {
        /// The line of the file, from 1: how the batch job and its results refer to the row.
        let line: Int
        let nhsNumber: NHSNumber
        /// The request body published for this row (the contract's JSON).
        let body: [UInt8]
    }

    /// What is wrong with one line.
    struct BadRow: CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "line \(line): \(reason)" }
    }

    let rows: [Row]
    /// The file's fingerprint: a re-run resumes a batch only with the file it started from.
    let fingerprint: String

    /// Reads and checks every row before anything is sent; throws the list of bad rows.
    ///
    /// - Parameter requesters: Requester objects (the contract's JSON text) by name; `default` is
    ///   used by rows that name none.
    init(contents: Data, requesters: [String: String]) throws(BatchFileErrors) {
        var rows: [Row] = []
        var bad: [BadRow] = []
        var firstLineOf: [String: Int] = [:]
        // Lines split on the bytes, so that Windows line ends (CRLF, one Character in Swift) and a
        // byte-order mark, as spreadsheets write them, read like any other file.
        let bytes = contents.starts(with: [0xEF, 0xBB, 0xBF]) ? contents.dropFirst(3) : contents[...]
        for (index, lineBytes) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            let rawLine = String(decoding: lineBytes.last == UInt8(ascii: "\r") ? lineBytes.dropLast() : lineBytes, as: UTF8.self)
            let cells = rawLine.split(separator: ",", omittingEmptySubsequences: false)
                .map { String($0).trimmed.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            guard let first = cells.first, !first.isEmpty, !first.hasPrefix("#") else { continue }
            if rows.isEmpty, bad.isEmpty, first.lowercased().replacingOccurrences(of: " ", with: "_") == "nhs_number" { continue }
            guard cells.count <= 2 else {
                bad.append(BadRow(line: line, reason: "expected an NHS number and at most a requester name, found \(cells.count) cells"))
                continue
            }
            let nhsNumber: NHSNumber
            do {
                nhsNumber = try NHSNumber(first)
            } catch {
                bad.append(BadRow(line: line, reason: "not an NHS number: \(error)"))
                continue
            }
            let requesterName = cells.count == 2 && !cells[1].isEmpty ? cells[1] : "default"
            guard let requester = requesters[requesterName] else {
                bad.append(BadRow(line: line, reason: requesterName == "default"
                    ? "no requester: give --requester FILE, or name one of --requesters in a second column"
                    : "unknown requester '\(requesterName)' (the requesters file has \(requesters.keys.sorted().joined(separator: ", ")))"))
                continue
            }
            // One lookup per child: a repeated query tells a local authority the child was seen twice.
            if let earlier = firstLineOf[nhsNumber.digits] {
                bad.append(BadRow(line: line, reason: "\(nhsNumber.masked) repeats line \(earlier)"))
                continue
            }
            firstLineOf[nhsNumber.digits] = line
            let body = Array("{\"nhsNumber\":\"\(nhsNumber.digits)\",\"requester\":\(requester)}".utf8)
            do {
                _ = try LookupRequest(json: body)
            } catch {
                bad.append(BadRow(line: line, reason: "requester '\(requesterName)': \(error)"))
                continue
            }
            rows.append(Row(line: line, nhsNumber: nhsNumber, body: body))
        }
        guard bad.isEmpty else { throw BatchFileErrors(rows: bad) }
        self.rows = rows
        fingerprint = StableHash.fnv1a(contents)
    }

}

struct BatchFileErrors: Error, CustomStringConvertible {
    let rows: [BatchFile.BadRow]
    var description: String {
        "\(rows.count) bad row(s), nothing sent:\n" + rows.map { "  \($0)" }.joined(separator: "\n")
    }
}
