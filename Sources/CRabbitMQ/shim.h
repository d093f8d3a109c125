// The parts of rabbitmq-c (librabbitmq) the AMQPClient module uses. Only AMQPClient imports this module.
// Swift cannot call C variadic functions nor see macros that cast, so both are wrapped here.
#ifndef CPIS_CRABBITMQ_SHIM_H
#define CPIS_CRABBITMQ_SHIM_H

// rabbitmq-c 0.12+ installs <rabbitmq-c/amqp.h>; Debian 12's 0.11 installs <amqp.h>.
#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/framing.h>
#include <rabbitmq-c/tcp_socket.h>
#include <rabbitmq-c/ssl_socket.h>
#else
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#endif

/// `amqp_login_with_properties` with SASL PLAIN (the C function is variadic).
static inline amqp_rpc_reply_t cpis_amqp_login_plain(amqp_connection_state_t state, const char *vhost,
                                                     int channel_max, int frame_max, int heartbeat,
                                                     const amqp_table_t *client_properties,
                                                     const char *username, const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat, client_properties,
                                      AMQP_SASL_METHOD_PLAIN, username, password);
}

// Method ids are cast macros (`((amqp_method_number_t)0x...)`), invisible to Swift.
static const amqp_method_number_t cpis_amqp_basic_deliver_method = AMQP_BASIC_DELIVER_METHOD;
static const amqp_method_number_t cpis_amqp_basic_ack_method = AMQP_BASIC_ACK_METHOD;
static const amqp_method_number_t cpis_amqp_basic_nack_method = AMQP_BASIC_NACK_METHOD;
static const amqp_method_number_t cpis_amqp_basic_return_method = AMQP_BASIC_RETURN_METHOD;
static const amqp_method_number_t cpis_amqp_basic_cancel_method = AMQP_BASIC_CANCEL_METHOD;
static const amqp_method_number_t cpis_amqp_channel_close_method = AMQP_CHANNEL_CLOSE_METHOD;
static const amqp_method_number_t cpis_amqp_channel_close_ok_method = AMQP_CHANNEL_CLOSE_OK_METHOD;
static const amqp_method_number_t cpis_amqp_connection_close_method = AMQP_CONNECTION_CLOSE_METHOD;
static const amqp_method_number_t cpis_amqp_connection_close_ok_method = AMQP_CONNECTION_CLOSE_OK_METHOD;
static const amqp_method_number_t cpis_amqp_connection_blocked_method = AMQP_CONNECTION_BLOCKED_METHOD;
static const amqp_method_number_t cpis_amqp_connection_unblocked_method = AMQP_CONNECTION_UNBLOCKED_METHOD;

#endif
