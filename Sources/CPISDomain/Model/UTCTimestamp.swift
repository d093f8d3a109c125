import Foundation

/// RFC 3339 timestamps in UTC with milliseconds ("2026-11-24T14:30:00.123Z"): the contract's JSON
/// and WS-Security's `wsu:Created`/`wsu:Expires` both use this form.
enum UTCTimestamp {
    static func string(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true)
            .timeZone(separator: .omitted).dateSeparator(.dash).timeSeparator(.colon))
    }
}
