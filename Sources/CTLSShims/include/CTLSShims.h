#ifndef CARTOGRAPH_CTLSSHIMS_H
#define CARTOGRAPH_CTLSSHIMS_H

#include <stddef.h>

// A TLS client over an already connected non-blocking socket, for probes. OpenSSL's object
// graph and its many macros stay on this side; Swift sees a handle, status codes and text.
// Probe sessions (cg_tls_new) do not verify certificates: a mapper reports what a service
// presents, it does not trust it. Sessions to services we deliver to (cg_tls_new_client, for
// notifications) use modern settings and verify the peer unless told not to.

typedef struct cg_tls cg_tls;

enum {
    CG_TLS_DONE = 0,        // the operation completed
    CG_TLS_WANT_READ = 1,   // wait until the socket is readable, then call again
    CG_TLS_WANT_WRITE = 2,  // wait until the socket is writable, then call again
    CG_TLS_CLOSED = 3,      // the peer closed the TLS session
    CG_TLS_ERROR = -1,      // failed: cg_tls_error() says why
};

/// A client session on `fd` sending `sni` (may be NULL); NULL if OpenSSL cannot make one.
cg_tls *cg_tls_new(int fd, const char *sni);
/// A client session on `fd` to a service we mean to trust, such as a mail server or a webhook
/// receiver: TLS 1.2 or later at OpenSSL's default security level, SNI when `host` is a name.
/// When `verify` is nonzero the chain is checked against the system's CA store and the
/// certificate must match `host` (a DNS name or an IP address); a failed check fails the
/// handshake and cg_tls_error() says why. NULL if OpenSSL cannot make one.
cg_tls *cg_tls_new_client(int fd, const char *host, int verify);
void cg_tls_free(cg_tls *tls);

int cg_tls_handshake(cg_tls *tls);
/// Reads up to `size` bytes into `buffer`; `*count` gets how many when the status is DONE.
int cg_tls_read(cg_tls *tls, void *buffer, int size, int *count);
/// Writes up to `size` bytes; `*count` gets how many when the status is DONE.
int cg_tls_write(cg_tls *tls, const void *buffer, int size, int *count);
/// Decrypted bytes already buffered, which no socket readiness will announce.
int cg_tls_pending(cg_tls *tls);
/// Text of the last error on this session.
const char *cg_tls_error(cg_tls *tls);

/// The peer's certificate and the session's parameters, as text.
typedef struct {
    char subject[512];
    char issuer[512];
    char sans[2048];        // DNS and IP names, comma-separated
    char not_before[32];    // "YYYY-MM-DDTHH:MM:SSZ"
    char not_after[32];
    char sha256[96];        // lowercase hex fingerprint of the DER certificate
    char version[16];       // e.g. "TLSv1.3"
    char cipher[64];
} cg_tls_peer;

/// Fills `peer`; returns 0 when the peer sent no certificate.
int cg_tls_peer_info(cg_tls *tls, cg_tls_peer *peer);

#endif
