# Sourced by the TLS test scripts (tls_test.sh, browser_test.sh) after common.sh.

# make_certificate DIR: a self-signed P-256 certificate for localhost and
# 127.0.0.1, valid one day, in DIR/cert.pem and DIR/key.pem; false (with a
# FAIL line) when openssl cannot make it.
make_certificate() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null ||
    { echo "FAIL openssl req could not make a certificate"; return 1; }
}
