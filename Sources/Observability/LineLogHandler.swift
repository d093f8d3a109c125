#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPISDomain
import Foundation
import Logging

/// How log lines are written: for people, or for log shippers.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `2026-11-30T02:25:13.123Z info cpis.worker: lookup answered request=… outcome=no-record`
    case text
    /// One JSON object per line: `{"time":…,"level":…,"logger":…,"message":…,<metadata>…}`.
    case json
}

/// Writes each log event as one line on standard error, in one `write(2)`, so lines from many
/// threads never interleave. Any NHS number that reaches a message or a metadata value unmasked is
/// masked on the way out: a safety net under ``LogKey/nhsNumber``'s rule, not a replacement for it.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let format: LogFormat

    public init(label: String, level: Logger.Level, format: LogFormat) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Sets up logging for the whole process, once, before any logger is made.
    public static func bootstrap(level: Logger.Level, format: LogFormat) {
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level, format: format) }
    }

    public func log(event: LogEvent) {
        // The event's own metadata wins over the logger's; most loggers have none to merge.
        var merged = event.metadata ?? [:]
        if !metadata.isEmpty { merged.merge(metadata) { fromEvent, _ in fromEvent } }
        var line = line(time: Date(), level: event.level, message: event.message.description, metadata: merged)
        line.append(UInt8(ascii: "\n"))
        line.withUnsafeBytes { bytes in
            var written = 0
            while written < bytes.count {
                let result = write(STDERR_FILENO, bytes.baseAddress! + written, bytes.count - written)
                if result > 0 { written += result } else if result < 0, errno == EINTR { continue } else { return }
            }
        }
    }

    /// The line for one event, without its line break.
    func line(time: Date, level: Logger.Level, message: String, metadata: Logger.Metadata) -> [UInt8] {
        let sortedMetadata = metadata.sorted { $0.key < $1.key }
        switch format {
        case .text:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(256)
            // One event, one line: a line break inside a message would start a line that looks like
            // another event.
            func append(_ text: String) {
                let isLineBreak = { (byte: UInt8) in byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") }
                guard text.utf8.contains(where: isLineBreak) else { return bytes.append(contentsOf: text.utf8) }
                bytes.append(contentsOf: text.utf8.map { isLineBreak($0) ? UInt8(ascii: " ") : $0 })
            }
            append(UTCTimestamp.string(time))
            append(" ")
            append(level.rawValue)
            append(" ")
            append(label)
            append(": ")
            append(NHSNumberMasking.masking(message))
            for (key, value) in sortedMetadata {
                append(" ")
                append(key)
                append("=")
                append(NHSNumberMasking.masking(value.description))
            }
            return bytes
        case .json:
            var writer = JSONWriter(capacity: 256)
            writer.object { object in
                object.member("time", UTCTimestamp.string(time))
                object.member("level", level.rawValue)
                object.member("logger", label)
                object.member("message", NHSNumberMasking.masking(message))
                for (key, value) in sortedMetadata where !["time", "level", "logger", "message"].contains(key) {
                    object.member(key, NHSNumberMasking.masking(value.description))
                }
            }
            return writer.bytes
        }
    }
}

/// Finds NHS numbers in free text: ten digits, alone or grouped 3-3-4 with spaces or hyphens, whose
/// check digit is right, not part of a longer run of digits. For log lines, and for what tools print
/// of messages they did not write (a request id may hold an NHS number).
public enum NHSNumberMasking {
    public static func masking(_ text: String) -> String {
        // Most values hold no ten digits at all: they are returned as they are, without copying.
        var digits = 0
        for byte in text.utf8 where isDigit(byte) {
            digits += 1
            if digits == 10 { break }
        }
        guard digits == 10 else { return text }
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        var index = 0
        var changed = false
        while index < bytes.count {
            let startsRun = isDigit(bytes[index]) && (index == 0 || !isDigit(bytes[index - 1]))
            if startsRun, let length = candidateLength(in: bytes, at: index),
               let number = try? NHSNumber(String(decoding: bytes[index..<index + length], as: UTF8.self)) {
                output += Array(number.masked.utf8)
                index += length
                changed = true
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return changed ? String(decoding: output, as: UTF8.self) : text
    }

    /// The length of the ten digits (or 3-3-4 groups) starting at `start`, if they are there and not
    /// followed by another digit.
    private static func candidateLength(in bytes: [UInt8], at start: Int) -> Int? {
        func digits(_ count: Int, from index: Int) -> Bool {
            index + count <= bytes.count && bytes[index..<index + count].allSatisfy(isDigit)
        }
        func isSeparator(_ index: Int) -> Bool {
            index < bytes.count && (bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "-"))
        }
        func endsThere(_ index: Int) -> Bool { index == bytes.count || !isDigit(bytes[index]) }
        if digits(10, from: start), endsThere(start + 10) { return 10 }
        if digits(3, from: start), isSeparator(start + 3), digits(3, from: start + 4), isSeparator(start + 7),
           digits(4, from: start + 8), endsThere(start + 12) {
            return 12
        }
        return nil
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
