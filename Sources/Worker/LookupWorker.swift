import AMQPClient
import CPISDomain
import Dispatch
import Foundation
import HTTPTransport
import Logging
import Metrics
import Observability
import Settings
import Synchronization

/// The product: consumes lookups, calls the SMSP with bounded concurrency, and answers every request.
///
/// The decisions are made by a ``WorkerStateMachine`` behind a lock; this class carries them out.
/// Deliveries arrive on the AMQP connection's thread. A started lookup runs on its slot, one serial
/// Dispatch queue per slot, so exactly `maxInFlight` SMSP calls can run at once from the first
/// second (a concurrent queue's threads grow about one a second while its threads block). The
/// slot is freed when the SMSP call is over; the result (and, when CP-IS answered, the access
/// notification) is then published, and the request acknowledged once the broker has confirmed
/// them, without holding the slot. A worker killed at any moment loses nothing: unacknowledged
/// requests return to their queue.
public final class LookupWorker: Sendable {
    typealias Machine = WorkerStateMachine<AMQPDelivery>
    typealias Lookup = Machine.Lookup

    private let settings: WorkerSettings
    private let connection: AMQPConnection
    private let upstream: any Upstream
    private let intake: LookupIntake
    private let logger: Logger
    private let metrics: WorkerMetrics
    private let machine: Mutex<Machine>
    private let slots: [DispatchQueue]
    /// Dead-lettered requests (`unanswered`) are answered here, off the slots: they make no SMSP call.
    private let deadLetters = DispatchQueue(label: "cpis.worker.dead-letters")
    /// Moves the breaker's clock and expires lookups waiting for it.
    private let ticker: Ticker
    /// Whether draining is over, or who waits for it to be.
    private let drained = Mutex<(isOver: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))
    /// From the consumers' start until draining begins.
    private let isConsuming = Atomic<Bool>(false)

    init(settings: WorkerSettings, connection: AMQPConnection, upstream: any Upstream, logger: Logger) {
        self.settings = settings
        self.connection = connection
        self.upstream = upstream
        self.intake = LookupIntake(maximumBodyBytes: settings.maximumBodyBytes, authorisation: settings.authorisation)
        self.logger = logger
        self.metrics = WorkerMetrics(maximumInFlight: settings.maximumInFlight, reservedForTriage: settings.reservedForTriage)
        self.machine = Mutex(Machine(
            scheduler: SlotScheduler(capacity: settings.maximumInFlight, reservedForTriage: settings.reservedForTriage),
            breaker: CircuitBreaker(failureThreshold: settings.breakerFailureThreshold, coolDown: settings.breakerCoolDown,
                                    maximumCoolDown: settings.breakerMaximumCoolDown),
            rememberedRequests: settings.rememberedRequests))
        self.slots = (0..<settings.maximumInFlight).map { DispatchQueue(label: "cpis.worker.slot-\($0)") }
        self.ticker = Ticker(every: .milliseconds(100))
    }

    private var topology: WorkerTopology { settings.topology }

    // MARK: Starting and stopping

    /// Connects to the broker, declares the topology and starts consuming: the whole worker, from its
    /// configuration (`cpis worker` and the integration tests both start it this way).
    public static func start(_ configuration: WorkerConfiguration, logger: Logger) async throws -> LookupWorker {
        let http = try HTTPClient(tls: configuration.spine.map(\.tls) ?? configuration.smspTLS,
                                  maximumIdleConnectionsPerHost: configuration.worker.maximumInFlight, logger: logger)
        let upstream: any Upstream
        let connection: AMQPConnection
        do {
            upstream = try makeUpstream(configuration, http: http, logger: logger)
            connection = try await AMQPConnection.connect(configuration.broker, logger: logger)
        } catch {
            http.shutdown()
            throw error
        }
        var settings = configuration.worker
        // The Spine leg asks again about a query that may have reached CP-IS only where its settings say so.
        if let spine = configuration.spine { settings.retryQueriesThatMayHaveReachedCPIS = spine.retryAfterPossibleProcessing }
        let worker = LookupWorker(settings: settings, connection: connection, upstream: upstream, logger: logger)
        do {
            if configuration.worker.authorisation.odsCodesByUser != nil {
                try await checkMayRelayRequests(on: connection, as: configuration.broker.username,
                                                 topology: configuration.worker.topology)
            }
            try await worker.start()
        } catch {
            await connection.close()
            http.shutdown()
            throw error
        }
        return worker
    }

    /// Spine itself when the settings say so, else the SMSP.
    private static func makeUpstream(_ configuration: WorkerConfiguration, http: HTTPClient, logger: Logger) throws
        -> any Upstream
    {
        if let spine = configuration.spine {
            let validator = try spine.schemaDirectory.map { try SpineSchemaValidator(directory: URL(fileURLWithPath: $0)) }
            return try SpineClient(http: http, identity: spine.identity, validator: validator,
                                   notFoundReasons: spine.notFoundReasons, logger: logger)
        }
        guard let endpoint = URL(string: configuration.smspIdentity.endpoint) else {
            throw SettingsProblem("smsp.endpoint is not a URL")
        }
        let validator = try configuration.schemaDirectory.map { try SMSPSchemaValidator(directory: URL(fileURLWithPath: $0)) }
        return try SMSPClient(http: http, endpoint: endpoint, builder: SMSPRequestBuilder(identity: configuration.smspIdentity),
                              validator: validator)
    }

    /// With authorisation on, each request carries its EPR's `user_id`, and the worker publishes
    /// requests again unchanged (to the retry queues, to the parking lot). RabbitMQ accepts another
    /// user's `user_id` only from a user with the `impersonator` tag: better found out at start than
    /// at the first retry, which would close the channel and hand the request back, again and again.
    static func checkMayRelayRequests(on connection: AMQPConnection, as username: String, topology: WorkerTopology)
        async throws(AMQPError)
    {
        // Named under the contract's prefix, where the worker's user may declare queues.
        let probe = "\(topology.dead).relay-check.\(FreshUUID.string().lowercased())"
        try await connection.declare(AMQPQueue(name: probe, durable: false, exclusive: true, autoDelete: true))
        do {
            try await connection.publish(AMQPMessage("", properties: AMQPProperties(userId: "cpis-relay-check")),
                                         routingKey: probe)
        } catch {
            try? await connection.deleteQueue(probe)
            throw AMQPError(.invalidConfiguration, """
                the worker's broker user '\(username)' may not publish a message with another user's user_id, which it \
                must do to retry and to park EPRs' requests (RabbitMQ said: \(error.message)). Give it RabbitMQ's \
                impersonator tag: rabbitmqctl set_user_tags \(username) impersonator
                """)
        }
        try await connection.deleteQueue(probe)
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
        // A connection per slot before the first delivery: otherwise the first lookups each wait for
        // a TLS handshake, and a triage lookup arriving while the batch holds every connection made
        // so far waits for one of its own (it was the slowest triage lookup of every benchmark run).
        let upstream = upstream
        let slots = settings.maximumInFlight
        let opened = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: upstream.warmUp(connections: slots, within: .seconds(2))) }
        }
        logger.debug("opened \(opened) connections to the upstream in advance")
        try await connection.consume(AMQPConsumer(queue: topology.unanswered, tag: Self.unansweredTag, prefetch: 4)) {
            [self] delivery in deadLetters.async { self.answerDeadLettered(delivery) }
        }
        for lane in LookupLane.allCases {
            try await connection.consume(AMQPConsumer(queue: topology.queue(for: lane), tag: lane.rawValue,
                                                      prefetch: UInt16(clamping: prefetch(for: lane)))) { [self] delivery in
                received(delivery, lane: lane)
            }
        }
        isConsuming.store(true, ordering: .releasing)
        ticker.start { [self] in
            perform(machine.withLock { $0.tick(at: .now, now: Date()) })
            metrics.connectionRecovered(total: connection.recoveryCount)
        }
        logger.info("""
            worker consuming \(topology.triage) and \(topology.batch): \(settings.maximumInFlight) SMSP calls at most, \
            \(settings.reservedForTriage) kept for triage
            """)
    }

    private static let unansweredTag = "unanswered"

    /// The broker's prefetch per lane: the lane's share of the slots, plus a little so that a slot
    /// freed while a result is being confirmed finds its next lookup already here. Everything else
    /// waits in the broker.
    func prefetch(for lane: LookupLane) -> Int {
        let share = lane == .triage ? settings.maximumInFlight : settings.maximumInFlight - settings.reservedForTriage
        return share + max(1, share / 8)
    }

    /// Stops taking work, lets the lookups it holds finish within the grace period (with the SMSP
    /// down, gives them back), and closes the connection: what is still unsettled then returns to
    /// the broker.
    public func shutdown() async {
        isConsuming.store(false, ordering: .releasing)
        perform(machine.withLock { $0.drain() })
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask { [self] in
                await withCheckedContinuation { continuation in
                    let isOver = drained.withLock { state in
                        if !state.isOver { state.waiter = continuation }
                        return state.isOver
                    }
                    if isOver { continuation.resume() }
                }
                return true
            }
            group.addTask { [settings] in
                try? await Task.sleep(for: settings.shutdownGracePeriod)
                return false
            }
            let first = await group.next() ?? false
            if !first { resumeDrained() }
            group.cancelAll()
            return first
        }
        if !finished {
            logger.warning("grace period over with lookups still unsettled: closing; the broker requeues them")
        }
        await stopNow()
    }

    /// Stops at once (a second signal, or after the grace period): closes the connection, and the
    /// broker requeues whatever was not settled.
    public func stopNow() async {
        isConsuming.store(false, ordering: .releasing)
        ticker.stop()
        await connection.close()
        upstream.http.shutdown()
        logger.info("worker stopped")
    }

    /// Ready for work: connected to the broker and consuming (`/health/ready`).
    public var isReady: Bool {
        isConsuming.load(ordering: .acquiring) && connection.isConnected
    }

    private func resumeDrained() {
        drained.withLock { state in
            state.isOver = true
            return state.waiter.take()
        }?.resume()
    }

    // MARK: Carrying out decisions

    private func perform(_ actions: [Machine.Action]) {
        for action in actions {
            switch action {
            case .start(let lookup, let slot, let possibleRepeat):
                metrics.slotTaken(lane: lookup.lane)
                slots[slot].async { [self] in run(lookup, slot: slot, possibleRepeat: possibleRepeat) }
            case .acknowledgeDuplicate(let delivery, let requestId):
                logger.info("redelivery of a request already settled: acknowledged, not answered again",
                            metadata: [LogKey.request: "\(requestId)"])
                connection.ack(delivery) { _ in }
            case .giveBack(let delivery):
                connection.nack(delivery, requeue: true) { _ in }
            case .stopConsuming:
                Task { [self] in
                    for lane in LookupLane.allCases { try? await connection.cancel(consumerTag: lane.rawValue) }
                    try? await connection.cancel(consumerTag: Self.unansweredTag)
                }
            case .drained:
                resumeDrained()
            case .breaker(.opened(let until)):
                metrics.breaker(.open)
                logger.error("SMSP unavailable: circuit open, no calls for \(until - .now); requests wait in the broker")
            case .breaker(.probe):
                metrics.breaker(.halfOpen)
                logger.info("circuit half-open: the next lookup probes the SMSP")
            case .breaker(.closed):
                metrics.breaker(.closed)
                logger.info("SMSP answering again: circuit closed")
            case .breaker(.none):
                break
            }
        }
    }

    // MARK: Deliveries (on the AMQP connection's thread: quick, never blocking)

    private func received(_ delivery: AMQPDelivery, lane: LookupLane) {
        let properties = delivery.message.properties
        let now = Date()
        let lookup = Lookup(
            delivery: delivery, lane: lane, requestId: properties.messageId.flatMap { $0.isEmpty ? nil : $0 },
            attempts: Int(properties.headers[LookupIntake.attemptsHeader]?.intValue ?? 0),
            redelivered: delivery.redelivered, receivedAt: now,
            deadline: LookupIntake.deadline(properties, receivedAt: now))
        // A retried request keeps its first timestamp: only a first delivery's wait is queue waiting.
        if let sent = properties.timestamp, lookup.attempts == 0 { metrics.waited(now.timeIntervalSince(sent), lane: lane) }
        perform(machine.withLock { $0.received(lookup, now: now) })
    }

    // MARK: One lookup (on its slot: may block)

    private func run(_ lookup: Lookup, slot: Int, possibleRepeat: Bool) {
        let reply = answer(lookup, possibleRepeat: possibleRepeat)
        metrics.slotFreed(lane: lookup.lane)
        perform(machine.withLock { $0.slotFreed(slot, lane: lookup.lane, now: Date()) })
        settle(lookup.delivery, reply, lane: lookup.lane, receivedAt: lookup.receivedAt) { [self] settlement in
            perform(machine.withLock { $0.settled(lookup, settlement, now: Date()) })
        }
    }

    /// What settling a lookup takes: messages to publish (each confirmed) before the request is
    /// acknowledged.
    private struct Reply {
        var messages: [Outgoing]
        var settlement: Machine.Settlement
        /// What the metrics count once the broker has confirmed the messages.
        var counted: Counted
        var logLevel: Logger.Level = .info
        var logMessage: Logger.Message
        var logMetadata: Logger.Metadata
    }

    private enum Counted {
        /// A result was delivered.
        case answered(LookupResult)
        /// The request was parked in the dead-letter queue (and answered `rejected` if it had a
        /// reply-to).
        case parked(LookupResult)
        case retried
        /// A request the broker dead-lettered was answered.
        case unanswered(LookupResult)
    }

    private struct Outgoing {
        var message: AMQPMessage
        var exchange: String
        var routingKey: String
    }

    private func answer(_ lookup: Lookup, possibleRepeat: Bool) -> Reply {
        let message = lookup.delivery.message
        switch intake.decide(message, lane: lookup.lane, receivedAt: lookup.receivedAt, now: Date()) {
        case .refuse(let refusal):
            return refusalReply(message, refusal, lane: lookup.lane)
        case .expired(let refusal):
            return resultReply(message, LookupResult(
                requestId: refusal.requestId, nhsNumber: refusal.nhsNumber, outcome: .expired, attempts: 0,
                error: .init(kind: .expired, message: refusal.message)))
        case .accept(let job):
            return call(job, message: message, possibleRepeat: possibleRepeat)
        }
    }

    private func call(_ job: LookupJob, message: AMQPMessage, possibleRepeat killedHolder: Bool) -> Reply {
        let possibleRepeat = killedHolder || job.mayRepeatEarlierAttempt
        // Its earlier holder stopped while it may have been asking: where a query that may have
        // reached CP-IS is not asked again (the Spine leg, by default), it is answered instead.
        if killedHolder, !settings.retryQueriesThatMayHaveReachedCPIS {
            return resultReply(message, LookupResult(
                requestId: job.requestId, nhsNumber: job.request.nhsNumber.digits, outcome: .failed, attempts: job.attempts,
                error: .init(kind: .upstreamUnavailable, message: """
                    the worker holding this request stopped while it may have been asking CP-IS, so it is not asked \
                    again (a second query would notify the local authority twice); send a new request to ask again
                    """)))
        }
        let attempt = job.attempts + 1
        let nhsNumber = job.request.nhsNumber.digits
        let started = ContinuousClock.now
        let outcome = upstream.call(job.request, deadline: job.deadline, timeout: settings.smspTimeout,
                                    minimumCallTime: settings.minimumCallTime)
        if let result = WorkerMetrics.CallResult(outcome) { metrics.smspCall(result, took: .now - started) }
        func failed(_ kind: LookupResult.Failure.Kind, _ text: String, code: ResponseCode? = nil) -> LookupResult {
            LookupResult(requestId: job.requestId, nhsNumber: nhsNumber, outcome: .failed, responseCode: code,
                         attempts: attempt, error: .init(kind: kind, message: text))
        }
        switch outcome {
        case .answered(let answer, let spine):
            perform(machine.withLock { $0.callAnswered(now: Date()) })
            if possibleRepeat {
                metrics.possibleRepeat()
                logger.warning("""
                    possible repeat: an earlier attempt at this request may have reached CP-IS (its holder stopped, or \
                    no answer came back), so CP-IS may have been asked twice; the access notification says so
                    """, metadata: [LogKey.request: "\(job.requestId)"])
            }
            let result = LookupResult(requestId: job.requestId, nhsNumber: nhsNumber, answer: answer, attempts: attempt)
            let notification = AccessNotification(
                requestId: job.requestId, nhsNumber: nhsNumber, accessedAt: Date(), requester: job.request.requester,
                outcome: result.outcome, localAuthoritiesNotified: answer.notifiedLocalAuthorities,
                possibleRepeat: possibleRepeat, spine: spine)
            var reply = resultReply(message, result)
            reply.messages.append(Outgoing(
                message: AMQPMessage(body: notification.json(), properties: AMQPProperties(
                    contentType: "application/json", messageId: FreshUUID.string(), timestamp: Date(),
                    type: "cpis.access.notification")),
                exchange: topology.accessExchange, routingKey: notification.routingKey))
            return reply
        case .rejected(let text, let code):
            perform(machine.withLock { $0.callAnswered(now: Date()) })
            return resultReply(message, failed(.upstreamRejected, text, code: code))
        case .wrongPatient(let text):
            perform(machine.withLock { $0.callAnswered(now: Date()) })
            logger.critical("SAFETY HAZ-01: \(text)", metadata: [LogKey.request: "\(job.requestId)",
                                                                 LogKey.nhsNumber: "\(job.request.nhsNumber.masked)"])
            return resultReply(message, failed(.wrongPatient, text))
        case .notSent(let text):
            return refusalReply(message, IntakeRefusal(kind: .invalidRequest, message: text, requestId: job.requestId,
                                                       nhsNumber: nhsNumber), lane: job.lane)
        case .expiredBeforeSend:
            return resultReply(message, LookupResult(
                requestId: job.requestId, nhsNumber: nhsNumber, outcome: .expired, attempts: job.attempts,
                error: .init(kind: .expired, message: LookupIntake.expiredMessage)))
        case .unavailable(let text, let code, let maximumRetries, let timedOut, let mayHaveReachedCPIS):
            perform(machine.withLock { $0.callFailed(at: .now) })
            let retriesLeft = min(settings.maximumAttempts, (maximumRetries ?? settings.maximumAttempts) + 1) - attempt
            let step = attempt - 1
            // A retry is worth queueing only if it can still be sent after its delay.
            let fitsDeadline = job.deadline.map {
                Date().addingTimeInterval(topology.retryDelay(step: step).seconds + settings.minimumCallTime.seconds) <= $0
            } ?? true
            // A query that may have reached CP-IS is asked again only where the settings allow it (a new
            // query notifies the local authority again), and the next attempt says it may be a repeat.
            let mayRetry = !mayHaveReachedCPIS || settings.retryQueriesThatMayHaveReachedCPIS
            if retriesLeft > 0, fitsDeadline, mayRetry {
                return retryReply(job, message: message, attempt: attempt, step: step, reason: text,
                                  mayRepeat: mayHaveReachedCPIS || possibleRepeat)
            }
            return resultReply(message, failed(timedOut ? .timeout : .upstreamUnavailable,
                                               "\(text); gave up after \(attempt) attempt(s)", code: code))
        }
    }

    /// The request goes to the retry queue for its step (expiring jittered below the step's delay,
    /// then back to its lane), carrying its attempts and deadline.
    private func retryReply(_ job: LookupJob, message: AMQPMessage, attempt: Int, step: Int, reason: String,
                            mayRepeat: Bool) -> Reply {
        var retry = message
        retry.properties.headers[LookupIntake.attemptsHeader] = .int(Int64(attempt))
        if mayRepeat { retry.properties.headers[LookupIntake.possibleRepeatHeader] = .bool(true) }
        if let deadline = job.deadline {
            retry.properties.headers[LookupIntake.deadlineHeader] = .int(Int64(deadline.timeIntervalSince1970 * 1000))
        }
        // Full jitter would let a message expire at once; keep it within the top fifth of the step.
        let milliseconds = Double(topology.retryDelay(step: step).wholeMilliseconds)
        retry.properties.expiration = String(Int(milliseconds * Double.random(in: 0.8...1.0)))
        return Reply(messages: [Outgoing(message: retry, exchange: topology.retryName(step: step),
                                         routingKey: topology.queue(for: job.lane))],
                     settlement: .retried, counted: .retried, logMessage: "SMSP unavailable, retrying",
                     logMetadata: [LogKey.request: "\(job.requestId)", LogKey.attempts: "\(attempt)", LogKey.reason: "\(reason)"])
    }

    private func refusalReply(_ message: AMQPMessage, _ refusal: IntakeRefusal, lane: LookupLane) -> Reply {
        var parked = message
        parked.properties.headers[ParkedRequest.Header.errorKind] = .string(refusal.kind.rawValue)
        parked.properties.headers[ParkedRequest.Header.error] = .string(refusal.message)
        parked.properties.headers[ParkedRequest.Header.lane] = .string(lane.rawValue)
        parked.properties.headers[ParkedRequest.Header.parkedAt] = .int(Int64(Date().timeIntervalSince1970 * 1000))
        parked.properties.expiration = nil
        var messages = [Outgoing(message: parked, exchange: "", routingKey: topology.dead)]
        let result = LookupResult(requestId: refusal.requestId, nhsNumber: refusal.nhsNumber, outcome: .rejected,
                                  attempts: 0, error: .init(kind: refusal.kind, message: refusal.message))
        if let replyTo = message.properties.replyTo {
            messages.append(Outgoing(message: resultMessage(result, correlationId: message.properties.correlationId,
                                                            replyTo: replyTo), exchange: "", routingKey: replyTo))
        }
        return Reply(messages: messages, settlement: .answered, counted: .parked(result), logLevel: .warning,
                     logMessage: "request refused", logMetadata: [
            LogKey.request: "\(refusal.requestId)", LogKey.kind: "\(refusal.kind.rawValue)", LogKey.reason: "\(refusal.message)"])
    }

    private func resultReply(_ message: AMQPMessage, _ result: LookupResult) -> Reply {
        let replyTo = message.properties.replyTo
        let published = resultMessage(result, correlationId: message.properties.correlationId
                                        ?? message.properties.messageId, replyTo: replyTo)
        return Reply(messages: [Outgoing(message: published, exchange: "", routingKey: replyTo ?? topology.results)],
                     settlement: .answered, counted: .answered(result), logMessage: "lookup answered",
                     logMetadata: [LogKey.request: "\(result.requestId)", LogKey.outcome: "\(result.outcome.rawValue)",
                                   LogKey.attempts: "\(result.attempts)"])
    }

    /// The result's `message_id` is derived from the request's: publishing is at-least-once (a
    /// worker killed between the broker's confirm and its acknowledgement answers again on the
    /// next delivery), so a receiver recognises a repeated result by it.
    private func resultMessage(_ result: LookupResult, correlationId: String?, replyTo: String?) -> AMQPMessage {
        let direct = replyTo?.hasPrefix(AMQPQueue.directReplyTo) ?? false
        return AMQPMessage(body: result.json(), properties: AMQPProperties(
            contentType: "application/json", persistent: !direct, correlationId: correlationId ?? result.requestId,
            messageId: "\(result.requestId)/result", timestamp: Date(), type: "cpis.lookup.result"))
    }

    // MARK: Settling (completions run on the AMQP connection's thread)

    /// Publishes the reply's messages; once the broker has confirmed all of them, acknowledges the
    /// delivery. When one is not confirmed, the delivery goes back to the broker to be answered
    /// later. `settled` then hears which of the two happened.
    private func settle(_ delivery: AMQPDelivery, _ reply: Reply, lane: LookupLane?, receivedAt: Date,
                        then settled: @escaping @Sendable (Machine.Settlement) -> Void) {
        let confirms = PendingConfirms(count: reply.messages.count)
        for outgoing in reply.messages {
            publish(outgoing) { [self] confirmed in
                guard let allConfirmed = confirms.record(confirmed) else { return }
                if allConfirmed {
                    count(reply.counted, lane: lane, receivedAt: receivedAt)
                    logger.log(level: reply.logLevel, reply.logMessage, metadata: reply.logMetadata)
                    connection.ack(delivery) { [logger] result in
                        if case .failure(let error) = result {
                            logger.warning("acknowledgement failed (the broker redelivers it; it is not answered twice): \(error)")
                        }
                    }
                    settled(reply.settlement)
                } else {
                    connection.nack(delivery, requeue: true) { _ in }
                    settled(.givenBack)
                }
            }
        }
    }

    private func count(_ counted: Counted, lane: LookupLane?, receivedAt: Date) {
        switch (counted, lane) {
        case (.answered(let result), let lane?), (.parked(let result), let lane?):
            metrics.answered(result, lane: lane, after: .seconds(Date().timeIntervalSince(receivedAt)))
            if case .parked = counted, let kind = result.error?.kind { metrics.parked(kind, lane: lane) }
        case (.retried, let lane?):
            metrics.retried(lane: lane)
        case (.unanswered(let result), _):
            metrics.answeredUnanswered(result.outcome)
        case (_, nil):
            break
        }
    }

    /// Publishes one message; a result whose reply queue does not exist goes to the results queue
    /// instead, so that it is not lost.
    private func publish(_ outgoing: Outgoing, completion: @escaping @Sendable (Bool) -> Void) {
        let fallback = outgoing.exchange.isEmpty && outgoing.routingKey != topology.results
            && outgoing.routingKey != topology.dead
        // RabbitMQ returns every mandatory publish to a direct reply-to address, delivered or not.
        let mandatory = !outgoing.routingKey.hasPrefix(AMQPQueue.directReplyTo)
        connection.publish(outgoing.message, exchange: outgoing.exchange, routingKey: outgoing.routingKey,
                           mandatory: mandatory) { [self] result in
            switch result {
            case .success:
                completion(true)
            case .failure(let error) where error.code == .unroutable && fallback:
                logger.warning("reply queue \(outgoing.routingKey) does not exist: result sent to \(topology.results)")
                publish(Outgoing(message: outgoing.message, exchange: "", routingKey: topology.results),
                        completion: completion)
            case .failure(let error):
                logger.error("publish to '\(outgoing.exchange)' '\(outgoing.routingKey)' failed: \(error)")
                completion(false)
            }
        }
    }

    // MARK: Requests the broker dead-lettered

    /// Answers a request the broker dead-lettered from a lookup queue: `expired` when its caller's
    /// expiration ran out in the queue, `failed` when it went over the delivery limit. The reason is
    /// the latest death (the first entry of `x-death`), not the first: a retried request first died
    /// of a retry queue's TTL.
    private func answerDeadLettered(_ delivery: AMQPDelivery) {
        let properties = delivery.message.properties
        let requestId = properties.messageId ?? "(no message_id)"
        if machine.withLock({ $0.hasSettled(requestId) }) {
            connection.ack(delivery) { _ in }
            return
        }
        let reason = Self.latestDeathReason(properties.headers) ?? "unknown"
        let nhsNumber = (try? LookupRequest(json: delivery.message.body))?.nhsNumber.digits
        let result: LookupResult
        switch reason {
        case "expired":
            result = LookupResult(requestId: requestId, nhsNumber: nhsNumber, outcome: .expired, attempts: 0,
                                  error: .init(kind: .expired, message: "the request waited in the queue past its "
                                      + "expiration; nothing was sent to CP-IS"))
        case "delivery_limit":
            result = LookupResult(requestId: requestId, nhsNumber: nhsNumber, outcome: .failed, attempts: 0,
                                  error: .init(kind: .upstreamUnavailable, message: """
                                      the request was handed to workers \(topology.deliveryLimit + 1) times without \
                                      being settled (each holder stopped while working on it, as if the request made \
                                      it crash); it is kept in \(topology.dead) for inspection
                                      """))
        default:
            result = LookupResult(requestId: requestId, nhsNumber: nhsNumber, outcome: .failed, attempts: 0,
                                  error: .init(kind: .upstreamUnavailable, message: "the broker dead-lettered the "
                                      + "request (\(reason)); it is kept in \(topology.dead) for inspection"))
        }
        var reply = resultReply(delivery.message, result)
        reply.counted = .unanswered(result)
        reply.logLevel = .warning
        reply.logMessage = "dead-lettered request answered"
        reply.logMetadata[LogKey.reason] = "\(reason)"
        settle(delivery, reply, lane: nil, receivedAt: Date()) { [self] settlement in
            if settlement == .answered { machine.withLock { $0.rememberSettled(requestId) } }
        }
    }

    /// `x-death` is ordered most recent first; older brokers also set `x-first-death-reason` only.
    static func latestDeathReason(_ headers: AMQPTable) -> String? {
        latestDeath(headers)?["reason"]?.stringValue
            ?? headers["x-last-death-reason"]?.stringValue ?? headers["x-first-death-reason"]?.stringValue
    }

    /// The latest entry of `x-death`.
    static func latestDeath(_ headers: AMQPTable) -> AMQPTable? {
        if case .array(let deaths)? = headers["x-death"], case .table(let latest)? = deaths.first { latest } else { nil }
    }
}

/// A repeating timer on a queue of its own. (Dispatch sources are thread-safe; the protocol is not
/// marked Sendable.)
private final class Ticker: @unchecked Sendable {
    private let source = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "cpis.worker.ticker"))
    private let interval: DispatchTimeInterval

    init(every interval: DispatchTimeInterval) {
        self.interval = interval
        // Resumed at once, unscheduled (it never fires): a suspended source must not be released.
        source.resume()
    }

    func start(_ handler: @escaping @Sendable () -> Void) {
        source.setEventHandler(handler: handler)
        source.schedule(deadline: .now() + interval, repeating: interval)
    }

    func stop() { source.cancel() }
}

/// Counts a lookup's publish confirms; the last one recorded says whether all were confirmed.
private final class PendingConfirms: Sendable {
    private let state: Mutex<(left: Int, allConfirmed: Bool)>

    init(count: Int) { state = Mutex((count, true)) }

    /// Nil until the last confirm; then whether every one was confirmed.
    func record(_ confirmed: Bool) -> Bool? {
        state.withLock { state in
            state.left -= 1
            state.allConfirmed = state.allConfirmed && confirmed
            return state.left == 0 ? state.allConfirmed : nil
        }
    }
}
