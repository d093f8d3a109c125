// The parts of OpenSSL 3 (libssl, libcrypto) the HTTPTransport module uses. Only HTTPTransport imports
// this module, and it does so with `internal import`, so these declarations never reach its clients.
// Many OpenSSL setters are macros over SSL_CTX_ctrl/SSL_ctrl that Swift cannot call; they are wrapped here.
#ifndef CPIS_COPENSSL_SHIM_H
#define CPIS_COPENSSL_SHIM_H

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

// SSL_CTX_set_min_proto_version is a macro over SSL_CTX_ctrl; returns 1 on success.
static inline int cpis_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

// SSL_CTX_set_mode is a macro over SSL_CTX_ctrl; returns the new mode bitmask.
static inline long cpis_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

// SSL_CTX_set_session_cache_mode is a macro over SSL_CTX_ctrl; returns the previous mode.
static inline long cpis_ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}

// SSL_set_tlsext_host_name (the SNI name a client sends) is a macro over SSL_ctrl; returns 1 on success.
static inline int cpis_ssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

// XN_FLAG_RFC2253 ORs macros that cast to unsigned long, which Swift does not import.
static const unsigned long cpis_xn_flag_rfc2253 = XN_FLAG_RFC2253;

#endif
