/// What this connection has declared and subscribed to, in order, so that a new channel or
/// connection can be given the same state (declarations are idempotent).
struct TopologyRecord {
    enum Entry {
        case exchange(AMQPExchange)
        case queue(AMQPQueue)
        case binding(AMQPBinding)
        case consumer(AMQPConsumer)
    }

    private(set) var entries: [Entry] = []
    private(set) var handlers: [String: @Sendable (AMQPDelivery) -> Void] = [:]

    /// Records an operation the broker has accepted.
    mutating func apply(_ operation: TopologyOperation) {
        switch operation {
        case .declareExchange(let exchange):
            entries.removeAll { if case .exchange(let other) = $0 { other.name == exchange.name } else { false } }
            entries.append(.exchange(exchange))
        case .declareQueue(let queue):
            entries.removeAll { if case .queue(let other) = $0 { other.name == queue.name } else { false } }
            entries.append(.queue(queue))
        case .bind(let binding):
            entries.removeAll { if case .binding(let other) = $0 { other == binding } else { false } }
            entries.append(.binding(binding))
        case .deleteQueue(let name):
            let removed = entries.compactMap { if case .consumer(let c) = $0, c.queue == name { c.tag } else { nil } }
            removed.forEach { handlers[$0] = nil }
            entries.removeAll { entry in
                switch entry {
                case .queue(let queue): queue.name == name
                case .binding(let binding): binding.queue == name
                case .consumer(let consumer): consumer.queue == name
                case .exchange: false
                }
            }
        case .consume(let consumer, let handler):
            removeConsumer(tag: consumer.tag)
            entries.append(.consumer(consumer))
            handlers[consumer.tag] = handler
        case .cancel(let tag):
            // Not resumed after a recovery; but deliveries the broker sent before its cancel-ok still
            // reach the handler, rather than being handed back (each return counts toward a quorum
            // queue's delivery limit).
            entries.removeAll { if case .consumer(let other) = $0 { other.tag == tag } else { false } }
        }
    }

    /// Forgets an entry the broker no longer accepts, so that recovery does not fail on it forever.
    mutating func remove(at index: Int) {
        if case .consumer(let consumer) = entries[index] { handlers[consumer.tag] = nil }
        entries.remove(at: index)
    }

    mutating func removeConsumer(tag: String) {
        handlers[tag] = nil
        entries.removeAll { if case .consumer(let other) = $0 { other.tag == tag } else { false } }
    }
}
