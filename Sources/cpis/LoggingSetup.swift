import ArgumentParser
import Foundation
import Logging
import Observability

/// Logging for the subcommands without a settings key for it: CPIS_LOG_LEVEL and CPIS_LOG_FORMAT
/// (the worker reads the same from its settings, `logging.level` and `logging.format`).
func bootstrapLoggingFromEnvironment(defaultLevel: Logger.Level = .info) throws {
    let environment = ProcessInfo.processInfo.environment
    let levelText = environment["CPIS_LOG_LEVEL"].flatMap { $0.isEmpty ? nil : $0 }
    guard let level = levelText.map(Logger.Level.init(rawValue:)) ?? defaultLevel else {
        throw ValidationError("CPIS_LOG_LEVEL='\(levelText ?? "")' is not one of "
            + Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))
    }
    let formatText = environment["CPIS_LOG_FORMAT"].flatMap { $0.isEmpty ? nil : $0 } ?? "text"
    guard let format = LogFormat(rawValue: formatText) else {
        throw ValidationError("CPIS_LOG_FORMAT='\(formatText)' is not text or json")
    }
    LineLogHandler.bootstrap(level: level, format: format)
}
