import AMQPClient
import CPISDomain
import Dispatch
import Foundation
import HTTPTransport
import Logging
import Synchronization

/// The product: consumes lookups, calls the SMSP with bounded concurrency, and answers every request.
///
/// Deliveries arrive on the AMQP connection's thread and are handed to a ``SlotScheduler``; each
/// started lookup runs on a Dispatch queue (the SMSP call blocks), publishes its result and, when
/// CP-IS answered, the access notification, waits for the broker's confirms, and only then
/// acknowledges the request. A worker killed at any moment loses nothing: unacknowledged requests
/// return to their queue.
public final class LookupWorker: Sendable {
    private struct State {
        var scheduler: SlotScheduler<AMQPDelivery>
        var breaker: CircuitBreaker
        /// Requests answered by this process, oldest first: a redelivery of one is acknowledged, not answered again.
        var answered: Set<String> = []
        var answeredOrder: [String] = []
        /// Requests being worked on, and redeliveries of them that arrived meanwhile.
        var inProgress: [String: [AMQPDelivery]] = [:]
        var consuming: Consumption = .stopped
        var stopping = false
    }

    enum Consumption: Equatable { case stopped, normal, probing }

    private let settings: WorkerSettings
    private let connection: AMQPConnection
    private let smsp: SMSPClient
    private let intake: LookupIntake
    private let logger: Logger
    private let state: Mutex<State>
    private let lookups = DispatchQueue(label: "cpis.worker.lookups", attributes: .concurrent)
    private let idle = DispatchGroup()
    /// Changes of consumption (pause, probe, resume) are applied one after another by one task, in
    /// the order the circuit breaker asked for them: interleaved cancels and consumes could leave a
    /// lane with no consumer.
    private let consumptionChanges = AsyncStream<Consumption>.makeStream()
    private let consumptionTask = Mutex<Task<Void, Never>?>(nil)

    init(settings: WorkerSettings, connection: AMQPConnection, smsp: SMSPClient, logger: Logger) {
        self.settings = settings
        self.connection = connection
        self.smsp = smsp
        self.intake = LookupIntake(maximumBodyBytes: settings.maximumBodyBytes, authorisation: settings.authorisation)
        self.logger = logger
        self.state = Mutex(State(
            scheduler: SlotScheduler(capacity: settings.maximumInFlight, reservedForTriage: settings.reservedForTriage),
            breaker: CircuitBreaker(failureThreshold: settings.breakerFailureThreshold, coolDown: settings.breakerCoolDown,
                                    maximumCoolDown: settings.breakerMaximumCoolDown)))
    }

    private var topology: WorkerTopology { settings.topology }
    private static let directReplyTo = "amq.rabbitmq.reply-to"

    // MARK: Starting and stopping

    /// Connects to the broker, declares the topology and starts consuming: the whole worker, from its
    /// configuration (`cpis worker` and the integration tests both start it this way).
    public static func start(_ configuration: WorkerConfiguration, logger: Logger) async throws -> LookupWorker {
        let validator = try configuration.schemaDirectory.map {
            try SMSPSchemaValidator(directory: URL(fileURLWithPath: $0))
        }
        guard let endpoint = URL(string: configuration.smspIdentity.endpoint) else {
            throw WorkerConfiguration.Problem("smsp.endpoint is not a URL")
        }
        let http = try HTTPClient(tls: configuration.smspTLS,
                                  maximumIdleConnectionsPerHost: configuration.worker.maximumInFlight, logger: logger)
        let connection: AMQPConnection
        do {
            connection = try await AMQPConnection.connect(configuration.broker, logger: logger)
        } catch {
            http.shutdown()
            throw error
        }
        let worker = LookupWorker(
            settings: configuration.worker, connection: connection,
            smsp: SMSPClient(http: http, endpoint: endpoint,
                             builder: SMSPRequestBuilder(identity: configuration.smspIdentity), validator: validator),
            logger: logger)
        do {
            try await worker.start()
        } catch {
            await connection.close()
            http.shutdown()
            throw error
        }
        return worker
    }

    /// Declares the topology and starts consuming.
    func start() async throws(AMQPError) {
        if settings.authorisation.odsCodesByUser == nil {
            logger.critical("""
                NO AUTHORISATION CONFIGURED: every broker user may look up children for any organisation. \
                Acceptable for local development only: set authorisation.users in the worker settings.
                """)
        }
        try await topology.declare(on: connection)
        try await connection.consume(AMQPConsumer(queue: topology.unanswered, tag: "unanswered", prefetch: 4)) {
            [self] delivery in lookups.async(group: idle) { self.answerDeadLettered(delivery) }
        }
        try await consume(.normal)
        let changes = consumptionChanges.stream
        consumptionTask.withLock { task in
            task = Task { [self] in
                for await consumption in changes {
                    do {
                        try await consume(consumption)
                    } catch {
                        logger.error("could not change consumption to \(consumption): \(error)")
                    }
                }
            }
        }
        logger.info("""
            worker consuming \(topology.triage) and \(topology.batch): \(settings.maximumInFlight) SMSP calls at most, \
            \(settings.reservedForTriage) kept for triage
            """)
    }

    /// Stops taking work, lets in-flight lookups finish within the grace period, returns the rest to
    /// the broker, and closes the connection.
    public func shutdown() async {
        let waiting = state.withLock { state in
            state.stopping = true
            return state.scheduler.drainWaiting()
        }
        consumptionChanges.continuation.finish()
        await consumptionTask.withLock { $0 }?.value
        for tag in [LookupLane.triage.rawValue, LookupLane.batch.rawValue, "unanswered"] {
            try? await connection.cancel(consumerTag: tag)
        }
        for delivery in waiting { try? await connection.nack(delivery, requeue: true) }
        let finished = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { [idle, settings] in
                continuation.resume(returning: idle.wait(timeout: .now() + settings.shutdownGracePeriod.seconds) == .success)
            }
        }
        if !finished {
            logger.warning("grace period over with lookups still in flight: closing; the broker requeues them")
        }
        await connection.close()
        smsp.http.shutdown()
        logger.info("worker stopped")
    }

    private func consume(_ consumption: Consumption) async throws(AMQPError) {
        let previous = state.withLock { state in
            defer { state.consuming = consumption }
            return state.consuming
        }
        guard previous != consumption else { return }
        for lane in LookupLane.allCases {
            if previous != .stopped { try await connection.cancel(consumerTag: lane.rawValue) }
            guard consumption != .stopped else { continue }
            let prefetch = consumption == .probing ? 1 : state.withLock { $0.scheduler.prefetch(for: lane) }
            try await connection.consume(AMQPConsumer(queue: topology.queue(for: lane), tag: lane.rawValue,
                                                      prefetch: UInt16(prefetch))) { [self] delivery in
                received(delivery, lane: lane)
            }
        }
    }

    // MARK: Deliveries (on the AMQP connection's thread: quick, never blocking)

    private func received(_ delivery: AMQPDelivery, lane: LookupLane) {
        let id = delivery.message.properties.messageId ?? ""
        enum Action { case ackDuplicate, held, start([(AMQPDelivery, LookupLane)]), refuse }
        let action: Action = state.withLock { state in
            if state.stopping { return .refuse }
            if !id.isEmpty, state.answered.contains(id) { return .ackDuplicate }
            if !id.isEmpty, state.inProgress[id] != nil {
                state.inProgress[id]?.append(delivery)
                return .held
            }
            if !id.isEmpty { state.inProgress[id] = [] }
            return .start(state.scheduler.submit(delivery, lane: lane))
        }
        switch action {
        case .ackDuplicate:
            logger.info("redelivered request already answered: acknowledging it again", metadata: ["request": "\(id)"])
            connection.ack(delivery) { _ in }
        case .held:
            break
        case .refuse:
            connection.nack(delivery, requeue: true) { _ in }
        case .start(let startable):
            launch(startable)
        }
    }

    private func launch(_ startable: [(AMQPDelivery, LookupLane)]) {
        for (delivery, lane) in startable {
            lookups.async(group: idle) { [self] in
                process(delivery, lane: lane)
                launch(state.withLock { $0.scheduler.finish(lane: lane) })
            }
        }
    }

    // MARK: One lookup (on a Dispatch thread: may block)

    private func process(_ delivery: AMQPDelivery, lane: LookupLane) {
        let now = Date()
        switch intake.decide(delivery.message, lane: lane, now: now) {
        case .refuse(let refusal):
            refuse(delivery, refusal)
        case .expired(let refusal):
            let result = LookupResult(requestId: refusal.requestId, nhsNumber: refusal.nhsNumber, outcome: .expired,
                                      attempts: 0, error: .init(kind: .expired, message: refusal.message))
            settle(delivery, result: result, replyTo: delivery.message.properties.replyTo, notification: nil)
        case .accept(let job):
            guard state.withLock({ $0.breaker.allowsCalls }) else {
                // The SMSP is down: the request waits in the broker, not here.
                forget(delivery)
                connection.nack(delivery, requeue: true) { _ in }
                return
            }
            call(job, delivery: delivery)
        }
    }

    private func call(_ job: LookupJob, delivery: AMQPDelivery) {
        let attempt = job.attempts + 1
        var timeout = settings.smspTimeout
        if let deadline = job.deadline {
            timeout = min(timeout, .seconds(max(0.05, deadline.timeIntervalSinceNow)))
        }
        let outcome = smsp.call(job.request, timeout: timeout)
        let nhsNumber = job.request.nhsNumber.digits
        switch outcome {
        case .answered(let answer):
            breakerEvent { $0.recordSuccess() }
            let result = LookupResult(requestId: job.requestId, nhsNumber: nhsNumber, answer: answer, attempts: attempt)
            let notification = AccessNotification(
                requestId: job.requestId, nhsNumber: nhsNumber, accessedAt: Date(), requester: job.request.requester,
                outcome: result.outcome, localAuthoritiesNotified: answer.notifiedLocalAuthorities)
            settle(delivery, result: result, replyTo: job.replyTo, notification: notification)
        case .rejected(let message, let code):
            breakerEvent { $0.recordSuccess() }
            settle(delivery, result: LookupResult(requestId: job.requestId, nhsNumber: nhsNumber, outcome: .failed,
                                                  responseCode: code, attempts: attempt,
                                                  error: .init(kind: .upstreamRejected, message: message)),
                   replyTo: job.replyTo, notification: nil)
        case .notSent(let message):
            refuse(delivery, IntakeRefusal(kind: .invalidRequest, message: message, requestId: job.requestId,
                                           nhsNumber: nhsNumber))
        case .unavailable(let message, let code, let maximumRetries, let timedOut):
            breakerEvent { $0.recordTransientFailure(now: .now) }
            let retriesLeft = min(settings.maximumAttempts, (maximumRetries ?? settings.maximumAttempts) + 1) - attempt
            let step = attempt - 1
            let fitsDeadline = job.deadline.map { Date().addingTimeInterval(topology.retryDelay(step: step).seconds) < $0 }
                ?? true
            if retriesLeft > 0, fitsDeadline, retry(job, delivery: delivery, attempt: attempt, step: step) {
                logger.info("SMSP unavailable, retrying", metadata: [
                    "request": "\(job.requestId)", "attempt": "\(attempt)", "reason": "\(message)"])
                return
            }
            let kind: LookupResult.Failure.Kind = timedOut ? .timeout : .upstreamUnavailable
            settle(delivery, result: LookupResult(
                requestId: job.requestId, nhsNumber: nhsNumber, outcome: .failed, responseCode: code, attempts: attempt,
                error: .init(kind: kind, message: "\(message); gave up after \(attempt) attempt(s)")),
                   replyTo: job.replyTo, notification: nil)
        }
    }

    /// Sends the request to the retry queue for its step (jittered below the step's delay), then
    /// acknowledges the original. False when the broker would not take it.
    private func retry(_ job: LookupJob, delivery: AMQPDelivery, attempt: Int, step: Int) -> Bool {
        var message = delivery.message
        message.properties.headers[LookupIntake.attemptsHeader] = .int(Int64(attempt))
        if let deadline = job.deadline {
            message.properties.headers[LookupIntake.deadlineHeader] = .int(Int64(deadline.timeIntervalSince1970 * 1000))
        }
        // Full jitter would let a message expire at once; keep it within the top fifth of the step.
        let milliseconds = Double(topology.retryDelay(step: step).wholeMilliseconds)
        message.properties.expiration = String(Int(milliseconds * Double.random(in: 0.8...1.0)))
        let sent = publishAndWait([(message, topology.retryName(step: step), topology.queue(for: job.lane))])
        guard sent else { return false }
        finish(delivery, requestId: job.requestId, answered: false)
        return true
    }

    // MARK: Answering

    private func refuse(_ delivery: AMQPDelivery, _ refusal: IntakeRefusal) {
        let outcome: LookupResult.Outcome = .rejected
        logger.warning("request refused", metadata: ["request": "\(refusal.requestId)", "kind": "\(refusal.kind.rawValue)",
                                                     "reason": "\(refusal.message)"])
        var parked = delivery.message
        parked.properties.headers["x-cpis-error-kind"] = .string(refusal.kind.rawValue)
        parked.properties.headers["x-cpis-error"] = .string(refusal.message)
        parked.properties.expiration = nil
        var messages: [(AMQPMessage, String, String)] = [(parked, "", topology.dead)]
        if let replyTo = delivery.message.properties.replyTo {
            let result = LookupResult(requestId: refusal.requestId, nhsNumber: refusal.nhsNumber, outcome: outcome,
                                      attempts: 0, error: .init(kind: refusal.kind, message: refusal.message))
            messages.append((resultMessage(result, correlationId: delivery.message.properties.correlationId,
                                           replyTo: replyTo), "", replyTo))
        }
        if publishAndWait(messages) {
            finish(delivery, requestId: refusal.requestId, answered: true)
        } else {
            forget(delivery)
            connection.nack(delivery, requeue: true) { _ in }
        }
    }

    /// Publishes the result (and notification), and acknowledges the request once both are confirmed.
    private func settle(_ delivery: AMQPDelivery, result: LookupResult, replyTo: String?,
                        notification: AccessNotification?) {
        var messages = [(resultMessage(result, correlationId: delivery.message.properties.correlationId
                                        ?? delivery.message.properties.messageId, replyTo: replyTo),
                         "", replyTo ?? topology.results)]
        if let notification {
            messages.append((AMQPMessage(body: notification.json(), properties: AMQPProperties(
                contentType: "application/json", messageId: UUID().uuidString, timestamp: Date(),
                type: "cpis.access.notification")), topology.accessExchange, notification.routingKey))
        }
        if publishAndWait(messages) {
            logger.info("lookup answered", metadata: ["request": "\(result.requestId)",
                                                      "outcome": "\(result.outcome.rawValue)",
                                                      "attempts": "\(result.attempts)"])
            finish(delivery, requestId: result.requestId, answered: true)
        } else {
            // Not confirmed: give the request back; it will be answered (once) later.
            forget(delivery)
            connection.nack(delivery, requeue: true) { _ in }
        }
    }

    private func resultMessage(_ result: LookupResult, correlationId: String?, replyTo: String?) -> AMQPMessage {
        let direct = replyTo?.hasPrefix(Self.directReplyTo) ?? false
        return AMQPMessage(body: result.json(), properties: AMQPProperties(
            contentType: "application/json", persistent: !direct, correlationId: correlationId ?? result.requestId,
            messageId: UUID().uuidString, timestamp: Date(), type: "cpis.lookup.result"))
    }

    /// Publishes all, waits for every confirm. A result whose reply queue does not exist goes to the
    /// results queue instead, so that it is not lost.
    private func publishAndWait(_ messages: [(AMQPMessage, String, String)]) -> Bool {
        let group = DispatchGroup()
        let failures = FailureCount()
        for (message, exchange, routingKey) in messages {
            publish(message, exchange: exchange, routingKey: routingKey, group: group, failures: failures,
                    fallback: exchange.isEmpty && routingKey != topology.results && routingKey != topology.dead)
        }
        group.wait()
        return failures.count.load(ordering: .acquiring) == 0
    }

    private func publish(_ message: AMQPMessage, exchange: String, routingKey: String, group: DispatchGroup,
                         failures: FailureCount, fallback: Bool) {
        group.enter()
        // RabbitMQ returns every mandatory publish to a direct reply-to address, delivered or not.
        let mandatory = !routingKey.hasPrefix(Self.directReplyTo)
        connection.publish(message, exchange: exchange, routingKey: routingKey, mandatory: mandatory) { [self] result in
            switch result {
            case .success:
                break
            case .failure(let error) where error.code == .unroutable && fallback:
                logger.warning("reply queue \(routingKey) does not exist: result sent to \(topology.results)")
                publish(message, exchange: "", routingKey: topology.results, group: group, failures: failures,
                        fallback: false)
            case .failure(let error):
                logger.error("publish to '\(exchange)' '\(routingKey)' failed: \(error)")
                failures.count.add(1, ordering: .releasing)
            }
            group.leave()
        }
    }

    private func finish(_ delivery: AMQPDelivery, requestId: String, answered: Bool) {
        let duplicates = state.withLock { state in
            let held = state.inProgress.removeValue(forKey: requestId) ?? []
            if answered, state.answered.insert(requestId).inserted {
                state.answeredOrder.append(requestId)
                if state.answeredOrder.count > settings.rememberedRequests {
                    state.answered.remove(state.answeredOrder.removeFirst())
                }
            }
            return held
        }
        connection.ack(delivery) { [logger] result in
            if case .failure(let error) = result {
                logger.warning("acknowledgement failed (the broker will redeliver; it will not be answered twice): \(error)")
            }
        }
        for duplicate in duplicates { connection.ack(duplicate) { _ in } }
    }

    /// Lets a request that goes back to the broker be taken up again.
    private func forget(_ delivery: AMQPDelivery) {
        if let id = delivery.message.properties.messageId {
            _ = state.withLock { $0.inProgress.removeValue(forKey: id) }
        }
    }

    private func answerDeadLettered(_ delivery: AMQPDelivery) {
        let properties = delivery.message.properties
        let reason = properties.headers["x-first-death-reason"]?.stringValue ?? "unknown"
        let requestId = properties.messageId ?? "(no message_id)"
        let nhsNumber = (try? LookupRequest(json: delivery.message.body))?.nhsNumber.digits
        let result = reason == "expired"
            ? LookupResult(requestId: requestId, nhsNumber: nhsNumber, outcome: .expired, attempts: 0,
                           error: .init(kind: .expired, message: "the request waited in the queue past its expiration; "
                               + "nothing was sent to CP-IS"))
            : LookupResult(requestId: requestId, nhsNumber: nhsNumber, outcome: .failed, attempts: 0,
                           error: .init(kind: .upstreamUnavailable, message: "the request could not be processed "
                               + "(\(reason)); it is kept in \(topology.dead) for inspection"))
        if state.withLock({ $0.answered.contains(requestId) }) {
            connection.ack(delivery) { _ in }
            return
        }
        settle(delivery, result: result, replyTo: properties.replyTo, notification: nil)
    }

    private func breakerEvent(_ event: (inout CircuitBreaker) -> CircuitBreaker.Transition) {
        let transition = state.withLock { event(&$0.breaker) }
        switch transition {
        case .none, .probe:
            break
        case .opened(let until):
            logger.error("SMSP unavailable: circuit open, consuming paused for \(until - .now)")
            consumptionChanges.continuation.yield(.stopped)
            DispatchQueue.global().asyncAfter(deadline: .now() + max(0, (until - .now).seconds)) { [self] in
                if state.withLock({ $0.breaker.tick(now: .now) }) == .probe {
                    logger.info("circuit half-open: probing the SMSP with the next lookups")
                    consumptionChanges.continuation.yield(.probing)
                }
            }
        case .closed:
            logger.info("SMSP answering again: circuit closed, consuming resumed")
            consumptionChanges.continuation.yield(.normal)
        }
    }
}

private final class FailureCount: Sendable {
    let count = Atomic<Int>(0)
}
