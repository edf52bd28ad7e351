#!/usr/bin/env bash
# Makes a throw-away PKI for the mPlane bridge: a CA, a component (server) certificate for
# 127.0.0.1 / ::1 / localhost, and two client certificates, all PEM, in DIR (made if missing).
#   scripts/make-mplane-certs.sh /tmp/mplane-pki [DAYS]
# Files: ca.pem ca.key, server.pem server.key, client-1.pem client-1.key, client-2.pem client-2.key.
# Identities (subject DN values joined by '.', as mPlane does): org.weir.Components.Weir-Bridge,
# org.weir.Clients.Client-1, org.weir.Clients.Client-2. Keys are unencrypted: for tests and demos
# only, never commit them.
set -euo pipefail
dir=${1:?usage: make-mplane-certs.sh DIR [DAYS]}
days=${2:-30}
mkdir -p "$dir"
cd "$dir"
umask 077

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -days "$days" -subj "/DC=org/DC=weir/OU=CA/CN=Weir mPlane Test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem 2>/dev/null

# sign NAME SUBJECT EXTENSIONS
sign() {
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

sign server "/DC=org/DC=weir/OU=Components/CN=Weir-Bridge" \
  "$(printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost')"
for n in 1 2; do
  sign "client-$n" "/DC=org/DC=weir/OU=Clients/CN=Client-$n" \
    "$(printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth')"
done
rm -f ca.srl
chmod 644 ./*.pem
echo "make-mplane-certs: CA, server and two client certificates in $(pwd)" >&2
