import Configuration
import Foundation
import SystemPackage
import Yams

/// A setting that cannot be used, and why: a message naming the key, for the person starting the
/// process.
public struct SettingsProblem: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The settings a command knows: every key, with its documented environment variable name kept
/// where it predates the naming rule.
public struct SettingsSchema: Sendable {
    /// Dotted keys of single values, e.g. `concurrency.maxInFlight`.
    public var keys: Set<String>
    /// Keys whose entries are the file's own names (`authorisation.users`: broker user → ODS codes).
    /// They are read from the file only.
    public var openMaps: Set<String>
    /// Keys that hold lists (a YAML sequence, comma-separated in the environment).
    public var lists: Set<String>
    /// Keys that hold secrets: never in a settings file, only in the environment or a secrets file.
    public var secrets: Set<String>
    /// Environment variables documented before the naming rule, and the key each sets.
    public var legacyEnvironment: [String: String]
    /// What the environment variables start with: `cpis` (`CPIS_`), or `cpis.simulator` for the
    /// simulator (`CPIS_SIMULATOR_`), whose keys would otherwise share names with the worker's.
    public var environmentPrefix: String

    public init(keys: Set<String>, openMaps: Set<String> = [], lists: Set<String> = [], secrets: Set<String> = [],
                legacyEnvironment: [String: String] = [:], environmentPrefix: String = "cpis") {
        self.keys = keys
        self.openMaps = openMaps
        self.lists = lists
        self.secrets = secrets
        self.legacyEnvironment = legacyEnvironment
        self.environmentPrefix = environmentPrefix
    }

    /// The environment variable for `key`: the prefix and the key in upper snake case
    /// (`concurrency.maxInFlight` → `CPIS_CONCURRENCY_MAX_IN_FLIGHT`).
    public func environmentName(of key: String) -> String {
        Self.upperSnakeCase("\(environmentPrefix).\(key)")
    }

    static func upperSnakeCase(_ key: String) -> String {
        var name = ""
        for component in key.split(separator: ".") {
            if !name.isEmpty { name += "_" }
            var previous: Character?
            for character in component {
                if let previous, previous.isLowercase, character.isUppercase { name += "_" }
                name += character.isLetter || character.isNumber ? character.uppercased() : "_"
                previous = character
            }
        }
        return name
    }
}

/// One reader for a command's settings, with apple/swift-configuration. Highest first:
/// 1. environment variables, named by ``SettingsSchema/environmentName(of:)`` (documented older
///    names still work);
/// 2. secrets from files: a directory where the file `broker-password` gives `broker.password`
///    (`CPIS_SECRETS_DIRECTORY`, or systemd's `CREDENTIALS_DIRECTORY`);
/// 3. the YAML settings file.
///
/// Every default is given where the value is read, once. A key in the file that the command does not
/// know is refused, naming the nearest known key: a misspelt `authorization:` must not leave every
/// request allowed. Values that do not convert (`maxInFlight: lots`) are refused too, never replaced
/// by the default.
public struct SettingsReader {
    private let reader: ConfigReader
    private let file: URL?
    private let schema: SettingsSchema
    /// Environment variables with the schema's prefix that set no setting (misspelt, or meant for
    /// another command), each with the nearest known name: for the command to warn about.
    public let unknownEnvironment: [(name: String, nearest: String?)]
    /// The file's open maps (``SettingsSchema/openMaps``), as YAML.
    private let openMaps: [String: Yams.Node]

    public static func load(file: URL?, environment: [String: String], schema: SettingsSchema) async throws(SettingsProblem)
        -> SettingsReader
    {
        var openMaps: [String: Yams.Node] = [:]
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: Self.environment(environment, schema: schema),
                                         secretsSpecifier: .dynamic { name, _ in name.hasSuffix("PASSWORD") })
                .prefixKeys(with: ConfigKey(schema.environmentPrefix)),
        ]
        if let directory = environment["CPIS_SECRETS_DIRECTORY"] ?? environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty {
            providers.append(try secretsProvider(directory: directory, schema: schema))
        }
        do {
            if let file {
                let text = try String(contentsOf: file, encoding: .utf8)
                let root = try Yams.compose(yaml: text)
                if let root {
                    try Self.checkKeys(root, under: "", schema: schema, file: file)
                    for key in schema.openMaps { openMaps[key] = Self.node(at: key, in: root) }
                }
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(file.path)))
            }
        } catch let problem as SettingsProblem {
            throw problem
        } catch {
            throw SettingsProblem("\(file?.path ?? "settings"): \(error)")
        }
        return SettingsReader(reader: ConfigReader(providers: providers), file: file, schema: schema,
                              unknownEnvironment: unknownVariables(environment, schema: schema), openMaps: openMaps)
    }

    /// One file per secret (`broker-password` is `broker.password`), as systemd's credentials
    /// directory and a mounted Kubernetes Secret hold them. Symbolic links are followed: every file of
    /// a Kubernetes Secret volume is one (swift-configuration's own directory provider skips them).
    private static func secretsProvider(directory: String, schema: SettingsSchema) throws(SettingsProblem) -> InMemoryProvider {
        let url = URL(fileURLWithPath: directory)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw SettingsProblem("secrets directory \(directory): cannot be read (\(error.localizedDescription))")
        }
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for name in names where !name.hasPrefix(".") {
            let key = name.replacingOccurrences(of: "-", with: ".")
            guard schema.secrets.contains(key) else { continue }
            guard let data = FileManager.default.contents(atPath: url.appending(path: name).path) else {
                throw SettingsProblem("secrets directory \(directory): cannot read \(name)")
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            values[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = ConfigValue(.string(text), isSecret: true)
        }
        return InMemoryProvider(name: "secrets directory \(directory)", values: values)
    }

    /// Variables with the schema's prefix that name no key (nor a key's older name).
    private static func unknownVariables(_ environment: [String: String], schema: SettingsSchema)
        -> [(name: String, nearest: String?)]
    {
        let prefix = SettingsSchema.upperSnakeCase(schema.environmentPrefix) + "_"
        let known = Set(schema.keys.union(schema.lists).union(schema.secrets).map(schema.environmentName(of:)))
            .union(schema.legacyEnvironment.keys)
        return environment.keys.sorted().filter { name in
            name.hasPrefix(prefix) && !known.contains(name) && !notSettings.contains(where: { name.hasPrefix($0) })
        }.map { name in (name, known.min { editDistance($0, name) < editDistance($1, name) }) }
    }

    /// Variables that share the prefix but are no command's settings: the scripts' and the tests'.
    private static let notSettings = [
        "CPIS_SECRETS_DIRECTORY", "CPIS_SIMULATOR_", "CPIS_BROKER_PORT", "CPIS_BROKER_TLS_PORT", "CPIS_BROKER_EPMD_PORT",
        "CPIS_BROKER_COOKIE", "CPIS_BROKER_KEEP_EPMD", "CPIS_AMQPS_URL", "CPIS_TLS_DIR", "CPIS_RABBITMQCTL", "CPIS_TEST_",
        "CPIS_BENCH_", "CPIS_CLUSTER_", "CPIS_UPDATE_EXAMPLES", "CPIS_ASYNCAPI_SCHEMA",
    ]

    // MARK: Values

    /// The value of `key`, or nil when no source sets it (an empty value counts as unset).
    public func string(_ key: String) -> String? {
        reader.string(forKey: ConfigKey(key)).flatMap { $0.isEmpty ? nil : $0 }
    }

    public func string(_ key: String, default defaultValue: String) -> String {
        string(key) ?? defaultValue
    }

    /// A secret (never logged by the configuration library), trimmed of the line break a file ends with.
    public func secret(_ key: String) -> String? {
        reader.string(forKey: ConfigKey(key), isSecret: true)
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    public func int(_ key: String) throws(SettingsProblem) -> Int? {
        guard let text = string(key) else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw problem(key, "'\(text)' is not a whole number")
        }
        return value
    }

    public func int(_ key: String, default defaultValue: Int) throws(SettingsProblem) -> Int {
        try int(key) ?? defaultValue
    }

    /// A whole number that must be more than 0 (sizes, counts, durations in milliseconds).
    public func positiveInt(_ key: String, default defaultValue: Int) throws(SettingsProblem) -> Int {
        let value = try int(key, default: defaultValue)
        guard value > 0 else { throw problem(key, "must be more than 0") }
        return value
    }

    /// A string that must be set; `reason` says why, after the key (e.g. "is needed: our ASID").
    public func required(_ key: String, _ reason: String) throws(SettingsProblem) -> String {
        guard let value = string(key) else { throw problem(key, reason) }
        return value
    }

    public func double(_ key: String, default defaultValue: Double) throws(SettingsProblem) -> Double {
        guard let text = string(key) else { return defaultValue }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)) else { throw problem(key, "'\(text)' is not a number") }
        return value
    }

    public func bool(_ key: String, default defaultValue: Bool) throws(SettingsProblem) -> Bool {
        guard let text = string(key) else { return defaultValue }
        switch text.lowercased() {
        case "true", "yes", "1": return true
        case "false", "no", "0": return false
        default: throw problem(key, "'\(text)' is not true or false")
        }
    }

    /// A list: a YAML sequence in the file, comma-separated in the environment; nil when unset or empty.
    public func stringArray(_ key: String) -> [String]? {
        let texts = (try? reader.requiredStringArray(forKey: ConfigKey(key)))
            ?? string(key)?.split(separator: ",").map(String.init)
        let trimmed = texts?.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return trimmed?.isEmpty == false ? trimmed : nil
    }

    /// A list of whole numbers (see ``stringArray(_:)``).
    public func intArray(_ key: String) throws(SettingsProblem) -> [Int]? {
        guard let texts = stringArray(key) else { return nil }
        return try texts.map { text throws(SettingsProblem) in
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw problem(key, "'\(text)' in the list is not a whole number")
            }
            return value
        }
    }

    /// An open map from the file (``SettingsSchema/openMaps``): each name's list of strings.
    public func stringLists(_ key: String) throws(SettingsProblem) -> [String: [String]]? {
        // A key with nothing under it (every entry commented out) is an empty map.
        guard let node = openMaps[key], node.null == nil else { return nil }
        guard let mapping = node.mapping else { throw problem(key, "must be a map of names to lists") }
        var lists: [String: [String]] = [:]
        for (name, value) in mapping {
            guard let name = name.string else { throw problem(key, "has an entry without a name") }
            let items = value.sequence.map { Array($0).compactMap(\.string) } ?? value.string.map { [$0] }
            guard let items else { throw problem("\(key).\(name)", "must be a list") }
            lists[name] = items
        }
        return lists
    }

    /// An open map from the file: each name's number.
    public func numbers(_ key: String) throws(SettingsProblem) -> [String: Double]? {
        try entries(key, "a number") { $0.string.flatMap(Double.init) }
    }

    /// An open map from the file: each name's text.
    public func texts(_ key: String) throws(SettingsProblem) -> [String: String]? {
        try entries(key, "a value") { $0.string }
    }

    private func entries<Value>(_ key: String, _ what: String, _ read: (Yams.Node) -> Value?) throws(SettingsProblem)
        -> [String: Value]?
    {
        guard let mapping = openMaps[key]?.mapping else { return nil }
        var entries: [String: Value] = [:]
        for (name, value) in mapping {
            guard let name = name.string, let entry = read(value) else {
                throw problem(key, "every entry must be a name with \(what)")
            }
            entries[name] = entry
        }
        return entries
    }

    /// A problem with `key`, naming where it can be set.
    public func problem(_ key: String, _ reason: String) -> SettingsProblem {
        SettingsProblem("setting \(key) (\(schema.environmentName(of: key)) or in \(file?.lastPathComponent ?? "the settings file")): \(reason)")
    }

    // MARK: Sources

    /// The environment with empty values left out and documented older names translated.
    private static func environment(_ environment: [String: String], schema: SettingsSchema) -> [String: String] {
        var translated = environment.filter { !$0.value.isEmpty }
        for (legacy, key) in schema.legacyEnvironment {
            let name = schema.environmentName(of: key)
            if translated[name] == nil, let value = translated[legacy] { translated[name] = value }
        }
        return translated
    }

    private static func node(at key: String, in root: Yams.Node) -> Yams.Node? {
        var node: Yams.Node? = root
        for component in key.split(separator: ".") { node = node?.mapping?[String(component)] }
        return node
    }

    /// Refuses keys the command does not know, naming the nearest known one.
    private static func checkKeys(_ node: Yams.Node, under path: String, schema: SettingsSchema, file: URL) throws(SettingsProblem) {
        guard let mapping = node.mapping else {
            if path.isEmpty, node.string.map({ !$0.isEmpty }) ?? true {
                throw SettingsProblem("\(file.path): expected a map of settings at the top level")
            }
            return
        }
        for (name, value) in mapping {
            guard let name = name.string else { continue }
            let key = path.isEmpty ? name : "\(path).\(name)"
            if schema.secrets.contains(key) {
                throw SettingsProblem("\(file.path): \(key) is a secret and may not be written in a settings file: put it "
                    + "in \(schema.environmentName(of: key)), or in a secrets directory's file \(key.replacingOccurrences(of: ".", with: "-"))")
            }
            if schema.openMaps.contains(key) { continue }
            if schema.keys.contains(key) || schema.lists.contains(key) {
                // A map where one value belongs, or a list where a list does not: refused, not defaulted.
                let isList = schema.lists.contains(key)
                if value.mapping != nil || (value.sequence != nil && !isList) {
                    throw SettingsProblem("\(file.path): \(key) must be \(isList ? "a list" : "a single value"), not "
                        + (value.mapping != nil ? "a map" : "a list"))
                }
                continue
            }
            let allKeys = schema.keys.union(schema.openMaps).union(schema.lists).union(schema.secrets)
            if allKeys.contains(where: { $0.hasPrefix(key + ".") }) {
                try checkKeys(value, under: key, schema: schema, file: file)
                continue
            }
            let known = allKeys
                .flatMap { full in (1...full.split(separator: ".").count).map { full.split(separator: ".").prefix($0).joined(separator: ".") } }
            let nearest = Set(known).min { editDistance($0, key) < editDistance($1, key) }
            throw SettingsProblem("\(file.path): unknown setting '\(key)'" + (nearest.map { ": did you mean '\($0)'?" } ?? ""))
        }
    }

    /// Levenshtein distance, case-insensitive.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1]
            for (j, cb) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// Whether a host names this machine only (127.0.0.0/8, ::1, localhost): where a service may run
/// open, without an authorisation map, for local development.
public func isLoopbackHost(_ host: String) -> Bool {
    let host = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
    if ["localhost", "::1"].contains(host) { return true }
    let octets = host.split(separator: ".", omittingEmptySubsequences: false)
    return octets.count == 4 && octets.first == "127" && octets.allSatisfy { UInt8($0) != nil }
}
