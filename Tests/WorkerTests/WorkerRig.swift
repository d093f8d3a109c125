import AMQPClient
import TestSupport
import CPISDomain
import Foundation
import HTTPTransport
import Logging
import SMSPSimulator
import Synchronization
import Testing
@testable import Worker

/// A worker against the real broker and the SMSP simulator over mutual TLS, with names of its own,
/// and an EPR's connection to drive it: what the integration tests need.
final class WorkerRig: Sendable {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The worker's settings for Spine's CP-IS at `https://localhost:port` + `path`, over mutual TLS.
    static func spineSettings(port: Int, path: String) throws -> WorkerConfiguration.SpineSettings {
        WorkerConfiguration.SpineSettings(
            identity: SpineIdentity(endpoint: "https://localhost:\(port)\(path)", asid: "200000000123",
                                    spineASID: "999999999999"),
            tls: try Certificates.client())
    }

    let topology: WorkerTopology
    let simulator: SMSPSimulator
    let server: SimulatorServer
    let configuration: WorkerConfiguration
    let epr: AMQPConnection
    let replies: DeliveryInbox
    let replyQueue: String
    private let workerBox = Mutex<LookupWorker?>(nil)

    var worker: LookupWorker? { workerBox.withLock { $0 } }

    static var quietLogger: Logger {
        var logger = Logger(label: "test.worker")
        logger.logLevel = .error
        return logger
    }

    init(maximumAttempts: Int = 3, maximumInFlight: Int = 8, reservedForTriage: Int = 2,
         authorisation: Authorisation = Authorisation(odsCodesByUser: nil), breakerFailureThreshold: Int = 50,
         spine: Bool = false, startWorker: Bool = true) async throws {
        var topology = TopologyTests.uniqueTopology()
        topology.retryDelays = [.milliseconds(100), .milliseconds(200)]
        self.topology = topology

        var settings = SimulatorSettings()
        settings.port = 0
        settings.certificateFile = try Certificates.path("server.pem")
        settings.keyFile = try Certificates.path("server.key")
        settings.clientCAFile = try Certificates.path("ca.pem")
        settings.spine = spine
        simulator = SMSPSimulator(dataset: try SimulatorDataset(contentsOf: Self.packageRoot.appending(
            path: "Config/simulator-dataset.yaml")))
        server = try SimulatorServer(settings: settings, simulator: simulator, logger: Self.quietLogger)
        try server.start()

        var worker = WorkerSettings()
        worker.topology = topology
        worker.maximumAttempts = maximumAttempts
        worker.maximumInFlight = maximumInFlight
        worker.reservedForTriage = reservedForTriage
        worker.smspTimeout = .seconds(2)
        worker.authorisation = authorisation
        worker.breakerFailureThreshold = breakerFailureThreshold
        worker.breakerCoolDown = .milliseconds(500)
        worker.shutdownGracePeriod = .seconds(5)
        var configuration = WorkerConfiguration(
            broker: try BrokerEnvironment.configuration(),
            smspIdentity: SMSPIdentity(endpoint: "https://localhost:\(server.port)/smsp/cpis", username: "worker-test"),
            smspTLS: try Certificates.client(),
            schemaDirectory: nil, worker: worker)
        if authorisation.odsCodesByUser != nil { try Self.relayRequests(&configuration) }
        if spine {
            // The worker is the SMSP, and the simulator answers as Spine's CP-IS.
            configuration.spine = try Self.spineSettings(port: server.port, path: settings.path)
        }
        self.configuration = configuration

        epr = try await BrokerEnvironment.connect()
        replyQueue = "\(topology.triage).replies"
        try await epr.declare(AMQPQueue.quorum(replyQueue))
        replies = DeliveryInbox()
        try await epr.consume(AMQPConsumer(queue: replyQueue, tag: "replies", prefetch: 0, acknowledgement: .automatic),
                              handler: replies.handler)
        if startWorker { try await start() }
    }

    /// With authorisation on, a worker needs a broker user with RabbitMQ's impersonator tag (it
    /// checks at start): the test broker's `guest` stays the EPRs' user.
    static func relayRequests(_ configuration: inout WorkerConfiguration) throws {
        let name = "cpis-test-worker"
        (configuration.broker.username, configuration.broker.password) = (name, try brokerUser(name, tag: "impersonator"))
    }

    /// Creates a broker user on the test broker (anew), with every permission on "/" and `tag`; returns its password.
    static func brokerUser(_ name: String, tag: String? = nil) throws -> String {
        let password = "test-\(UUID().uuidString)"
        _ = try? BrokerEnvironment.ctl("delete_user", name)
        try BrokerEnvironment.ctl("add_user", name, password)
        try BrokerEnvironment.ctl("set_permissions", "-p", "/", name, ".*", ".*", ".*")
        if let tag { try BrokerEnvironment.ctl("set_user_tags", name, tag) }
        return password
    }

    func start() async throws {
        let worker = try await LookupWorker.start(configuration, logger: Self.quietLogger)
        workerBox.withLock { $0 = worker }
    }

    func stop() async {
        if let worker = workerBox.withLock({ $0 }) { await worker.shutdown() }
        // Each rig's quorum queues are its own: remove them, so that a long test run does not leave
        // the broker carrying hundreds of idle Raft groups.
        for queue in topology.declarations.queues.map(\.name) + [replyQueue] {
            try? await epr.deleteQueue(queue)
        }
        await epr.close()
        server.shutdown()
    }

    /// Every access notification the worker publishes from now on (the audit queue, consumed here).
    func accessNotifications() async throws -> DeliveryInbox {
        let audit = DeliveryInbox()
        try await epr.consume(AMQPConsumer(queue: topology.audit, tag: "audit", prefetch: 0, acknowledgement: .automatic),
                              handler: audit.handler)
        return audit
    }

    /// Takes the triage queue's requests and hands each back until the broker dead-letters it past the
    /// delivery limit, as a request that crashes every worker would be handed back.
    func handBackPastDeliveryLimit() async throws {
        let holder = try await BrokerEnvironment.connect()
        let handedOut = DeliveryInbox()
        try await holder.consume(AMQPConsumer(queue: topology.triage, tag: "crasher", prefetch: 1)) { delivery in
            handedOut.handler(delivery)
            holder.nack(delivery, requeue: true) { _ in }
        }
        _ = try await handedOut.wait(count: topology.deliveryLimit + 1)
        try await holder.cancel(consumerTag: "crasher")
        await holder.close()
    }

    static func body(_ nhsNumber: String, ods: String = "RKE") -> String {
        """
        {"nhsNumber":"\(nhsNumber)","requester":{"organisation":{"odsCode":"\(ods)","name":"The Whittington Hospital"},
         "user":{"sdsUserId":"200009876204","jobRole":{"code":"R0260","displayName":"General Medical Practitioner"},
         "name":{"prefix":"Dr","given":"Paula","family":"Palmer"}}}}
        """
    }

    /// Publishes a lookup as an EPR would; returns its message id.
    @discardableResult
    func send(_ body: String, lane: LookupLane = .triage, id: String = UUID().uuidString,
              contentType: String? = "application/json", replyTo: String? = nil, expiration: String? = nil,
              userId: String? = nil) async throws -> String {
        try await epr.publish(AMQPMessage(body, properties: AMQPProperties(
            contentType: contentType, replyTo: replyTo ?? replyQueue, expiration: expiration, messageId: id,
            userId: userId)), routingKey: topology.queue(for: lane))
        return id
    }

    /// The results that have arrived for these ids, as JSON objects, waiting for all of them.
    func results(for ids: [String], timeout: Duration = .seconds(30)) async throws -> [String: [String: Any]] {
        let wanted = Set(ids)
        let deliveries = try await replies.wait(for: "\(ids.count) results", timeout: timeout) { deliveries in
            wanted.isSubset(of: Set(deliveries.compactMap { Self.json($0)?["requestId"] as? String }))
        }
        var byId: [String: [String: Any]] = [:]
        for delivery in deliveries {
            if let json = Self.json(delivery), let id = json["requestId"] as? String, wanted.contains(id) { byId[id] = json }
        }
        return byId
    }

    func result(for id: String) async throws -> [String: Any] {
        try #require(try await results(for: [id])[id])
    }

    static func json(_ delivery: AMQPDelivery) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(delivery.message.body)) as? [String: Any]
    }
}
