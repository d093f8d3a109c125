import AMQPClient
import CPISDomain
import Worker
import Dispatch
import Foundation
import Logging
import Synchronization

/// Hands the front door's queries to the workers as contract lookups on the triage lane and waits
/// for their results on RabbitMQ's direct reply-to.
///
/// A client that gets no answer sends the same message again (same ITK tracking id). Each query
/// notifies a local authority, so a resend is never asked again while its lookup is running or
/// after it was answered: it waits for, or is answered from, the first one's result. Only a
/// lookup that got no answer from CP-IS (expired, or CP-IS unavailable through every retry) is
/// asked anew. Resends are recognised per front-door process: behind a load balancer, keep a
/// client on one instance (session affinity).
///
/// A resend is recognised only when it asks the same thing: the same client, tracking id, NHS number
/// and requester. A reused tracking id asking anything else is refused, nothing asked: answering it
/// from the first message would give one child's record for another (hazard log, HAZ-01).
final class LookupRelay: Sendable {
    /// A client's message: its certificate identity and the ITK tracking id.
    struct MessageKey: Hashable, Sendable {
        var client: String
        var trackingID: String
    }

    enum Outcome {
        /// `resent`: the answer of an earlier message with the same tracking id.
        case answered(LookupResult, resent: Bool)
        /// No result by the deadline (the lookup expires in its queue, or the worker answers
        /// `expired`: it is never asked later).
        case noAnswerInTime
        /// Less than the minimum call time was left: nothing was relayed.
        case noTimeToAsk
        /// The tracking id was used for another query (another NHS number or requester): nothing asked.
        case trackingIDReused(String)
        /// The broker did not take the lookup.
        case notPublished(String)
    }

    /// One message's lookup: what it asks, the callers waiting for it, then its result.
    private final class Entry: Sendable {
        let messageID: String
        let query: LookupRequest
        let createdAt: Date
        private let state = Mutex<(result: LookupResult?, failure: String?, waiters: [DispatchSemaphore])>((nil, nil, []))

        init(messageID: String, query: LookupRequest, createdAt: Date) {
            self.messageID = messageID
            self.query = query
            self.createdAt = createdAt
        }

        var result: LookupResult? { state.withLock { $0.result } }

        func finish(result: LookupResult?, failure: String?) {
            let waiters = state.withLock { state in
                state.result = result
                state.failure = failure
                defer { state.waiters = [] }
                return state.waiters
            }
            waiters.forEach { $0.signal() }
        }

        /// Waits for the result until `deadline`.
        func wait(until deadline: Date) -> (LookupResult?, failure: String?) {
            let semaphore = DispatchSemaphore(value: 0)
            let done = state.withLock { state -> (LookupResult?, String?)? in
                if state.result != nil || state.failure != nil { return (state.result, state.failure) }
                state.waiters.append(semaphore)
                return nil
            }
            if let done { return done }
            let seconds = max(0, deadline.timeIntervalSinceNow)
            _ = semaphore.wait(timeout: .now() + .nanoseconds(Int(seconds * 1e9)))
            return state.withLock { ($0.result, $0.failure) }
        }
    }

    private struct State {
        var entries: [MessageKey: Entry] = [:]
        /// Attempts per message, for the message id of one asked anew.
        var attempts: [MessageKey: Int] = [:]
        var byMessageID: [String: MessageKey] = [:]
        /// Entries in the order made, oldest first from `oldest`: forgetting is a walk from the front.
        var order: [(key: MessageKey, entry: Entry)] = []
        var oldest = 0
    }
    /// At most this many messages are remembered (the oldest are forgotten first), bounding memory.
    static let capacity = 100_000

    private let connection: AMQPConnection
    private let triageQueue: String
    private let brokerUser: String
    private let resendWindow: TimeInterval
    private let minimumCallTime: TimeInterval
    private let logger: Logger
    private let state = Mutex(State())
    private let consuming = Atomic(false)

    init(connection: AMQPConnection, triageQueue: String, brokerUser: String, resendWindow: Duration,
         minimumCallTime: Duration, logger: Logger) {
        self.connection = connection
        self.triageQueue = triageQueue
        self.brokerUser = brokerUser
        self.resendWindow = resendWindow.seconds
        self.minimumCallTime = minimumCallTime.seconds
        self.logger = logger
    }

    /// Whether results can arrive: connected, with the direct reply-to consumer in place.
    var isReady: Bool { consuming.load(ordering: .acquiring) && connection.isConnected }

    func start() async throws(AMQPError) {
        try await connection.consume(AMQPConsumer(queue: AMQPQueue.directReplyTo, tag: "front-door-replies", prefetch: 0,
                                                  acknowledgement: .automatic)) { [self] delivery in received(delivery) }
        consuming.store(true, ordering: .releasing)
    }

    /// Asks for `request` unless the same message was asked already, and waits for the result
    /// until `deadline`. Blocks the calling thread (an HTTP connection's).
    func lookup(_ request: LookupRequest, key: MessageKey, deadline: Date) -> Outcome {
        let now = Date()
        enum Decision { case wait(Entry, isNew: Bool), refuse(String), tooLate }
        let decision = state.withLock { state -> Decision in
            forgetOld(&state, now: now)
            if let entry = state.entries[key] {
                // The same tracking id asking something else: never the first message's answer.
                if let difference = Self.difference(between: entry.query, and: request) {
                    return .refuse(difference)
                }
                if entry.result.map(Self.mayBeReused) ?? true { return .wait(entry, isNew: false) }
            }
            guard deadline.timeIntervalSince(now) >= minimumCallTime else { return .tooLate }
            let attempt = (state.attempts[key] ?? 0) + 1
            state.attempts[key] = attempt
            let entry = Entry(messageID: Self.messageID(for: key, attempt: attempt), query: request, createdAt: now)
            if let old = state.entries[key] { state.byMessageID[old.messageID] = nil }
            state.entries[key] = entry
            state.byMessageID[entry.messageID] = key
            state.order.append((key, entry))
            return .wait(entry, isNew: true)
        }
        let entry: Entry, isNew: Bool
        switch decision {
        case .refuse(let difference): return .trackingIDReused(difference)
        case .tooLate: return .noTimeToAsk
        case .wait(let waited, let new): (entry, isNew) = (waited, new)
        }
        if isNew { publish(request, entry: entry, deadline: deadline) }
        let (result, failure) = entry.wait(until: deadline)
        if let failure { return .notPublished(failure) }
        guard let result else { return .noAnswerInTime }
        return .answered(result, resent: !isNew)
    }

    // MARK: -

    private func publish(_ request: LookupRequest, entry: LookupRelay.Entry, deadline: Date) {
        // The patience left, whole milliseconds, at least 1 (0 would mean "deliver now or drop",
        // and an expired request is answered `expired` by the worker anyway).
        let patience = max(1, Int((deadline.timeIntervalSinceNow * 1000).rounded(.down)))
        // The deadline itself, to the millisecond, in the header the workers keep a deadline in
        // across retries: an AMQP timestamp has whole seconds only. `expiration` drops it from
        // the queue at the same moment.
        let message = AMQPMessage(body: request.json(), properties: AMQPProperties(
            contentType: "application/json",
            headers: [LookupIntake.deadlineHeader: .int(Int64((deadline.timeIntervalSince1970 * 1000).rounded(.down)))],
            correlationId: entry.messageID, replyTo: AMQPQueue.directReplyTo, expiration: String(patience),
            messageId: entry.messageID, userId: brokerUser))
        connection.publish(message, routingKey: triageQueue, mandatory: true) { [self] published in
            guard case .failure(let error) = published else { return }
            logger.error("the broker did not take a lookup: \(error.message)", metadata: ["request.id": "\(entry.messageID)"])
            forget(entry)
            entry.finish(result: nil, failure: "the lookup could not be queued: \(error.message)")
        }
    }

    private func received(_ delivery: AMQPDelivery) {
        let id = delivery.message.properties.correlationId ?? ""
        let entry = state.withLock { state in state.byMessageID[id].flatMap { state.entries[$0] } }
        guard let entry, entry.messageID == id else {
            logger.debug("a result for no message waiting here (answered after its window)", metadata: ["request.id": "\(id)"])
            return
        }
        do {
            entry.finish(result: try LookupResult(json: delivery.message.body), failure: nil)
        } catch {
            logger.error("a result that is not the contract's: \(error.message)", metadata: ["request.id": "\(id)"])
            entry.finish(result: nil, failure: "the worker's result could not be read")
        }
    }

    private func forget(_ entry: Entry) {
        state.withLock { state in
            guard let key = state.byMessageID.removeValue(forKey: entry.messageID), state.entries[key] === entry else { return }
            state.entries[key] = nil
        }
    }

    /// Forgets messages older than the resend window, and the oldest beyond the capacity.
    private func forgetOld(_ state: inout State, now: Date) {
        let limit = now.addingTimeInterval(-resendWindow)
        while state.oldest < state.order.count {
            let (key, entry) = state.order[state.oldest]
            guard entry.createdAt < limit || state.order.count - state.oldest > Self.capacity else { break }
            state.oldest += 1
            state.byMessageID[entry.messageID] = nil
            // A message asked anew has a newer entry under the same key: that one stays.
            guard state.entries[key] === entry else { continue }
            state.entries[key] = nil
            state.attempts[key] = nil
        }
        if state.oldest > 1024, state.oldest * 2 > state.order.count {
            state.order.removeFirst(state.oldest)
            state.oldest = 0
        }
    }

    /// What a message under a reused tracking id asks differently from the first, in words (no NHS
    /// number shown), or nil when it asks the same: the NHS number, the organisation and the author.
    static func difference(between first: LookupRequest, and resend: LookupRequest) -> String? {
        var differences: [String] = []
        if first.nhsNumber != resend.nhsNumber { differences.append("another NHS number") }
        if first.requester.organisation != resend.requester.organisation { differences.append("another organisation") }
        if first.requester.author != resend.requester.author { differences.append("another author") }
        return differences.isEmpty ? nil : differences.joined(separator: ", ")
    }

    /// Whether a resend may be answered with this result rather than asked anew: yes where CP-IS
    /// answered or the request was refused for good; no where nothing came of the asking.
    static func mayBeReused(_ result: LookupResult) -> Bool {
        switch result.outcome {
        case .recordsFound, .noRecord, .rejected: true
        case .expired: false
        case .failed: result.error?.kind == .upstreamRejected
        }
    }

    /// The lookup's `message_id`: from the tracking id, so that the workers recognise a resend too,
    /// and the client's identity, so that two clients' tracking ids never meet.
    static func messageID(for key: MessageKey, attempt: Int) -> String {
        "smsp:\(key.trackingID):\(StableHash.fnv1a(key.client.utf8))" + (attempt > 1 ? "#\(attempt)" : "")
    }
}
