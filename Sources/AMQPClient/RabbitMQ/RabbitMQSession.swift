import CRabbitMQ
import Foundation

/// What arrived from the broker, other than the replies to our own synchronous methods.
enum RabbitMQInbound {
    case delivery(AMQPDelivery)
    /// `basic.ack` / `basic.nack` for our publishes (publisher confirms).
    case confirm(sequence: UInt64, multiple: Bool, accepted: Bool)
    case returned(AMQPReturnedMessage)
    /// The broker cancelled a consumer (its queue was deleted, say).
    case consumerCancelled(tag: String)
    case blocked(reason: String)
    case unblocked
    /// A frame we have no use for (heartbeats are handled inside rabbitmq-c).
    case ignored
}

/// One live rabbitmq-c connection with one channel in confirm mode.
///
/// rabbitmq-c forbids using a connection from more than one thread: a session is created, used and
/// closed only by its ``AMQPConnection``'s owner thread. Every call here may block that thread up to
/// the RPC timeout, never Swift's cooperative pool.
final class RabbitMQSession {
    private let state: amqp_connection_state_t
    private let channel: amqp_channel_t = 1
    /// Incremented every time the channel is (re)opened: deliveries carry it so that a settle aimed at
    /// a lost channel can be refused instead of acknowledging an unrelated message.
    private(set) var channelGeneration: UInt64
    /// The sequence number the broker will give our next publish (publisher confirms count from 1 per channel).
    private(set) var nextPublishSequence: UInt64 = 1

    private init(state: amqp_connection_state_t, channelGeneration: UInt64) {
        self.state = state
        self.channelGeneration = channelGeneration
    }

    /// Connects to `node`, logs in and opens a channel in confirm mode.
    static func open(_ configuration: AMQPConfiguration, node: AMQPConfiguration.Node, channelGeneration: UInt64)
        throws(AMQPError) -> RabbitMQSession
    {
        guard let state = amqp_new_connection() else {
            throw AMQPError(.connectionFailed, "rabbitmq-c could not allocate a connection")
        }
        let session = RabbitMQSession(state: state, channelGeneration: channelGeneration)
        do {
            try session.connect(configuration, node: node)
            try session.openChannel()
            return session
        } catch {
            session.abandon()
            throw error
        }
    }

    private func connect(_ configuration: AMQPConfiguration, node: AMQPConfiguration.Node) throws(AMQPError) {
        let arena = RabbitMQArena()
        let socket: OpaquePointer?
        if let tls = configuration.tls {
            socket = amqp_ssl_socket_new(state)
            guard let socket else { throw AMQPError(.tlsFailed, "could not create a TLS socket") }
            amqp_ssl_socket_set_verify_peer(socket, 1)
            amqp_ssl_socket_set_verify_hostname(socket, tls.verifyHostname ? 1 : 0)
            try check(amqp_ssl_socket_set_ssl_versions(socket, AMQP_TLSv1_2, AMQP_TLSvLATEST), .tlsFailed,
                      "TLS 1.2 or later is not available")
            try check(amqp_ssl_socket_set_cacert(socket, tls.caCertificateFile), .invalidConfiguration,
                      "cannot read the CA certificate file \(tls.caCertificateFile)")
            if let certificate = tls.certificateFile, let key = tls.keyFile {
                try check(amqp_ssl_socket_set_key(socket, certificate, key), .invalidConfiguration,
                          "cannot read the client certificate \(certificate) or its key \(key)")
            }
        } else {
            socket = amqp_tcp_socket_new(state)
        }
        guard let socket else { throw AMQPError(.connectionFailed, "could not create a socket") }

        var connectTimeout = timeval(configuration.connectTimeout)
        let status = amqp_socket_open_noblock(socket, node.host, Int32(node.port), &connectTimeout)
        if status != AMQP_STATUS_OK.rawValue {
            let tlsFailure = [AMQP_STATUS_SSL_ERROR, AMQP_STATUS_SSL_CONNECTION_FAILED,
                              AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED, AMQP_STATUS_SSL_PEER_VERIFY_FAILED]
                .contains { $0.rawValue == status }
            throw AMQPError(tlsFailure ? .tlsFailed : .connectionFailed,
                            "cannot connect to \(node): \(Self.describe(status))")
        }
        var handshakeTimeout = timeval(configuration.connectTimeout)
        var rpcTimeout = timeval(configuration.rpcTimeout)
        amqp_set_handshake_timeout(state, &handshakeTimeout)
        amqp_set_rpc_timeout(state, &rpcTimeout)

        var clientProperties = arena.table(["connection_name": .string(configuration.connectionName)])
        let heartbeatSeconds = Int32(clamping: configuration.heartbeat.components.seconds)
        let reply = cpis_amqp_login_plain(state, configuration.virtualHost, 0, AMQP_DEFAULT_FRAME_SIZE,
                                          heartbeatSeconds, &clientProperties,
                                          configuration.username, configuration.password)
        do {
            try check(reply, "login to \(configuration.redactedURL(of: node))")
        } catch where error.replyCode == 403 || error.code == .connectionLost {
            // RabbitMQ closes the socket or sends ACCESS_REFUSED (403) on bad credentials.
            throw AMQPError(.authenticationFailed,
                            "the broker refused user '\(configuration.username)' on vhost '\(configuration.virtualHost)'"
                                + " (\(error.message)): check the user, its password and its permissions",
                            replyCode: error.replyCode)
        }
    }

    /// Opens (or, after the broker closed it, reopens) the channel and puts it in confirm mode.
    func openChannel() throws(AMQPError) {
        amqp_channel_open(state, channel)
        try check(amqp_get_rpc_reply(state), "channel.open")
        amqp_confirm_select(state, channel)
        try check(amqp_get_rpc_reply(state), "confirm.select")
        channelGeneration += 1
        nextPublishSequence = 1
    }

    /// Closes politely. Errors are ignored: we are leaving anyway.
    func close() {
        _ = amqp_channel_close(state, channel, AMQP_REPLY_SUCCESS)
        _ = amqp_connection_close(state, AMQP_REPLY_SUCCESS)
        amqp_destroy_connection(state)
    }

    /// Drops a broken connection without talking to the broker.
    func abandon() {
        amqp_destroy_connection(state)
    }

    /// The socket, for waiting on it with `poll`.
    var fileDescriptor: Int32 { amqp_get_sockfd(state) }

    // MARK: Synchronous methods

    func declare(_ exchange: AMQPExchange) throws(AMQPError) {
        let arena = RabbitMQArena()
        amqp_exchange_declare(state, channel, arena.bytes(exchange.name), arena.bytes(exchange.kind.rawValue), 0,
                              exchange.durable ? 1 : 0, exchange.autoDelete ? 1 : 0, 0,
                              arena.table(exchange.arguments))
        try check(amqp_get_rpc_reply(state), "declaring exchange '\(exchange.name)'")
    }

    func declare(_ queue: AMQPQueue) throws(AMQPError) {
        let arena = RabbitMQArena()
        amqp_queue_declare(state, channel, arena.bytes(queue.name), 0, queue.durable ? 1 : 0,
                           queue.exclusive ? 1 : 0, queue.autoDelete ? 1 : 0, arena.table(queue.arguments))
        try check(amqp_get_rpc_reply(state), "declaring queue '\(queue.name)'")
    }

    /// Passive declare: the state of a queue that must already exist (404 closes the channel otherwise).
    func inspect(queue name: String) throws(AMQPError) -> AMQPQueueState {
        let arena = RabbitMQArena()
        let ok = amqp_queue_declare(state, channel, arena.bytes(name), 1, 0, 0, 0, amqp_empty_table)
        try check(amqp_get_rpc_reply(state), "inspecting queue '\(name)'")
        guard let ok else { throw AMQPError(.connectionLost, "inspecting queue '\(name)': no reply") }
        return AMQPQueueState(readyMessages: Int(ok.pointee.message_count), consumers: Int(ok.pointee.consumer_count))
    }

    func bind(_ binding: AMQPBinding) throws(AMQPError) {
        let arena = RabbitMQArena()
        amqp_queue_bind(state, channel, arena.bytes(binding.queue), arena.bytes(binding.exchange),
                        arena.bytes(binding.routingKey), arena.table(binding.arguments))
        try check(amqp_get_rpc_reply(state),
                  "binding queue '\(binding.queue)' to exchange '\(binding.exchange)' with '\(binding.routingKey)'")
    }

    func deleteQueue(_ name: String) throws(AMQPError) {
        let arena = RabbitMQArena()
        amqp_queue_delete(state, channel, arena.bytes(name), 0, 0)
        try check(amqp_get_rpc_reply(state), "deleting queue '\(name)'")
    }

    func consume(_ consumer: AMQPConsumer) throws(AMQPError) {
        let arena = RabbitMQArena()
        // Per-consumer prefetch: RabbitMQ applies a non-global basic.qos to the consumers started after it.
        amqp_basic_qos(state, channel, 0, consumer.prefetch, 0)
        try check(amqp_get_rpc_reply(state), "setting prefetch \(consumer.prefetch) for '\(consumer.queue)'")
        amqp_basic_consume(state, channel, arena.bytes(consumer.queue), arena.bytes(consumer.tag), 0,
                           consumer.acknowledgement == .automatic ? 1 : 0, consumer.exclusive ? 1 : 0,
                           arena.table(consumer.arguments))
        try check(amqp_get_rpc_reply(state), "consuming from queue '\(consumer.queue)'")
    }

    func cancel(consumerTag: String) throws(AMQPError) {
        let arena = RabbitMQArena()
        amqp_basic_cancel(state, channel, arena.bytes(consumerTag))
        try check(amqp_get_rpc_reply(state), "cancelling consumer '\(consumerTag)'")
    }

    // MARK: Asynchronous methods

    /// Sends a publish and returns its confirm sequence number. The confirm arrives later as `.confirm`.
    func publish(_ message: AMQPMessage, exchange: String, routingKey: String, mandatory: Bool) throws(AMQPError)
        -> UInt64
    {
        let arena = RabbitMQArena()
        var properties = arena.properties(message.properties)
        let status = amqp_basic_publish(state, channel, arena.bytes(exchange), arena.bytes(routingKey),
                                        mandatory ? 1 : 0, 0, &properties, arena.bytes(message.body))
        try check(status, .connectionLost, "publishing to exchange '\(exchange)'")
        defer { nextPublishSequence += 1 }
        return nextPublishSequence
    }

    func settle(deliveryTag: UInt64, _ settlement: Settlement) throws(AMQPError) {
        let status: Int32
        switch settlement {
        case .ack: status = amqp_basic_ack(state, channel, deliveryTag, 0)
        case .nack(let requeue): status = amqp_basic_nack(state, channel, deliveryTag, 0, requeue ? 1 : 0)
        case .reject(let requeue): status = amqp_basic_reject(state, channel, deliveryTag, requeue ? 1 : 0)
        }
        try check(status, .connectionLost, "settling delivery \(deliveryTag)")
    }

    // MARK: Reading

    /// The next thing the broker sent, or nil when nothing complete has arrived yet. Never waits.
    /// Also services heartbeats (rabbitmq-c sends and checks them inside this call).
    func nextInbound() throws(AMQPError) -> RabbitMQInbound? {
        amqp_maybe_release_buffers(state)
        var envelope = amqp_envelope_t()
        var immediately = timeval(tv_sec: 0, tv_usec: 0)
        let reply = amqp_consume_message(state, &envelope, &immediately, 0)
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            defer { amqp_destroy_envelope(&envelope) }
            return .delivery(AMQPDelivery(
                message: AMQPMessage(amqpMessage: envelope.message),
                consumerTag: String(amqpBytes: envelope.consumer_tag),
                exchange: String(amqpBytes: envelope.exchange),
                routingKey: String(amqpBytes: envelope.routing_key),
                redelivered: envelope.redelivered != 0,
                deliveryTag: envelope.delivery_tag,
                channelGeneration: channelGeneration))
        case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_TIMEOUT.rawValue:
            return nil
        case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue:
            // A frame other than a delivery is waiting: read it.
            return try nextMethodFrame()
        default:
            try check(reply, "waiting for messages")
            return .ignored
        }
    }

    private func nextMethodFrame() throws(AMQPError) -> RabbitMQInbound {
        var frame = amqp_frame_t()
        try check(amqp_simple_wait_frame(state, &frame), .connectionLost, "reading a frame")
        guard frame.frame_type == AMQP_FRAME_METHOD else { return .ignored }
        let method = frame.payload.method
        switch method.id {
        case cpis_amqp_basic_ack_method:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            return .confirm(sequence: ack.delivery_tag, multiple: ack.multiple != 0, accepted: true)
        case cpis_amqp_basic_nack_method:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            return .confirm(sequence: nack.delivery_tag, multiple: nack.multiple != 0, accepted: false)
        case cpis_amqp_basic_return_method:
            let returned = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let exchange = String(amqpBytes: returned.exchange)
            let routingKey = String(amqpBytes: returned.routing_key)
            let replyText = String(amqpBytes: returned.reply_text)
            var message = amqp_message_t()
            try check(amqp_read_message(state, frame.channel, &message, 0), "reading a returned message")
            defer { amqp_destroy_message(&message) }
            return .returned(AMQPReturnedMessage(
                message: AMQPMessage(amqpMessage: message), exchange: exchange, routingKey: routingKey,
                replyCode: Int(returned.reply_code), replyText: replyText))
        case cpis_amqp_basic_cancel_method:
            let cancel = method.decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            return .consumerCancelled(tag: String(amqpBytes: cancel.consumer_tag))
        case cpis_amqp_connection_blocked_method:
            let blocked = method.decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            return .blocked(reason: String(amqpBytes: blocked.reason))
        case cpis_amqp_connection_unblocked_method:
            return .unblocked
        case cpis_amqp_channel_close_method, cpis_amqp_connection_close_method:
            throw closedByBroker(method, during: "waiting for messages")
        default:
            return .ignored
        }
    }

    // MARK: Errors

    private func check(_ status: Int32, _ code: AMQPError.Code, _ context: String) throws(AMQPError) {
        guard status != AMQP_STATUS_OK.rawValue else { return }
        throw AMQPError(code, "\(context): \(Self.describe(status))")
    }

    private func check(_ reply: amqp_rpc_reply_t, _ context: String) throws(AMQPError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            throw closedByBroker(reply.reply, during: context)
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw AMQPError(.connectionLost, "\(context): \(Self.describe(reply.library_error))")
        default:
            throw AMQPError(.connectionLost, "\(context): no reply from the broker")
        }
    }

    /// Turns `channel.close` / `connection.close` into an error, after acknowledging it as AMQP requires.
    private func closedByBroker(_ method: amqp_method_t, during context: String) -> AMQPError {
        switch method.id {
        case cpis_amqp_channel_close_method:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            var closeOk = amqp_channel_close_ok_t()
            _ = amqp_send_method(state, channel, cpis_amqp_channel_close_ok_method, &closeOk)
            return AMQPError(.channelClosedByBroker, "\(context): \(String(amqpBytes: close.reply_text))",
                             replyCode: Int(close.reply_code))
        case cpis_amqp_connection_close_method:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            var closeOk = amqp_connection_close_ok_t()
            _ = amqp_send_method(state, 0, cpis_amqp_connection_close_ok_method, &closeOk)
            return AMQPError(.connectionClosedByBroker, "\(context): \(String(amqpBytes: close.reply_text))",
                             replyCode: Int(close.reply_code))
        default:
            return AMQPError(.connectionLost, "\(context): unexpected method 0x\(String(method.id, radix: 16))")
        }
    }

    private static func describe(_ status: Int32) -> String {
        String(cString: amqp_error_string2(status))
    }
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
