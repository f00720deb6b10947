/*
 * LD_PRELOAD shim that gives wrk a TLS client certificate, which wrk has no
 * option for. wrk makes one SSL_CTX for all its connections with
 * SSL_CTX_new(); this wraps that call and loads the certificate and key
 * named by WRK_CLIENT_CERT and WRK_CLIENT_KEY (PEM, key unencrypted) into
 * it. The TLS handshakes and the request loop stay wrk's own.
 *
 *   cc -shared -fPIC -O2 -o wrk-client-cert.so wrk-client-cert.c -ldl
 *   WRK_CLIENT_CERT=admin.pem WRK_CLIENT_KEY=admin-key.pem \
 *     LD_PRELOAD=./wrk-client-cert.so wrk https://127.0.0.1:18443/api/v1/whoami
 *
 * OpenSSL's declarations are written out here so no -dev package is needed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_method_st SSL_METHOD;

#define SSL_FILETYPE_PEM 1

SSL_CTX *SSL_CTX_new(const SSL_METHOD *method) {
  static SSL_CTX *(*real_new)(const SSL_METHOD *);
  static int (*use_chain)(SSL_CTX *, const char *);
  static int (*use_key)(SSL_CTX *, const char *, int);
  static int (*check_key)(const SSL_CTX *);
  if (!real_new) {
    real_new = (SSL_CTX * (*)(const SSL_METHOD *)) dlsym(RTLD_NEXT, "SSL_CTX_new");
    use_chain = (int (*)(SSL_CTX *, const char *))dlsym(RTLD_NEXT, "SSL_CTX_use_certificate_chain_file");
    use_key = (int (*)(SSL_CTX *, const char *, int))dlsym(RTLD_NEXT, "SSL_CTX_use_PrivateKey_file");
    check_key = (int (*)(const SSL_CTX *))dlsym(RTLD_NEXT, "SSL_CTX_check_private_key");
    if (!real_new || !use_chain || !use_key || !check_key) {
      fprintf(stderr, "wrk-client-cert: libssl symbols not found\n");
      exit(70);
    }
  }
  SSL_CTX *ctx = real_new(method);
  const char *cert = getenv("WRK_CLIENT_CERT");
  const char *key = getenv("WRK_CLIENT_KEY");
  if (ctx && cert && key) {
    if (use_chain(ctx, cert) != 1 || use_key(ctx, key, SSL_FILETYPE_PEM) != 1 || check_key(ctx) != 1) {
      fprintf(stderr, "wrk-client-cert: cannot load %s / %s\n", cert, key);
      exit(70);
    }
  }
  return ctx;
}
