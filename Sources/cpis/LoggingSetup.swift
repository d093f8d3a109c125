import ArgumentParser
import Foundation
import CPISDomain
import Logging
import Observability

/// Logging for the subcommands without a settings file for it: CPIS_LOGGING_LEVEL and
/// CPIS_LOGGING_FORMAT, the variables of the worker's `logging.level` and `logging.format`.
func bootstrapLoggingFromEnvironment(defaultLevel: Logger.Level = .info) throws {
    let environment = ProcessInfo.processInfo.environment
    let levelText = environment["CPIS_LOGGING_LEVEL"].flatMap { $0.isEmpty ? nil : $0 }
    guard let level = levelText.map(Logger.Level.init(rawValue:)) ?? defaultLevel else {
        throw ValidationError("CPIS_LOGGING_LEVEL='\(levelText ?? "")' is not one of "
            + Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))
    }
    let formatText = environment["CPIS_LOGGING_FORMAT"].flatMap { $0.isEmpty ? nil : $0 } ?? "text"
    guard let format = LogFormat(rawValue: formatText) else {
        throw ValidationError("CPIS_LOGGING_FORMAT='\(formatText)' is not text or json")
    }
    LineLogHandler.bootstrap(level: level, format: format)
}

/// CP-IS sends plan times in English local time: a process that cannot read them must not start.
func requireEnglishTimeZone() throws {
    if let problem = HL7Time.londonZoneProblem { throw ValidationError("cannot start: \(problem)") }
}
