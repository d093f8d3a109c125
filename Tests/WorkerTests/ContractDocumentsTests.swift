import AMQPClient
import CPISDomain
import SMSPSimulator
import TestSupport
import Foundation
import Testing
import Yams
@testable import Worker

/// What integrators read in `docs/`: the AsyncAPI document and the golden examples. They are checked
/// against the contract's JSON Schemas, the topology the worker declares, and what the worker really
/// publishes, so that they cannot drift from the product.
@Suite("the contract's documents (docs/asyncapi.yaml, docs/examples)", .serialized, .timeLimit(.minutes(3)))
struct ContractDocumentsTests {
    static let docs = WorkerRig.packageRoot.appending(path: "docs")
    static let examples = docs.appending(path: "examples")
    static let asyncAPIFile = docs.appending(path: "asyncapi.yaml")

    /// One golden example of each message the contract defines (docs/examples/NAME.json).
    static let exampleNames = [
        "request-triage-person", "request-batch-system",
        "result-records-found", "result-records-found-unborn", "result-no-record", "result-rejected-invalid-request",
        "result-rejected-unauthorised", "result-failed-upstream-unavailable", "result-expired",
        "result-failed-upstream-rejected", "result-failed-timeout", "result-failed-wrong-patient",
        "result-no-record-possibly-stale", "result-failed-delivery-limit",
        "access-notification",
    ]

    /// The JSON Schema (Config/contract/NAME.schema.json) of an example, by its name.
    static func schema(ofExample name: String) -> String? {
        if name.hasPrefix("request-") { return "lookup-request" }
        if name.hasPrefix("result-") { return "lookup-result" }
        if name.hasPrefix("access-notification") { return "access-notification" }
        return nil
    }

    static func example(_ name: String) -> URL { examples.appending(path: "\(name).json") }

    // MARK: Reading JSON and YAML documents

    struct Problem: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// A JSON or YAML file as JSON values ([String: Any], [Any], String, Int, Double, Bool, NSNull).
    /// YAML timestamps stay strings, as they would in JSON.
    static func load(_ file: URL) throws -> Any {
        let data = try Data(contentsOf: file)
        if file.pathExtension == "json" { return try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed) }
        let loaded = try Yams.load(yaml: String(decoding: data, as: UTF8.self), Resolver.default.removing(.timestamp))
        return jsonValue(loaded ?? NSNull())
    }

    private static func jsonValue(_ value: Any) -> Any {
        switch value {
        case let mapping as [AnyHashable: Any]:
            Dictionary(uniqueKeysWithValues: mapping.map { ("\($0.key.base)", jsonValue($0.value)) })
        case let sequence as [Any]:
            sequence.map(jsonValue)
        default:
            value
        }
    }

    static func asyncAPI() throws -> [String: Any] {
        try #require(try load(asyncAPIFile) as? [String: Any])
    }

    /// What a `$ref` found in `file` names: the file it is in, and the value its JSON pointer names.
    static func resolve(_ reference: String, from file: URL) throws -> (file: URL, value: Any) {
        let parts = reference.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        let target = parts[0].isEmpty ? file
            : URL(fileURLWithPath: String(parts[0]), relativeTo: file.deletingLastPathComponent()).standardizedFileURL
        guard FileManager.default.fileExists(atPath: target.path) else { throw Problem("no file \(target.path)") }
        var value = try load(target)
        let pointer = parts.count > 1 ? parts[1] : ""
        for token in pointer.split(separator: "/") {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let object = value as? [String: Any], let member = object[key] {
                value = member
            } else if let array = value as? [Any], let index = Int(key), array.indices.contains(index) {
                value = array[index]
            } else {
                throw Problem("\(target.lastPathComponent) has nothing at #\(pointer)")
            }
        }
        return (target, value)
    }

    /// A value that may be a Reference Object, resolved (once) from `file`.
    static func dereferenced(_ value: Any?, from file: URL = ContractDocumentsTests.asyncAPIFile) throws -> Any? {
        guard let object = value as? [String: Any], let reference = object["$ref"] as? String else { return value }
        return try resolve(reference, from: file).value
    }

    /// Every `$ref` in a document, with where it is.
    static func references(in value: Any, at path: String = "") -> [(path: String, reference: String)] {
        if let object = value as? [String: Any] {
            var found: [(String, String)] = []
            if let reference = object["$ref"] as? String { found.append((path, reference)) }
            for (key, member) in object where key != "$ref" { found += references(in: member, at: "\(path)/\(key)") }
            return found
        }
        if let array = value as? [Any] {
            return array.enumerated().flatMap { references(in: $0.element, at: "\(path)/\($0.offset)") }
        }
        return []
    }

    static func data(_ value: Any) throws -> Data {
        try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])
    }

    // MARK: The AsyncAPI document

    @Test("docs/asyncapi.yaml is AsyncAPI 3.0.0 YAML, and every $ref in it resolves to an existing file and pointer")
    func asyncAPIReferencesResolve() throws {
        let document = try Self.asyncAPI()
        #expect(document["asyncapi"] as? String == "3.0.0")
        // Follow references into the files they name (the JSON Schemas' own, the examples').
        var pending: [(file: URL, value: Any)] = [(Self.asyncAPIFile, document)]
        var files: Set<URL> = [Self.asyncAPIFile]
        var resolved = 0
        while let next = pending.popLast() {
            let file = next.file
            for (path, reference) in Self.references(in: next.value) {
                do {
                    let target = try Self.resolve(reference, from: file).file
                    resolved += 1
                    if files.insert(target).inserted { pending.append((target, try Self.load(target))) }
                } catch {
                    Issue.record("\(file.lastPathComponent) \(path): $ref '\(reference)' does not resolve: \(error)")
                }
            }
        }
        #expect(resolved > 50)
        // Payloads are the contract's JSON Schemas, referenced, not copied; every example is shown.
        let messages = try #require((document["components"] as? [String: Any])?["messages"] as? [String: [String: Any]])
        for (name, message) in messages {
            let payload = (message["payload"] as? [String: Any]) ?? [:]
            #expect(payload.count == 1 && (payload["$ref"] as? String)?.hasPrefix("../Config/contract/") == true,
                    "message \(name): the payload must be a $ref to a schema in Config/contract/")
        }
        let schemas = ["lookup-request", "lookup-result", "access-notification"].map {
            WorkerRig.packageRoot.appending(path: "Config/contract/\($0).schema.json").standardizedFileURL
        }
        #expect(Set(schemas).isSubset(of: files))
        for name in Self.exampleNames {
            #expect(files.contains(Self.example(name).standardizedFileURL), "docs/asyncapi.yaml does not show examples/\(name).json")
        }
    }

    @Test("every channel is a queue or an exchange the worker declares (WorkerTopology's defaults), with its arguments and bindings")
    func channelsAreTheWorkersTopology() throws {
        let topology = WorkerTopology()
        let (exchanges, queues, bindings) = topology.declarations
        let channels = try #require(try Self.asyncAPI()["channels"] as? [String: [String: Any]])
        func text(_ value: Any?) -> String { value.map { "\($0)" } ?? "nil" }
        func fieldText(_ field: AMQPFieldValue) -> String { field.stringValue ?? field.intValue.map { "\($0)" } ?? "\(field)" }

        var addresses: Set<String> = []
        var dynamic: [String] = []
        for (name, channel) in channels {
            guard let address = channel["address"] as? String else {
                dynamic.append(name)
                continue
            }
            addresses.insert(address)
            let amqp = try #require((channel["bindings"] as? [String: Any])?["amqp"] as? [String: Any],
                                    "channel \(name) has no AMQP binding")
            switch amqp["is"] as? String {
            case "queue":
                let queue = amqp["queue"] as? [String: Any] ?? [:]
                #expect(queue["name"] as? String == address, "channel \(name): queue.name is not its address")
                guard let declared = queues.first(where: { $0.name == address }) else {
                    Issue.record("channel \(name): the worker declares no queue \(address)")
                    continue
                }
                #expect(queue["durable"] as? Bool == declared.durable, "channel \(name): durable")
                #expect(queue["exclusive"] as? Bool == declared.exclusive, "channel \(name): exclusive")
                #expect(queue["autoDelete"] as? Bool == declared.autoDelete, "channel \(name): autoDelete")
                let arguments = (amqp["x-arguments"] as? [String: Any] ?? [:]).mapValues { text($0) }
                #expect(arguments == declared.arguments.mapValues(fieldText), "channel \(name): x-arguments")
                let documented = Set((amqp["x-bindings"] as? [[String: Any]] ?? []).map {
                    "\(text($0["exchange"])) \(text($0["routingKey"]))"
                })
                let declaredBindings = Set(bindings.filter { $0.queue == address }.map { "\($0.exchange) \($0.routingKey)" })
                #expect(documented == declaredBindings, "channel \(name): x-bindings")
            case "routingKey":
                let exchange = amqp["exchange"] as? [String: Any] ?? [:]
                #expect(exchange["name"] as? String == address, "channel \(name): exchange.name is not its address")
                guard let declared = exchanges.first(where: { $0.name == address }) else {
                    Issue.record("channel \(name): the worker declares no exchange \(address)")
                    continue
                }
                #expect(exchange["type"] as? String == declared.kind.rawValue, "channel \(name): exchange type")
                #expect(exchange["durable"] as? Bool == declared.durable, "channel \(name): durable")
                #expect(exchange["autoDelete"] as? Bool == declared.autoDelete, "channel \(name): autoDelete")
            default:
                Issue.record("channel \(name): bindings.amqp.is must be queue or routingKey")
            }
        }
        // Exactly the contract's public names; the reply queue is the request's reply_to, unknown ahead.
        #expect(addresses == [topology.triage, topology.batch, topology.results, topology.accessExchange, topology.audit,
                              topology.dead])
        #expect(dynamic == ["lookupReplies"])
    }

    @Test("each operation names a channel, and messages and replies of that channel, as AsyncAPI 3.0 requires")
    func operationsNameTheirChannelsMessages() throws {
        let document = try Self.asyncAPI()
        let channels = try #require(document["channels"] as? [String: [String: Any]])
        let operations = try #require(document["operations"] as? [String: [String: Any]])
        func channel(_ value: Any?, of operation: String) -> String? {
            guard let reference = (value as? [String: Any])?["$ref"] as? String, reference.hasPrefix("#/channels/"),
                  let name = reference.split(separator: "/").last.map(String.init), channels[name] != nil
            else {
                Issue.record("operation \(operation): its channel is not a $ref to one of #/channels")
                return nil
            }
            return name
        }
        func checkMessages(_ value: Any?, channel: String, of operation: String) {
            let references = (value as? [[String: Any]] ?? []).compactMap { $0["$ref"] as? String }
            #expect(!references.isEmpty, "operation \(operation) names no messages")
            for reference in references {
                #expect(reference.hasPrefix("#/channels/\(channel)/messages/"),
                        "operation \(operation): \(reference) is not a message of channel \(channel)")
            }
        }
        var received: Set<String> = []
        for (name, operation) in operations {
            guard let channelName = channel(operation["channel"], of: name) else { continue }
            checkMessages(operation["messages"], channel: channelName, of: name)
            if operation["action"] as? String == "receive" { received.insert(channelName) }
            if let reply = operation["reply"] as? [String: Any], let replyChannel = channel(reply["channel"], of: name) {
                checkMessages(reply["messages"], channel: replyChannel, of: name)
                #expect((reply["address"] as? [String: Any])?["location"] as? String == "$message.header#/reply_to")
            }
        }
        #expect(received == ["triageLookups", "batchLookups"], "the worker receives the two lanes, nothing else")
    }

    @Test("the payload schemas use only keywords that mean the same in draft-07, as the AsyncAPI document says")
    func payloadSchemasReadAsDraft07() throws {
        // Draft 2020-12 keywords that draft-07 (and so the AsyncAPI Schema format) lacks or reads otherwise.
        let newer: Set<String> = ["prefixItems", "$dynamicRef", "$dynamicAnchor", "$anchor", "$recursiveRef",
                                  "$recursiveAnchor", "unevaluatedProperties", "unevaluatedItems", "dependentRequired",
                                  "dependentSchemas", "minContains", "maxContains", "$vocabulary"]
        func check(_ value: Any, at path: String, in file: String) {
            if let object = value as? [String: Any] {
                for key in object.keys where newer.contains(key) { Issue.record("\(file) \(path): \(key) is not draft-07") }
                // Draft-07 ignores every keyword beside a $ref.
                if object["$ref"] != nil, !Set(object.keys).subtracting(["$ref", "description", "title", "$comment"]).isEmpty {
                    Issue.record("\(file) \(path): keywords beside $ref, which draft-07 ignores")
                }
                for (key, member) in object { check(member, at: "\(path)/\(key)", in: file) }
            } else if let array = value as? [Any] {
                for (index, member) in array.enumerated() { check(member, at: "\(path)/\(index)", in: file) }
            }
        }
        for schema in ["lookup-request", "lookup-result", "access-notification"] {
            let file = WorkerRig.packageRoot.appending(path: "Config/contract/\(schema).schema.json")
            check(try Self.load(file), at: "", in: "\(schema).schema.json")
        }
    }

    @Test("each AsyncAPI message example's properties and payload validate against that message's schemas")
    func asyncAPIExamplesValidate() throws {
        let messages = try #require((try Self.asyncAPI()["components"] as? [String: Any])?["messages"] as? [String: [String: Any]])
        var shown = 0
        for (name, message) in messages {
            let headers = try #require(try Self.dereferenced(message["headers"]), "message \(name) has no headers schema")
            let payloadFile = try Self.resolve(try #require((message["payload"] as? [String: Any])?["$ref"] as? String),
                                               from: Self.asyncAPIFile).file
            let examples = message["examples"] as? [[String: Any]] ?? []
            if examples.isEmpty { continue }
            var properties: [Data] = [], payloads: [Data] = []
            for example in examples {
                let label = "message \(name), example \(example["name"] ?? "?")"
                if let shown = example["headers"] { properties.append(try Self.data(shown)) }
                let payload = try #require(try Self.dereferenced(example["payload"]), "\(label) has no payload")
                payloads.append(try Self.data(payload))
                // A result's properties name the request it answers.
                if name == "lookupResult", let shown = example["headers"] as? [String: Any],
                   let requestId = (payload as? [String: Any])?["requestId"] as? String {
                    #expect(shown["message_id"] as? String == "\(requestId)/result", "\(label)")
                    #expect(shown["correlation_id"] as? String == requestId, "\(label)")
                }
            }
            #expect(try ContractSchemaTests.problems(properties, schemaJSON: try Self.data(headers)) == [],
                    "message \(name): the examples' properties")
            #expect(try ContractSchemaTests.problems(payloads, schemaFile: payloadFile) == [],
                    "message \(name): the examples' payloads")
            shown += examples.count
        }
        #expect(shown >= Self.exampleNames.count)
    }

    @Test("docs/asyncapi.yaml validates against the official AsyncAPI 3.0.0 JSON Schema (CPIS_ASYNCAPI_SCHEMA: its bundled file)",
          .enabled(if: ProcessInfo.processInfo.environment["CPIS_ASYNCAPI_SCHEMA"] != nil))
    func officialSchema() throws {
        // The schema is not in the repository, and CI cannot download it: this runs where a developer
        // names a copy of spec-json-schemas' schemas/3.0.0.json.
        let schema = try #require(ProcessInfo.processInfo.environment["CPIS_ASYNCAPI_SCHEMA"])
        let script = """
            import json, sys
            from jsonschema import Draft7Validator
            from jsonschema_specifications import REGISTRY
            from referencing.jsonschema import DRAFT7
            schema = json.load(open(sys.argv[1]))
            registry = REGISTRY.with_resource(schema["$id"], DRAFT7.create_resource(schema)).crawl()
            for error in Draft7Validator(schema, registry=registry).iter_errors(json.load(sys.stdin)):
                print(f"{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}")
            """
        let (status, printed) = try Python.run(["-c", script, schema], input: try Self.data(try Self.asyncAPI()))
        #expect(status == 0)
        #expect(printed.isEmpty, "\(printed)")
    }

    // MARK: The golden examples

    @Test("every golden example validates against its JSON Schema, and together they show every outcome")
    func examplesValidate() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.examples.path).filter { $0.hasSuffix(".json") }
        #expect(Set(files) == Set(Self.exampleNames.map { "\($0).json" }), "docs/examples has files no test knows")
        var bySchema: [String: [Data]] = [:]
        for name in Self.exampleNames {
            bySchema[try #require(Self.schema(ofExample: name)), default: []].append(try Data(contentsOf: Self.example(name)))
        }
        for (schema, instances) in bySchema {
            #expect(try ContractSchemaTests.problems(instances, schema: schema) == [], "examples of \(schema)")
        }
        let results = try Self.exampleNames.filter { $0.hasPrefix("result-") }.map {
            try #require(try Self.load(Self.example($0)) as? [String: Any])
        }
        #expect(Set(results.compactMap { $0["outcome"] as? String })
                == Set(LookupResult.Outcome.allCases.map(\.rawValue)), "every outcome has an example")
        let errorKinds = Set(results.compactMap { ($0["error"] as? [String: Any])?["kind"] as? String })
        #expect(errorKinds == Set(LookupResult.Failure.Kind.allCases.map(\.rawValue)), "every error kind has an example")
        #expect(results.contains { $0["possiblyStale"] as? Bool == true }, "an answer from the SMSP's local store has an example")
        let deliveryLimit = try #require(try Self.load(Self.example("result-failed-delivery-limit")) as? [String: Any])
        #expect(deliveryLimit["outcome"] as? String == "failed"
                && ((deliveryLimit["error"] as? [String: Any])?["message"] as? String)?.contains("handed to workers") == true,
                "result-failed-delivery-limit.json is not the answer to a request over the delivery limit")
        let records = results.flatMap { $0["records"] as? [[String: Any]] ?? [] }
        #expect(records.contains { ($0["subject"] as? [String: Any])?["kind"] as? String == "unborn-child" })
        #expect(records.contains { ($0["localAuthority"] as? [String: Any])?["emergencyDutyPhone"] is String })
        #expect(results.contains { !($0["accessHistory"] as? [Any] ?? []).isEmpty })
        // The contract in words links each of them.
        let contract = try String(contentsOf: Self.docs.appending(path: "message-contract.md"), encoding: .utf8)
        #expect(Self.exampleNames.filter { !contract.contains("(examples/\($0).json)") } == [],
                "message-contract.md does not link these examples")
        #expect(contract.contains("(asyncapi.yaml)") && contract.contains("(../examples/epr_client.py)"))
    }

    /// How each golden result is produced: its triage request's id and body, and how it is sent.
    struct GoldenRequest {
        var example: String
        var id: String
        var body: Data
        /// Sent this long ago (AMQP `timestamp`), with `expiration`.
        var sentAgo: TimeInterval?
        var expiration: String?
    }

    @Test("the golden examples are what the worker publishes (CPIS_UPDATE_EXAMPLES=1 writes them anew from it)")
    func examplesAreWhatTheWorkerPublishes() async throws {
        let update = ProcessInfo.processInfo.environment["CPIS_UPDATE_EXAMPLES"] == "1"
        // As deployed: the EPR publishes as a broker user of its own, which may act for RKE only (as in the
        // AsyncAPI examples); the worker has its own, which may republish requests with their user_id.
        let user = "epr-whittington", workerUser = "cpis-worker"
        var eprConfiguration = try BrokerEnvironment.configuration()
        (eprConfiguration.username, eprConfiguration.password) = (user, try WorkerRig.brokerUser(user))
        let epr = try await AMQPConnection.connect(eprConfiguration, logger: BrokerEnvironment.logger)
        let rig = try await WorkerRig(maximumAttempts: 5, authorisation: Authorisation(odsCodesByUser: [user: ["RKE"]]),
                                      startWorker: false)
        var configuration = rig.configuration
        (configuration.broker.username, configuration.broker.password)
            = (workerUser, try WorkerRig.brokerUser(workerUser, tag: "impersonator"))
        func send(_ body: Data, id: String, lane: LookupLane = .triage, sentAgo: TimeInterval? = nil,
                  expiration: String? = nil) async throws {
            try await epr.publish(AMQPMessage(body: Array(body), properties: AMQPProperties(
                contentType: "application/json", replyTo: rig.replyQueue, expiration: expiration, messageId: id,
                timestamp: sentAgo.map { Date().addingTimeInterval(-$0) }, userId: user)),
                routingKey: rig.topology.queue(for: lane))
        }
        let triage = try Data(contentsOf: Self.example("request-triage-person"))
        /// The triage request, changed.
        func variant(_ change: (inout [String: Any]) -> Void) throws -> Data {
            var body = try #require(try JSONSerialization.jsonObject(with: triage) as? [String: Any])
            change(&body)
            return try JSONSerialization.data(withJSONObject: body)
        }

        // Before the worker starts: a request that every holder hands back (as one that crashed each
        // worker would be) goes over the queue's delivery limit; the broker dead-letters it, and the
        // worker answers it from the unanswered queue once it starts.
        let overLimit = GoldenRequest(example: "result-failed-delivery-limit", id: "f1d3b5a7-9c2e-4f6a-8b0d-3e5f7a9c1b62",
                                      body: try variant { $0["nhsNumber"] = "999 000 0069" })
        try await rig.topology.declare(on: rig.epr)
        try await send(overLimit.body, id: overLimit.id)
        try await rig.handBackPastDeliveryLimit()

        // The SMSP answers one child's query with another child's record (wrong-patient), and never
        // answers queries about another (timeout).
        rig.simulator.script(nhsNumber: "9990000026", steps: [.fault(.crossedRecord)])
        rig.simulator.behaviour = SimulatorBehaviour(faultTriggers: ["9990000050": .noResponse])
        let worker = try await LookupWorker.start(configuration, logger: WorkerRig.quietLogger)
        let audit = try await rig.accessNotifications(), parked = DeliveryInbox()
        try await rig.epr.consume(AMQPConsumer(queue: rig.topology.dead, tag: "dead", prefetch: 0,
                                               acknowledgement: .automatic), handler: parked.handler)

        // At shift start the batch job asked about the child; at triage, the clinician asks: the record's
        // access history shows both.
        let batch = "0c8e2d4a-6b1f-4a3e-8d7c-9e0f1a2b3c41"
        try await send(try Data(contentsOf: Self.example("request-batch-system")), id: batch, lane: .batch)
        #expect(try await rig.result(for: batch)["outcome"] as? String == "records-found")
        let requests = [
            GoldenRequest(example: "result-records-found", id: "7d3f6c1e-2b8a-4f0e-9c5d-1a2b3c4d5e60", body: triage),
            GoldenRequest(example: "result-records-found-unborn", id: "3e1b7c90-5d2a-4b8f-a6c4-8f0d2e1a9b57",
                          body: try variant { $0["nhsNumber"] = "999 000 0034" }),
            GoldenRequest(example: "result-no-record", id: "a4c2e8f1-9b3d-4e6a-8c1f-2d5b7e9a0c38",
                          body: try variant { $0["nhsNumber"] = "999 000 0077" }),
            GoldenRequest(example: "result-rejected-invalid-request", id: "b7e9d1a3-2c4f-4a8b-9e6d-5f1c3a7b2e94",
                          body: try variant { $0["nhsNumber"] = "999 000 0019" }),
            GoldenRequest(example: "result-rejected-unauthorised", id: "c2f4a6b8-1d3e-4c5a-b7e9-0a2c4e6f8b13",
                          body: try variant {
                              var requester = $0["requester"] as? [String: Any] ?? [:]
                              requester["organisation"] = ["odsCode": "RAL", "name": "Royal Free London"]
                              $0["requester"] = requester
                          }),
            GoldenRequest(example: "result-failed-upstream-unavailable", id: "d8a0c2e4-6f1b-4d3a-9c5e-7b9d1f3a5c26",
                          body: try variant { $0["nhsNumber"] = "666 666 6666" }),
            GoldenRequest(example: "result-expired", id: "e5b7d9f1-3a2c-4e4b-8d6f-1c3e5a7b9d40",
                          body: try variant { $0["nhsNumber"] = "999 000 0042" }, sentAgo: 60, expiration: "30000"),
            GoldenRequest(example: "result-failed-upstream-rejected", id: "a9c1e3f5-7b2d-4f8a-9e6c-4d2b8f0a6c15",
                          body: try variant { $0["nhsNumber"] = "555 555 5555" }),
            GoldenRequest(example: "result-failed-timeout", id: "b3d5f7a9-1c4e-4a6b-8d0f-5e7a9c1b3d28",
                          body: try variant { $0["nhsNumber"] = "999 000 0050" }),
            GoldenRequest(example: "result-failed-wrong-patient", id: "c6e8a0b2-4d7f-4b9c-a1e3-6f8b0d2c4e39",
                          body: try variant { $0["nhsNumber"] = "999 000 0026" }),
            GoldenRequest(example: "result-no-record-possibly-stale", id: "d0f2b4c6-8e1a-4c3d-b5f7-7a9c1e3d5f40",
                          body: try variant { $0["nhsNumber"] = "333 333 3333" }),
        ]
        for request in requests {
            try await send(request.body, id: request.id, sentAgo: request.sentAgo, expiration: request.expiration)
        }
        let results = try await rig.results(for: requests.map(\.id) + [overLimit.id], timeout: .seconds(60))
        let notifications = try await audit.wait(for: "the triage lookup's access notification") { deliveries in
            deliveries.contains { WorkerRig.json($0)?["requestId"] as? String == requests[0].id }
        }
        let notification = try #require(notifications.first { WorkerRig.json($0)?["requestId"] as? String == requests[0].id })
        #expect(notification.routingKey == "RKE.V145")
        // The two refused requests, and the copy of the one over the delivery limit.
        try await parked.wait(count: 3)

        var produced = [(example: String, body: [UInt8])]()
        for request in requests + [overLimit] {
            let delivery = try #require(rig.replies.all.first { WorkerRig.json($0)?["requestId"] as? String == request.id })
            produced.append((request.example, delivery.message.body))
        }
        produced.append(("access-notification", notification.message.body))
        #expect(results.count == requests.count + 1)
        #expect(rig.simulator.notifications(nhsNumber: "9990000069").isEmpty, "the request over the limit was never asked")

        // The rig's own dead-letter queue and simulator address appear as the shipped defaults' (the
        // contract's queue name, Config/worker.yaml's SMSP endpoint), so the examples read as a deployment's.
        let ownNames = [(rig.topology.dead, WorkerTopology().dead), ("localhost:\(rig.server.port)", "localhost:8443")]
        for index in produced.indices {
            var text = String(decoding: produced[index].body, as: UTF8.self)
            for (own, shipped) in ownNames { text = text.replacingOccurrences(of: own, with: shipped) }
            produced[index].body = Array(text.utf8)
        }

        for (example, body) in produced {
            let file = Self.example(example)
            if update {
                // Pretty-printed by Python's json, which keeps the worker's order of members.
                let (status, pretty) = try Python.run(
                    ["-c", "import json, sys; print(json.dumps(json.load(sys.stdin), indent=2, ensure_ascii=False))"],
                    input: Data(body))
                #expect(status == 0)
                try Data(pretty.utf8).write(to: file)
                continue
            }
            #expect(try Self.comparable(Data(body)) == (try Self.comparable(Data(contentsOf: file))),
                    "docs/examples/\(example).json is not what the worker publishes: rerun with CPIS_UPDATE_EXAMPLES=1")
        }

        // The AMQP properties the worker really sets are those the AsyncAPI document describes.
        let schemas = try #require((try Self.asyncAPI()["components"] as? [String: Any])?["schemas"] as? [String: Any])
        func check(_ deliveries: [AMQPDelivery], against schema: String) throws {
            let instances = try deliveries.map { try Self.data(Self.propertiesJSON($0.message.properties)) }
            #expect(try ContractSchemaTests.problems(instances, schemaJSON: try Self.data(try #require(schemas[schema])))
                    == [], "\(schema)")
        }
        try check(rig.replies.all, against: "resultProperties")
        try check(audit.all, against: "notificationProperties")
        try check(parked.all, against: "parkedProperties")
        #expect(Set(parked.all.compactMap { $0.message.properties.headers["x-cpis-error-kind"]?.stringValue })
                == ["invalid-request", "unauthorised"])
        await worker.shutdown()
        await epr.close()
        await rig.stop()
        for name in [user, workerUser] { try BrokerEnvironment.ctl("delete_user", name) }
    }

    /// A message body for comparison: its times (which change with every run) replaced, keys sorted.
    static func comparable(_ body: Data) throws -> String {
        func normalised(_ value: Any, key: String? = nil) -> Any {
            if let object = value as? [String: Any] {
                return Dictionary(uniqueKeysWithValues: object.map { ($0.key, normalised($0.value, key: $0.key)) })
            }
            if let array = value as? [Any] { return array.map { normalised($0) } }
            if let key, ["completedAt", "accessedAt"].contains(key), value is String { return "<time>" }
            return value
        }
        let value = normalised(try JSONSerialization.jsonObject(with: body))
        let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// A message's AMQP properties as the AsyncAPI document names them.
    static func propertiesJSON(_ properties: AMQPProperties) -> [String: Any] {
        func json(_ field: AMQPFieldValue) -> Any {
            switch field {
            case .bool(let value): value
            case .int(let value): Int(value)
            case .double(let value): value
            case .string(let value): value
            case .bytes(let value): String(decoding: value, as: UTF8.self)
            case .timestamp(let value): Int(value.timeIntervalSince1970)
            case .array(let values): values.map(json)
            case .table(let table): table.mapValues(json)
            case .void: NSNull()
            }
        }
        var object: [String: Any] = ["delivery_mode": properties.persistent ? 2 : 1]
        object["message_id"] = properties.messageId
        object["correlation_id"] = properties.correlationId
        object["reply_to"] = properties.replyTo
        object["content_type"] = properties.contentType
        object["expiration"] = properties.expiration
        object["timestamp"] = properties.timestamp.map { Int($0.timeIntervalSince1970) }
        object["type"] = properties.type
        object["user_id"] = properties.userId
        if !properties.headers.isEmpty { object["headers"] = properties.headers.mapValues(json) }
        return object
    }
}
