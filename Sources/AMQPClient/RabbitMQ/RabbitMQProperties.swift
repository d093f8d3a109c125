import CRabbitMQ
import Foundation

extension RabbitMQArena {
    func properties(_ properties: AMQPProperties) -> amqp_basic_properties_t {
        var raw = amqp_basic_properties_t()
        var flags: UInt32 = 0
        func set(_ value: String?, _ flag: Int32, _ field: WritableKeyPath<amqp_basic_properties_t, amqp_bytes_t>) {
            guard let value else { return }
            raw[keyPath: field] = bytes(value)
            flags |= UInt32(flag)
        }
        set(properties.contentType, AMQP_BASIC_CONTENT_TYPE_FLAG, \.content_type)
        set(properties.contentEncoding, AMQP_BASIC_CONTENT_ENCODING_FLAG, \.content_encoding)
        set(properties.correlationId, AMQP_BASIC_CORRELATION_ID_FLAG, \.correlation_id)
        set(properties.replyTo, AMQP_BASIC_REPLY_TO_FLAG, \.reply_to)
        set(properties.expiration, AMQP_BASIC_EXPIRATION_FLAG, \.expiration)
        set(properties.messageId, AMQP_BASIC_MESSAGE_ID_FLAG, \.message_id)
        set(properties.type, AMQP_BASIC_TYPE_FLAG, \.type)
        set(properties.userId, AMQP_BASIC_USER_ID_FLAG, \.user_id)
        set(properties.appId, AMQP_BASIC_APP_ID_FLAG, \.app_id)
        if !properties.headers.isEmpty {
            raw.headers = table(properties.headers)
            flags |= UInt32(AMQP_BASIC_HEADERS_FLAG)
        }
        raw.delivery_mode = properties.persistent ? 2 : 1
        flags |= UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG)
        if let priority = properties.priority {
            raw.priority = priority
            flags |= UInt32(AMQP_BASIC_PRIORITY_FLAG)
        }
        if let timestamp = properties.timestamp {
            raw.timestamp = UInt64(max(0, timestamp.timeIntervalSince1970))
            flags |= UInt32(AMQP_BASIC_TIMESTAMP_FLAG)
        }
        raw._flags = flags
        return raw
    }
}

extension AMQPProperties {
    init(amqpProperties raw: amqp_basic_properties_t) {
        let flags = raw._flags
        func get(_ flag: Int32, _ field: amqp_bytes_t) -> String? {
            flags & UInt32(flag) != 0 ? String(amqpBytes: field) : nil
        }
        self.init(
            contentType: get(AMQP_BASIC_CONTENT_TYPE_FLAG, raw.content_type),
            contentEncoding: get(AMQP_BASIC_CONTENT_ENCODING_FLAG, raw.content_encoding),
            headers: flags & UInt32(AMQP_BASIC_HEADERS_FLAG) != 0 ? AMQPTable(amqpTable: raw.headers) : [:],
            persistent: flags & UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG) != 0 && raw.delivery_mode == 2,
            priority: flags & UInt32(AMQP_BASIC_PRIORITY_FLAG) != 0 ? raw.priority : nil,
            correlationId: get(AMQP_BASIC_CORRELATION_ID_FLAG, raw.correlation_id),
            replyTo: get(AMQP_BASIC_REPLY_TO_FLAG, raw.reply_to),
            expiration: get(AMQP_BASIC_EXPIRATION_FLAG, raw.expiration),
            messageId: get(AMQP_BASIC_MESSAGE_ID_FLAG, raw.message_id),
            timestamp: flags & UInt32(AMQP_BASIC_TIMESTAMP_FLAG) != 0
                ? Date(timeIntervalSince1970: TimeInterval(raw.timestamp)) : nil,
            type: get(AMQP_BASIC_TYPE_FLAG, raw.type),
            userId: get(AMQP_BASIC_USER_ID_FLAG, raw.user_id),
            appId: get(AMQP_BASIC_APP_ID_FLAG, raw.app_id)
        )
    }
}

extension AMQPMessage {
    init(amqpMessage raw: amqp_message_t) {
        self.init(body: [UInt8](amqpBytes: raw.body), properties: AMQPProperties(amqpProperties: raw.properties))
    }
}
