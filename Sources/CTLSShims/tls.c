#include "CTLSShims.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cg_tls {
    SSL *ssl;
    int verify;  // the peer's certificate is checked: say why when the handshake fails
    char error[256];
};

static SSL_CTX *shared_context;
static pthread_once_t context_once = PTHREAD_ONCE_INIT;
static SSL_CTX *client_context;
static pthread_once_t client_once = PTHREAD_ONCE_INIT;

static void make_context(void) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    // Old and weak services are exactly what a mapper must still be able to name.
    SSL_CTX_set_min_proto_version(ctx, 0);
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
    SSL_CTX_set_options(ctx, SSL_OP_LEGACY_SERVER_CONNECT | SSL_OP_IGNORE_UNEXPECTED_EOF);
    shared_context = ctx;
}

static void remember_error(cg_tls *tls, const char *what) {
    unsigned long code = ERR_get_error();
    long verdict = tls->verify ? SSL_get_verify_result(tls->ssl) : X509_V_OK;
    if (verdict != X509_V_OK) {
        // OpenSSL's own text is only "certificate verify failed"; the verdict says which check.
        snprintf(tls->error, sizeof tls->error, "%s: certificate verify failed: %s", what,
                 X509_verify_cert_error_string(verdict));
    } else if (code) {
        char detail[200];
        ERR_error_string_n(code, detail, sizeof detail);
        snprintf(tls->error, sizeof tls->error, "%s: %s", what, detail);
    } else {
        snprintf(tls->error, sizeof tls->error, "%s", what);
    }
    ERR_clear_error();
}

static int status_of(cg_tls *tls, int result, const char *what) {
    int code = SSL_get_error(tls->ssl, result);
    switch (code) {
    case SSL_ERROR_WANT_READ: return CG_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return CG_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return CG_TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            snprintf(tls->error, sizeof tls->error, "%s: connection closed", what);
            return CG_TLS_CLOSED;
        }
        remember_error(tls, what);
        return CG_TLS_ERROR;
    default:
        remember_error(tls, what);
        return CG_TLS_ERROR;
    }
}

cg_tls *cg_tls_new(int fd, const char *sni) {
    pthread_once(&context_once, make_context);
    if (!shared_context) return NULL;
    cg_tls *tls = calloc(1, sizeof *tls);
    if (!tls) return NULL;
    tls->ssl = SSL_new(shared_context);
    if (!tls->ssl) { free(tls); return NULL; }
    SSL_set_fd(tls->ssl, fd);
    if (sni && *sni) SSL_set_tlsext_host_name(tls->ssl, sni);
    SSL_set_connect_state(tls->ssl);
    return tls;
}

static void make_client_context(void) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // Without a CA store every verified handshake fails, and says so; that is the right outcome.
    SSL_CTX_set_default_verify_paths(ctx);
    client_context = ctx;
}

cg_tls *cg_tls_new_client(int fd, const char *host, int verify) {
    pthread_once(&client_once, make_client_context);
    if (!client_context) return NULL;
    cg_tls *tls = calloc(1, sizeof *tls);
    if (!tls) return NULL;
    tls->ssl = SSL_new(client_context);
    if (!tls->ssl) { free(tls); return NULL; }
    SSL_set_fd(tls->ssl, fd);
    int literal = 0;
    ASN1_OCTET_STRING *ip = host ? a2i_IPADDRESS(host) : NULL;
    if (ip) { literal = 1; ASN1_OCTET_STRING_free(ip); }
    // RFC 6066: SNI carries host names only, never address literals.
    if (host && *host && !literal) SSL_set_tlsext_host_name(tls->ssl, host);
    if (verify) {
        tls->verify = 1;
        SSL_set_verify(tls->ssl, SSL_VERIFY_PEER, NULL);
        X509_VERIFY_PARAM *param = SSL_get0_param(tls->ssl);
        // A verified session with no name to check would accept any valid certificate.
        int named = host && *host
            && (literal ? X509_VERIFY_PARAM_set1_ip_asc(param, host) : SSL_set1_host(tls->ssl, host));
        if (!named) { SSL_free(tls->ssl); free(tls); return NULL; }
    } else {
        SSL_set_verify(tls->ssl, SSL_VERIFY_NONE, NULL);
    }
    SSL_set_connect_state(tls->ssl);
    return tls;
}

void cg_tls_free(cg_tls *tls) {
    if (!tls) return;
    SSL_free(tls->ssl);
    free(tls);
}

int cg_tls_handshake(cg_tls *tls) {
    ERR_clear_error();
    int result = SSL_do_handshake(tls->ssl);
    return result == 1 ? CG_TLS_DONE : status_of(tls, result, "handshake");
}

int cg_tls_read(cg_tls *tls, void *buffer, int size, int *count) {
    ERR_clear_error();
    int result = SSL_read(tls->ssl, buffer, size);
    if (result > 0) { *count = result; return CG_TLS_DONE; }
    return status_of(tls, result, "read");
}

int cg_tls_write(cg_tls *tls, const void *buffer, int size, int *count) {
    ERR_clear_error();
    int result = SSL_write(tls->ssl, buffer, size);
    if (result > 0) { *count = result; return CG_TLS_DONE; }
    return status_of(tls, result, "write");
}

int cg_tls_pending(cg_tls *tls) { return SSL_pending(tls->ssl); }

const char *cg_tls_error(cg_tls *tls) { return tls->error; }

static void name_text(X509_NAME *name, char *out, size_t size) {
    out[0] = 0;
    if (!name) return;
    BIO *bio = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
    int n = BIO_read(bio, out, (int)size - 1);
    out[n > 0 ? n : 0] = 0;
    BIO_free(bio);
}

static void time_text(const ASN1_TIME *time, char *out, size_t size) {
    struct tm tm;
    out[0] = 0;
    if (time && ASN1_TIME_to_tm(time, &tm) == 1) strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cg_tls_peer_info(cg_tls *tls, cg_tls_peer *peer) {
    memset(peer, 0, sizeof *peer);
    snprintf(peer->version, sizeof peer->version, "%s", SSL_get_version(tls->ssl));
    const char *cipher = SSL_get_cipher_name(tls->ssl);
    snprintf(peer->cipher, sizeof peer->cipher, "%s", cipher ? cipher : "");
    X509 *cert = SSL_get1_peer_certificate(tls->ssl);
    if (!cert) return 0;
    name_text(X509_get_subject_name(cert), peer->subject, sizeof peer->subject);
    name_text(X509_get_issuer_name(cert), peer->issuer, sizeof peer->issuer);
    time_text(X509_get0_notBefore(cert), peer->not_before, sizeof peer->not_before);
    time_text(X509_get0_notAfter(cert), peer->not_after, sizeof peer->not_after);

    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    size_t used = 0;
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        char item[256] = {0};
        if (name->type == GEN_DNS) {
            snprintf(item, sizeof item, "%.*s", ASN1_STRING_length(name->d.dNSName),
                     (const char *)ASN1_STRING_get0_data(name->d.dNSName));
        } else if (name->type == GEN_IPADD) {
            const unsigned char *ip = ASN1_STRING_get0_data(name->d.iPAddress);
            if (ASN1_STRING_length(name->d.iPAddress) == 4)
                snprintf(item, sizeof item, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
        }
        size_t length = strlen(item);
        if (length && used + length + 2 < sizeof peer->sans) {
            if (used) { peer->sans[used++] = ','; }
            memcpy(peer->sans + used, item, length);
            used += length;
            peer->sans[used] = 0;
        }
    }
    GENERAL_NAMES_free(names);

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (X509_digest(cert, EVP_sha256(), digest, &length)) {
        for (unsigned int i = 0; i < length && 2 * i + 2 < sizeof peer->sha256; i++)
            sprintf(peer->sha256 + 2 * i, "%02x", digest[i]);
    }
    X509_free(cert);
    return 1;
}
