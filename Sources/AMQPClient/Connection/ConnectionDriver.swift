import Logging
import Synchronization

/// Shared between the public handle and the owner thread: read anywhere, written by the owner.
final class ConnectionStatus: Sendable {
    let isConnected = Atomic<Bool>(false)
    let recoveries = Atomic<Int>(0)
}

/// Everything that happens on a connection's owner thread.
///
/// rabbitmq-c allows one thread per connection and services heartbeats only inside its own calls, so
/// this thread owns the session and loops: run the commands posted by callers, read what the broker
/// sent, and sleep in `poll` until either has more. All state here is confined to that thread.
///
/// Recovery is done here, not by callers: when the channel or the connection is lost, the driver
/// reconnects with backoff, declares the recorded topology again, resumes the consumers and sends
/// again every publish the broker had not confirmed.
final class ConnectionDriver {
    private let configuration: AMQPConfiguration
    private let mailbox: ConnectionMailbox
    private let status: ConnectionStatus
    private let logger: Logger
    private let onReturnedMessage: (@Sendable (AMQPReturnedMessage) -> Void)?

    private var session: RabbitMQSession?
    /// The generation of the current (or, while disconnected, the last) channel.
    private var channelGeneration: UInt64 = 0
    private var topology = TopologyRecord()
    /// Topology operations accepted from callers and not yet answered by the broker.
    private var pendingOperations: [(TopologyOperation, Completion)] = []
    private var unsent: [PendingPublish] = []
    private var unconfirmed: [UInt64: PendingPublish] = [:]
    private var reconnectAttempt = 0
    /// The node of `configuration.nodes` in use, or last used.
    private var nodeIndex = 0
    private var node: AMQPConfiguration.Node { configuration.nodes[nodeIndex] }
    private var nextReconnect = ContinuousClock.now
    private var closeCompletion: (@Sendable () -> Void)?
    /// The last read found nothing more: rabbitmq-c had no frame buffered and the socket was dry.
    private var isInboundDrained = false

    /// How many frames to read before looking at the mailbox again, so acks and publishes are never
    /// starved by a flood of deliveries.
    private static let framesPerTurn = 256
    /// The longest sleep while connected: rabbitmq-c must be called regularly to send heartbeats.
    private static let idleWait = Duration.milliseconds(100)

    init(configuration: AMQPConfiguration, mailbox: ConnectionMailbox, status: ConnectionStatus, logger: Logger,
         onReturnedMessage: (@Sendable (AMQPReturnedMessage) -> Void)?) {
        self.configuration = configuration
        self.mailbox = mailbox
        self.status = status
        self.logger = logger
        self.onReturnedMessage = onReturnedMessage
    }

    /// Connects, reports the outcome through `started`, then serves until closed.
    /// Returns at once when no node can be reached at first: a bad setting should be reported, not retried.
    func run(started: (Result<Void, AMQPError>) -> Void) {
        var failures: [AMQPError] = []
        for index in configuration.nodes.indices {
            do {
                let session = try RabbitMQSession.open(configuration, node: configuration.nodes[index],
                                                       channelGeneration: channelGeneration)
                nodeIndex = index
                adopt(session)
                break
            } catch {
                failures.append(error)
            }
        }
        guard session != nil else {
            // The one failure, or each node's (a bad setting should be reported, not retried).
            let error = failures.count == 1 ? failures[0]
                : AMQPError(failures.last?.code ?? .connectionFailed, "no node of the cluster could be reached: "
                    + failures.map(\.message).joined(separator: "; "))
            mailbox.refuseFurtherCommands().forEach { $0.fail(error) }
            started(.failure(error))
            return
        }
        logger.info("connected to \(configuration.redactedURL(of: node))")
        started(.success(()))

        while closeCompletion == nil {
            let commands = mailbox.takeAll()
            var busy = !commands.isEmpty
            commands.forEach(handle)
            if closeCompletion != nil { break }
            if session == nil { reconnectIfDue() }
            // When the last read left nothing waiting and no command has run since, `poll` below
            // reports whatever arrives: asking rabbitmq-c again would only cost two system calls.
            if !(isInboundDrained && commands.isEmpty) { busy = pumpInbound() || busy }
            if !busy {
                let wait = session == nil ? min(Self.idleWait, nextReconnect - .now) : Self.idleWait
                mailbox.wait(socket: session?.fileDescriptor, timeout: wait)
                isInboundDrained = false
            }
        }
        shutDown()
    }

    // MARK: Commands

    private func handle(_ command: ConnectionCommand) {
        switch command {
        case .topology(let operation, let completion):
            pendingOperations.append((operation, completion))
            performPendingOperations()
        case .publish(let publish):
            unsent.append(publish)
            sendUnsent()
        case .settle(let deliveryTag, let generation, let settlement, let completion):
            guard let session, generation == channelGeneration else {
                completion(.failure(AMQPError(
                    .staleDelivery,
                    "delivery \(deliveryTag) came on a channel that has since been lost; the broker requeues it")))
                return
            }
            do {
                try session.settle(deliveryTag: deliveryTag, settlement)
                completion(.success(()))
            } catch {
                completion(.failure(error))
                recover(from: error)
            }
        case .inspect(let queue, let completion):
            guard let session else {
                completion(.failure(AMQPError(.connectionLost, "not connected to the broker, reconnecting")))
                return
            }
            do {
                completion(.success(try session.inspect(queue: queue)))
            } catch {
                completion(.failure(error))
                if error.code == .channelClosedByBroker {
                    reopenChannel(after: error, blamingUnconfirmedPublishes: false)
                } else {
                    recover(from: error)
                }
            }
        case .close(let completion):
            closeCompletion = completion
        }
    }

    private func perform(_ operation: TopologyOperation, on session: RabbitMQSession) throws(AMQPError) {
        switch operation {
        case .declareExchange(let exchange): try session.declare(exchange)
        case .declareQueue(let queue): try session.declare(queue)
        case .bind(let binding): try session.bind(binding)
        case .deleteQueue(let name): try session.deleteQueue(name)
        case .consume(let consumer, _): try session.consume(consumer)
        case .cancel(let tag): try session.cancel(consumerTag: tag)
        }
    }

    private func performPendingOperations() {
        while let session, let (operation, completion) = pendingOperations.first {
            do {
                try perform(operation, on: session)
                pendingOperations.removeFirst()
                topology.apply(operation)
                completion(.success(()))
            } catch where error.code == .channelClosedByBroker {
                // The broker refused this operation: report it, and carry on with a new channel.
                pendingOperations.removeFirst()
                completion(.failure(error))
                reopenChannel(after: error, blamingUnconfirmedPublishes: false)
            } catch {
                // Connection trouble: the operation stays pending and runs after the reconnection.
                recover(from: error)
            }
        }
    }

    private func sendUnsent() {
        while let session, let publish = unsent.first {
            do {
                let sequence = try session.publish(publish.message, exchange: publish.exchange,
                                                   routingKey: publish.routingKey, mandatory: publish.mandatory)
                unsent.removeFirst()
                unconfirmed[sequence] = publish
            } catch {
                recover(from: error)
            }
        }
    }

    // MARK: Inbound

    /// Reads what has arrived; returns whether anything did.
    private func pumpInbound() -> Bool {
        isInboundDrained = false
        guard let current = session else { return false }
        for count in 0..<Self.framesPerTurn {
            do {
                guard let inbound = try current.nextInbound() else {
                    isInboundDrained = true
                    return count > 0
                }
                handle(inbound)
            } catch {
                recover(from: error)
                return true
            }
            if session !== current { return true }
        }
        return true
    }

    private func handle(_ inbound: RabbitMQInbound) {
        switch inbound {
        case .delivery(let delivery):
            if let handler = topology.handlers[delivery.consumerTag] {
                handler(delivery)
            } else {
                // A delivery for a consumer this connection never had: give it back.
                try? session?.settle(deliveryTag: delivery.deliveryTag, .reject(requeue: true))
            }
        case .confirm(let sequence, let multiple, let accepted):
            let settled = multiple ? unconfirmed.keys.filter { $0 <= sequence }.sorted() : [sequence]
            for key in settled {
                guard let publish = unconfirmed.removeValue(forKey: key) else { continue }
                if !accepted {
                    publish.completion(.failure(AMQPError(
                        .publishNacked, "the broker could not take responsibility for the message "
                            + "to '\(publish.exchange)' with routing key '\(publish.routingKey)'")))
                } else if let returned = publish.returned {
                    publish.completion(.failure(AMQPError(
                        .unroutable, "no queue is bound to exchange '\(returned.exchange)' for routing key "
                            + "'\(returned.routingKey)': \(returned.replyText)",
                        replyCode: returned.replyCode)))
                } else {
                    publish.completion(.success(()))
                }
            }
        case .returned(let returned):
            if let key = unconfirmed.filter({ $0.value.returned == nil && $0.value.matches(returned) }).keys.min() {
                unconfirmed[key]?.returned = returned
            }
            logger.warning("message returned by the broker",
                           metadata: ["exchange": "\(returned.exchange)", "routing_key": "\(returned.routingKey)",
                                      "reply": "\(returned.replyCode) \(returned.replyText)"])
            onReturnedMessage?(returned)
        case .consumerCancelled(let tag):
            logger.error("the broker cancelled consumer \(tag) (was its queue deleted?); it will not be resumed")
            topology.removeConsumer(tag: tag)
        case .blocked(let reason):
            logger.warning("the broker is blocking publishes on this connection: \(reason)")
        case .unblocked:
            logger.info("the broker accepts publishes again")
        case .ignored:
            break
        }
    }

    // MARK: Recovery

    private func adopt(_ session: RabbitMQSession) {
        self.session = session
        channelGeneration = session.channelGeneration
        status.isConnected.store(true, ordering: .releasing)
    }

    private func recover(from error: AMQPError) {
        if error.code == .channelClosedByBroker {
            reopenChannel(after: error, blamingUnconfirmedPublishes: true)
        } else {
            dropConnection(after: error)
        }
    }

    /// The broker closed our channel (the connection is fine): open a new one and restore its state.
    /// When the close came while publishes were unconfirmed, one of them caused it (an exchange that
    /// does not exist, say) and the broker does not say which: all of them fail with its reason.
    private func reopenChannel(after error: AMQPError, blamingUnconfirmedPublishes: Bool) {
        logger.warning("channel closed by the broker, reopening it: \(error)")
        if blamingUnconfirmedPublishes {
            for key in unconfirmed.keys.sorted() { unconfirmed.removeValue(forKey: key)?.completion(.failure(error)) }
        }
        requeueUnconfirmed()
        guard let session else { return }
        do {
            try session.openChannel()
            adopt(session)
            status.recoveries.add(1, ordering: .relaxed)
            restoreState()
        } catch {
            dropConnection(after: error)
        }
    }

    private func dropConnection(after error: AMQPError) {
        guard let lost = session else { return }
        logger.warning("connection to \(configuration.redactedURL(of: node)) lost, reconnecting: \(error)")
        lost.abandon()
        session = nil
        status.isConnected.store(false, ordering: .releasing)
        requeueUnconfirmed()
        reconnectAttempt = 0
        nextReconnect = .now
    }

    /// Unconfirmed publishes may or may not have reached their queues: send them again, first.
    private func requeueUnconfirmed() {
        unsent = unconfirmed.sorted { $0.key < $1.key }.map(\.value) + unsent
        unconfirmed.removeAll()
    }

    private func reconnectIfDue() {
        guard ContinuousClock.now >= nextReconnect else { return }
        reconnectAttempt += 1
        // Each attempt tries the next node of the cluster, starting after the one that was lost.
        nodeIndex = (nodeIndex + 1) % configuration.nodes.count
        do {
            let session = try RabbitMQSession.open(configuration, node: node, channelGeneration: channelGeneration)
            adopt(session)
            status.recoveries.add(1, ordering: .relaxed)
            logger.info("reconnected to \(configuration.redactedURL(of: node)) after \(reconnectAttempt) attempt(s)")
            reconnectAttempt = 0
            restoreState()
        } catch {
            let delay = configuration.reconnectBackoff.delay(attempt: reconnectAttempt)
            nextReconnect = .now + delay
            logger.warning("reconnection attempt \(reconnectAttempt) failed, next in \(delay): \(error)")
        }
    }

    /// Declares the recorded topology on the new channel, resumes consumers, then carries on with
    /// what callers asked for meanwhile.
    private func restoreState() {
        var index = 0
        while let session, index < topology.entries.count {
            do {
                switch topology.entries[index] {
                case .exchange(let exchange): try session.declare(exchange)
                case .queue(let queue): try session.declare(queue)
                case .binding(let binding): try session.bind(binding)
                case .consumer(let consumer): try session.consume(consumer)
                }
                index += 1
            } catch where error.code == .channelClosedByBroker {
                logger.error("the broker no longer accepts a recorded declaration, dropping it: \(error)")
                topology.remove(at: index)
                reopenChannel(after: error, blamingUnconfirmedPublishes: false)
                return
            } catch {
                dropConnection(after: error)
                return
            }
        }
        performPendingOperations()
        sendUnsent()
    }

    private func shutDown() {
        session?.close()
        session = nil
        status.isConnected.store(false, ordering: .releasing)
        let closed = AMQPError(.clientClosed, "the connection was closed before the operation completed")
        pendingOperations.forEach { $0.1(.failure(closed)) }
        unsent.forEach { $0.completion(.failure(closed)) }
        unconfirmed.values.forEach { $0.completion(.failure(closed)) }
        mailbox.refuseFurtherCommands().forEach { $0.fail(closed) }
        logger.info("connection to \(configuration.redactedURL(of: node)) closed")
        closeCompletion?()
    }
}
