import Foundation
import FrontDoor
import Settings
import Testing
import Worker
import Yams

/// The deploy kit's files, found from this file's place in the repository.
enum Kit {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func url(_ path: String) -> URL { root.appending(path: path) }

    static func text(_ path: String) throws -> String { try String(contentsOf: url(path), encoding: .utf8) }

    /// Every document of a (multi-document) YAML file.
    static func documents(_ path: String) throws -> [Node] {
        try Yams.load_all(yaml: text(path)).map(Node.init)
    }
}

/// A parsed YAML value, read without ceremony: a missing key or index gives an empty node.
struct Node {
    let value: Any?

    init(_ value: Any?) { self.value = value is NSNull ? nil : value }

    subscript(key: String) -> Node {
        Node((value as? [AnyHashable: Any])?[AnyHashable(key)])
    }

    var isMissing: Bool { value == nil }
    /// Scalars as text (YAML may have read `8` as a number where Kubernetes wants a string).
    var string: String? {
        switch value {
        case let text as String: text
        case let number as Int: String(number)
        case let flag as Bool: String(flag)
        default: nil
        }
    }
    var int: Int? {
        switch value {
        case let number as Int: number
        case let text as String: Int(text)
        default: nil
        }
    }
    var array: [Node] { (value as? [Any])?.map(Node.init) ?? [] }
    var strings: [String] { array.compactMap(\.string) }
    var keys: [String] { (value as? [AnyHashable: Any])?.keys.compactMap { $0.base as? String } ?? [] }
    var isMapping: Bool { value is [AnyHashable: Any] }

    /// A settings file's keys, dotted (`broker.tls.ca`): every value that is not a mapping, and each
    /// of `openMaps` whole (their names are the file's own, e.g. authorisation.clients' subjects).
    func settingKeys(openMaps: Set<String> = [], prefix: String = "") -> Set<String> {
        var found: Set<String> = []
        for key in keys {
            let dotted = prefix.isEmpty ? key : "\(prefix).\(key)"
            if self[key].isMapping && !openMaps.contains(dotted) {
                found.formUnion(self[key].settingKeys(openMaps: openMaps, prefix: dotted))
            } else {
                found.insert(dotted)
            }
        }
        return found
    }
}

// MARK: - Settings

/// The settings that name files, the environment variable that overrides each (`Config/worker.yaml`,
/// `Config/front-door.yaml`), and whether the file is a secret.
struct FileSetting: Sendable {
    let keys: [String]
    let secret: Bool
    /// A production deployment must name it.
    let required: Bool
    /// The command's settings: their naming rule gives the variable.
    let schema: SettingsSchema

    init(_ keys: [String], secret: Bool, required: Bool = false, schema: SettingsSchema) {
        self.keys = keys
        self.secret = secret
        self.required = required
        self.schema = schema
    }

    var name: String { keys.joined(separator: ".") }
    /// The environment variable that overrides it, by the settings' naming rule.
    var variable: String { schema.environmentName(of: name) }
    /// The variable and the older documented names that set it too.
    var variables: [String] {
        [variable] + schema.legacyEnvironment.filter { $0.value == name }.map(\.key).sorted()
    }

    /// The worker's: the broker password and the SMSP client key (mutual TLS) must be named.
    static let worker = [
        FileSetting(["broker", "passwordFile"], secret: true, required: true, schema: WorkerConfiguration.schema),
        FileSetting(["broker", "tls", "ca"], secret: false, schema: WorkerConfiguration.schema),
        FileSetting(["broker", "tls", "certificate"], secret: false, schema: WorkerConfiguration.schema),
        FileSetting(["broker", "tls", "key"], secret: true, schema: WorkerConfiguration.schema),
        FileSetting(["smsp", "tls", "ca"], secret: false, schema: WorkerConfiguration.schema),
        FileSetting(["smsp", "tls", "certificate"], secret: false, schema: WorkerConfiguration.schema),
        FileSetting(["smsp", "tls", "key"], secret: true, required: true, schema: WorkerConfiguration.schema),
    ]

    /// The front door's: its endpoint's certificate, key and client CA (it does not start without
    /// them), and the broker password, must be named.
    static let frontDoor = [
        FileSetting(["tls", "certificate"], secret: false, required: true, schema: FrontDoorConfiguration.schema),
        FileSetting(["tls", "key"], secret: true, required: true, schema: FrontDoorConfiguration.schema),
        FileSetting(["tls", "clientCA"], secret: false, required: true, schema: FrontDoorConfiguration.schema),
        FileSetting(["broker", "passwordFile"], secret: true, required: true, schema: FrontDoorConfiguration.schema),
        FileSetting(["broker", "tls", "ca"], secret: false, schema: FrontDoorConfiguration.schema),
        FileSetting(["broker", "tls", "certificate"], secret: false, schema: FrontDoorConfiguration.schema),
        FileSetting(["broker", "tls", "key"], secret: true, schema: FrontDoorConfiguration.schema),
    ]

    /// The file the command would read: the environment variable's, else the settings file's.
    func path(settings: Node, environment: [String: String]) -> String? {
        if let path = variables.lazy.compactMap({ environment[$0] }).first(where: { !$0.isEmpty }) { return path }
        let path = keys.reduce(settings) { $0[$1] }.string
        return path?.isEmpty == false ? path : nil
    }
}

/// Settings as a command reads them (`load`): the file, then the environment it runs with. The
/// password file the settings name is on the target machine, not here: with `placeholderPassword`, a
/// file of the test's own stands in for it.
func loadSettings<Configuration>(_ yaml: String, environment: [String: String], placeholderPassword: Bool = false,
                                 _ load: (URL, [String: String]) async throws -> Configuration) async throws
    -> Configuration {
    let directory = FileManager.default.temporaryDirectory.appending(path: "deploykit-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let file = directory.appending(path: "settings.yaml")
    try yaml.write(to: file, atomically: true, encoding: .utf8)
    var environment = environment
    if placeholderPassword {
        let password = directory.appending(path: "broker-password")
        try "placeholder".write(to: password, atomically: true, encoding: .utf8)
        environment["CPIS_BROKER_PASSWORD_FILE"] = password.path
    }
    return try await load(file, environment)
}

func loadWorkerSettings(_ yaml: String, environment: [String: String], placeholderPassword: Bool = false) async throws
    -> WorkerConfiguration {
    try await loadSettings(yaml, environment: environment, placeholderPassword: placeholderPassword) {
        try await WorkerConfiguration.load(file: $0, environment: $1)
    }
}

func loadFrontDoorSettings(_ yaml: String, environment: [String: String], placeholderPassword: Bool = false) async throws
    -> FrontDoorConfiguration {
    try await loadSettings(yaml, environment: environment, placeholderPassword: placeholderPassword) {
        try await FrontDoorConfiguration.load(file: $0, environment: $1)
    }
}

/// A systemd unit and its example settings, loaded as the service would with the unit's
/// environment, its credentials directory (`%d`) standing in a temporary one.
struct SystemdService<Configuration> {
    let unit: SystemdUnit
    let settings: Node
    let configuration: Configuration

    init(unitFile: String, settingsFile: String,
         load: (_ settings: String, _ environment: [String: String]) async throws -> Configuration) async throws {
        let unit = SystemdUnit(try Kit.text(unitFile))
        let settingsText = try Kit.text(settingsFile)
        self.unit = unit
        settings = Node(try Yams.load(yaml: settingsText))
        configuration = try await withCredentials(of: unit) { try await load(settingsText, $0) }
    }
}

/// A systemd unit's environment with its credentials directory (`%d`) standing in a temporary one,
/// holding a placeholder file for each credential it loads, for as long as `body` runs.
func withCredentials<Result>(of unit: SystemdUnit, _ body: ([String: String]) async throws -> Result) async throws -> Result {
    let credentials = FileManager.default.temporaryDirectory.appending(path: "deploykit-credentials-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: credentials) }
    for name in unit.credentials.keys {
        try "placeholder".write(to: credentials.appending(path: name), atomically: true, encoding: .utf8)
    }
    return try await body(unit.environment.mapValues { $0.replacingOccurrences(of: "%d", with: credentials.path) })
}

extension Duration {
    var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var inMilliseconds: Int { Int(components.seconds) * 1000 + Int(components.attoseconds / 1_000_000_000_000_000) }
}

/// The monitoring settings (defaults: loopback, port 9464).
struct MonitoringSettings {
    let host: String
    let port: Int

    init(_ settings: Node) {
        host = settings["monitoring"]["host"].string ?? "127.0.0.1"
        port = settings["monitoring"]["port"].int ?? 9464
    }
}

// MARK: - Kustomize

/// A kustomize base as files: the resources' documents and the ConfigMaps its generator makes.
struct KustomizeBase {
    let documents: [Node]
    /// ConfigMap name (before kustomize's hash suffix) → key → content: generated and literal ones.
    let configMaps: [String: [String: String]]

    static func load(_ directory: String) throws -> KustomizeBase {
        let kustomizations = try Kit.documents("\(directory)/kustomization.yaml")
        let kustomization = try #require(kustomizations.first, "\(directory)/kustomization.yaml")
        var documents: [Node] = []
        for resource in kustomization["resources"].strings {
            documents += try Kit.documents("\(directory)/\(resource)")
        }
        var configMaps: [String: [String: String]] = [:]
        for generator in kustomization["configMapGenerator"].array {
            let name = try #require(generator["name"].string)
            var data: [String: String] = [:]
            for entry in generator["files"].strings {
                let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                let (key, path) = parts.count == 2 ? (parts[0], parts[1]) : (URL(fileURLWithPath: entry).lastPathComponent, entry)
                data[key] = try Kit.text("\(directory)/\(path)")
            }
            for entry in generator["literals"].strings {
                let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                data[parts[0]] = parts.count == 2 ? parts[1] : ""
            }
            configMaps[name] = data
        }
        for configMap in documents where configMap["kind"].string == "ConfigMap" {
            if let name = configMap["metadata"]["name"].string {
                configMaps[name] = Dictionary(uniqueKeysWithValues: configMap["data"].keys.map {
                    ($0, configMap["data"][$0].string ?? "")
                })
            }
        }
        return KustomizeBase(documents: documents, configMaps: configMaps)
    }

    func objects(kind: String) -> [Node] { documents.filter { $0["kind"].string == kind } }

    func object(kind: String, name: String) -> Node? {
        objects(kind: kind).first { $0["metadata"]["name"].string == name }
    }
}

/// One Deployment of a kustomize base, its one container, and the settings file its `--config`
/// argument names (through the container's volume mount, to the ConfigMap).
struct Workload {
    let base: KustomizeBase
    let deployment: Node
    let pod: Node
    let container: Node
    let settingsText: String
    let settings: Node

    init(_ base: KustomizeBase, deployment name: String) throws {
        self.base = base
        deployment = try #require(base.object(kind: "Deployment", name: name), "the base has the Deployment \(name)")
        pod = deployment["spec"]["template"]["spec"]
        let containers = pod["containers"].array
        try #require(containers.count == 1, "\(name)'s pod has one container")
        container = containers[0]

        let arguments = container["args"].strings
        let configIndex = try #require(arguments.firstIndex(of: "--config"), "the container names its settings file")
        let configPath = try #require(arguments.dropFirst(configIndex + 1).first)
        let file = try #require(MountedFile(path: configPath, container: container, pod: pod),
                                "\(configPath) is mounted from a volume")
        let configMap = try #require(file.source.configMapName, "\(configPath) comes from a ConfigMap")
        let key = try #require(file.key, "the ConfigMap volume lists \(configPath)")
        settingsText = try #require(base.configMaps[configMap]?[key], "ConfigMap \(configMap) in the base has key \(key)")
        settings = Node(try Yams.load(yaml: settingsText))
    }

    /// The container's literal environment (it overrides the settings file).
    var environment: [String: String] {
        var environment: [String: String] = [:]
        for variable in container["env"].array {
            if let name = variable["name"].string, let value = variable["value"].string { environment[name] = value }
        }
        return environment
    }

    /// Whether a label selector (`matchLabels`, as PodMonitors, budgets and Services write it) picks
    /// this workload's pods.
    func isSelected(by matchLabels: Node) -> Bool {
        let labels = deployment["spec"]["template"]["metadata"]["labels"]
        return !matchLabels.keys.isEmpty && matchLabels.keys.allSatisfy { labels[$0].string == matchLabels[$0].string }
    }

    /// The base's objects of `kind` whose selector (at `selector`, from the object) picks these pods.
    func selecting(_ kind: String, selector: [String] = ["spec", "selector", "matchLabels"]) -> [Node] {
        base.objects(kind: kind).filter { isSelected(by: selector.reduce($0) { $0[$1] }) }
    }

    /// The Secret volumes' names and the keys each lists.
    var secretItems: [String: Set<String>] {
        var items: [String: Set<String>] = [:]
        for volume in pod["volumes"].array {
            guard let name = volume["secret"]["secretName"].string else { continue }
            items[name, default: []].formUnion(volume["secret"]["items"].array.compactMap { $0["key"].string })
        }
        return items
    }
}

/// Where a file the container reads comes from: a volume, and the file's key in it.
struct MountedFile {
    enum Source: Equatable {
        case configMap(String), secret(String), other

        var configMapName: String? {
            if case .configMap(let name) = self { return name }
            return nil
        }
    }
    let source: Source
    /// The key in the ConfigMap or Secret; nil where the volume lists no items (any key may be there).
    let key: String?
    /// Whether the volume provides the file: its items list it, or it lists none.
    let listed: Bool

    /// Resolves `path` through the container's volume mounts (the longest one that holds it).
    init?(path: String, container: Node, pod: Node) {
        var best: (mount: Node, relative: String)?
        for mount in container["volumeMounts"].array {
            guard let mountPath = mount["mountPath"].string else { continue }
            let relative: String
            if let subPath = mount["subPath"].string {
                guard path == mountPath else { continue }
                relative = subPath
            } else {
                let directory = mountPath.hasSuffix("/") ? mountPath : mountPath + "/"
                guard path.hasPrefix(directory) else { continue }
                relative = String(path.dropFirst(directory.count))
            }
            if best == nil || mountPath.count > (best?.mount["mountPath"].string?.count ?? 0) {
                best = (mount, relative)
            }
        }
        guard let best, let volumeName = best.mount["name"].string,
              let volume = pod["volumes"].array.first(where: { $0["name"].string == volumeName })
        else { return nil }
        let projection: Node
        if let name = volume["configMap"]["name"].string {
            source = .configMap(name)
            projection = volume["configMap"]
        } else if let name = volume["secret"]["secretName"].string {
            source = .secret(name)
            projection = volume["secret"]
        } else {
            source = .other
            projection = Node(nil)
        }
        let items = projection["items"].array
        if items.isEmpty {
            key = best.relative
            listed = true
        } else {
            let item = items.first { $0["path"].string == best.relative }
            key = item?["key"].string
            listed = item != nil
        }
    }
}

// MARK: - systemd

/// A systemd unit file: its sections' assignments, in order (an empty assignment resets a list).
struct SystemdUnit {
    private var sections: [String: [(key: String, value: String)]] = [:]

    init(_ text: String) {
        var section = ""
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[section, default: []].append((key, value))
        }
    }

    /// Every value of a list setting, after resets.
    func values(_ section: String, _ key: String) -> [String] {
        var values: [String] = []
        for entry in sections[section, default: []] where entry.key == key {
            if entry.value.isEmpty { values.removeAll() } else { values.append(entry.value) }
        }
        return values
    }

    /// A single-valued setting: the last assignment.
    func value(_ section: String, _ key: String) -> String? { values(section, key).last }

    /// The settings a section assigns, each once, in order of first assignment.
    func keys(_ section: String) -> [String] {
        var seen: Set<String> = []
        return sections[section, default: []].map(\.key).filter { seen.insert($0).inserted }
    }

    /// `Environment=` assignments (one `NAME=value` each, as this kit writes them).
    var environment: [String: String] {
        var environment: [String: String] = [:]
        for assignment in values("Service", "Environment") {
            let parts = assignment.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).split(separator: "=", maxSplits: 1)
            if parts.count == 2 { environment[String(parts[0])] = String(parts[1]) }
        }
        return environment
    }

    /// `LoadCredential=ID:PATH` → ID → PATH.
    var credentials: [String: String] {
        var credentials: [String: String] = [:]
        for assignment in values("Service", "LoadCredential") {
            let parts = assignment.split(separator: ":", maxSplits: 1)
            credentials[String(parts[0])] = parts.count == 2 ? String(parts[1]) : ""
        }
        return credentials
    }

    /// A time span (`40`, `40s`, `1min 30s`, `500ms`) in seconds; nil for `infinity` or nonsense.
    static func seconds(_ span: String) -> Double? {
        if let plain = Double(span) { return plain }
        let units: [String: Double] = [
            "us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "s": 1, "sec": 1, "second": 1, "seconds": 1,
            "m": 60, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
        ]
        var total = 0.0
        var rest = Substring(span)
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " }
            let number = rest.prefix { $0.isNumber || $0 == "." }
            rest = rest.dropFirst(number.count).drop { $0 == " " }
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            guard let value = Double(number), let factor = units[String(unit)] else { return nil }
            total += value * factor
        }
        return total
    }
}

// MARK: - PromQL

enum PromQL {
    /// The metric names an expression reads: identifiers that are not functions, aggregations,
    /// keywords, label names (in `{...}` or `by (...)`) or strings.
    static func metricNames(in expression: String) -> Set<String> {
        var text = expression
        text.replace(#/"(?:[^"\\]|\\.)*"/#, with: "\"\"")
        text.replace(#/\{[^}]*\}/#, with: " ")
        text.replace(#/\[[^\]]*\]/#, with: " ")
        text.replace(#/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/#, with: " ")
        let keywords: Set = ["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
                             "group_left", "group_right", "inf", "nan", "Inf", "NaN"]
        var names: Set<String> = []
        for match in text.matches(of: #/[A-Za-z0-9_.:]+/#) {
            let word = String(match.output)
            guard let first = word.first, first.isLetter || first == "_", !keywords.contains(word) else { continue }
            let after = text[match.range.upperBound...].drop { $0.isWhitespace }
            if after.first == "(" { continue }
            names.insert(word)
        }
        return names
    }
}

// MARK: - Swift sources

/// What a Swift source file declares, read as text (for metrics a module keeps internal).
enum SwiftSource {
    /// The metrics made through swift-metrics, label → kind as swift-prometheus exports it (a Timer
    /// is a histogram in seconds: `_bucket`, `_sum`, `_count`).
    static func metrics(in source: String) -> [String: String] {
        let kinds = ["Counter": "counter", "FloatingPointCounter": "counter", "Timer": "histogram",
                     "Recorder": "histogram", "Gauge": "gauge", "Meter": "gauge"]
        var metrics: [String: String] = [:]
        for match in source.matches(of: #/\b(Counter|FloatingPointCounter|Timer|Recorder|Gauge|Meter)\(\s*label:\s*"([^"]+)"/#) {
            metrics[String(match.output.2)] = kinds[String(match.output.1)]
        }
        return metrics
    }

    /// The string literals of an array constant, `let NAME = ["a", "b"]`.
    static func strings(of constant: String, in source: String) -> [String] {
        guard let start = source.firstRange(of: "let \(constant) = ["),
              let end = source[start.upperBound...].firstIndex(of: "]")
        else { return [] }
        return source[start.upperBound..<end].matches(of: #/"([^"]*)"/#).map { String($0.output.1) }
    }
}

/// `kubectl create secret generic NAME --from-file=... --from-literal=...` commands in a file's
/// comments (continued lines joined): NAME → the keys they create.
func secretCommands(inCommentsOf text: String) -> [String: Set<String>] {
    var commands: [String] = []
    var current = ""
    for line in text.split(separator: "\n") where line.hasPrefix("#") {
        let content = line.dropFirst().trimmingCharacters(in: .whitespaces)
        if content.hasSuffix("\\") {
            current += content.dropLast() + " "
        } else {
            commands.append(current + content)
            current = ""
        }
    }
    var secrets: [String: Set<String>] = [:]
    for command in commands {
        let words = command.split(separator: " ").map(String.init)
        guard words.starts(with: ["kubectl", "create", "secret", "generic"]), words.count > 4 else { continue }
        secrets[words[4]] = Set(words.compactMap { word -> String? in
            for option in ["--from-file=", "--from-literal="] where word.hasPrefix(option) {
                let value = word.dropFirst(option.count)
                // --from-file=KEY=PATH, --from-literal=KEY=VALUE; --from-file=PATH: the file's name.
                if let equals = value.firstIndex(of: "=") { return String(value[..<equals]) }
                return URL(fileURLWithPath: String(value)).lastPathComponent
            }
            return nil
        })
    }
    return secrets
}

// MARK: - RabbitMQ definitions

/// A RabbitMQ definitions file (`cpis topology`, `Deploy/rabbitmq-definitions.json`).
struct Definitions: Decodable {
    enum Argument: Decodable, Hashable {
        case int(Int), bool(Bool), string(String)

        init(from decoder: any Decoder) throws {
            let value = try decoder.singleValueContainer()
            if let number = try? value.decode(Int.self) {
                self = .int(number)
            } else if let flag = try? value.decode(Bool.self) {
                self = .bool(flag)
            } else {
                self = .string(try value.decode(String.self))
            }
        }
    }

    struct Queue: Decodable, Hashable {
        let name: String, vhost: String, durable: Bool, autoDelete: Bool
        let arguments: [String: Argument]
        enum CodingKeys: String, CodingKey { case name, vhost, durable, autoDelete = "auto_delete", arguments }
    }

    struct Exchange: Decodable, Hashable {
        let name: String, vhost: String, type: String, durable: Bool, autoDelete: Bool, `internal`: Bool
        let arguments: [String: Argument]
        enum CodingKeys: String, CodingKey {
            case name, vhost, type, durable, autoDelete = "auto_delete", `internal`, arguments
        }
    }

    struct Binding: Decodable, Hashable {
        let source: String, destination: String, destinationType: String, routingKey: String, vhost: String
        let arguments: [String: Argument]
        enum CodingKeys: String, CodingKey {
            case source, destination, destinationType = "destination_type", routingKey = "routing_key", vhost, arguments
        }
    }

    let queues: [Queue]
    let exchanges: [Exchange]
    let bindings: [Binding]

    init(json: String) throws {
        self = try JSONDecoder().decode(Definitions.self, from: Data(json.utf8))
    }
}
