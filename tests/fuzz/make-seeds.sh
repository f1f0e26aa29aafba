#!/bin/bash
# Regenerates the PEM-based seed files of tests/fuzz/corpus/{cert,acme_json}
# with openssl (and faketime for an expired certificate). Run once by hand;
# the output is committed. Every key is a throwaway made here, of no value.
# The fuzz targets judge dates against a fixed "now" of 2027-06-01, so the
# valid certificates here must cover that day (10 years from generation).
set -euo pipefail
cd "$(dirname "$0")"
C=corpus
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p $C/cert $C/acme_json

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:"$2" -out "$1" 2>/dev/null; }
# self-signed leaf: cert KEY OUT CN SANS DAYS
leaf() {
	openssl req -new -x509 -key "$1" -out "$2" -subj "/CN=$3" -days "$5" \
	    -addext "subjectAltName=$4" -addext "basicConstraints=CA:FALSE" 2>/dev/null
}

# A CA and a leaf it signed, P-256.
ec_key $T/ca.key prime256v1
openssl req -new -x509 -key $T/ca.key -out $T/ca.pem -subj "/CN=fuzz test CA" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null
ec_key $T/leaf.key prime256v1
openssl req -new -key $T/leaf.key -subj "/CN=mail.example.test" -out $T/leaf.csr 2>/dev/null
printf 'subjectAltName=DNS:mail.example.test,DNS:example.test\nbasicConstraints=CA:FALSE\n' >$T/ext
openssl x509 -req -in $T/leaf.csr -CA $T/ca.pem -CAkey $T/ca.key -CAcreateserial \
    -days 3650 -extfile $T/ext -out $T/leaf.pem 2>/dev/null

# cert: a chain + its key (combined PEM), a bare chain, other key kinds.
cat $T/leaf.pem $T/ca.pem $T/leaf.key >$C/cert/combined-ec-chain.pem
cat $T/leaf.pem $T/ca.pem >$C/cert/chain-only.pem
openssl pkey -in $T/leaf.key -traditional -out $T/leaf-trad.key 2>/dev/null
cat $T/leaf.pem $T/leaf-trad.key >$C/cert/ec-traditional-key.pem
ec_key $T/p384.key secp384r1
leaf $T/p384.key $T/p384.pem "*.example.test" "DNS:*.example.test,DNS:example.test" 3650
cat $T/p384.pem $T/p384.key >$C/cert/p384-wildcard.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out $T/rsa.key 2>/dev/null
openssl pkey -in $T/rsa.key -traditional -out $T/rsa-trad.key 2>/dev/null
leaf $T/rsa.key $T/rsa.pem mail.example.test "DNS:mail.example.test" 3650
cat $T/rsa.pem $T/rsa-trad.key >$C/cert/rsa1024-weak.pem
openssl pkey -in $T/leaf.key -aes128 -passout pass:x -out $T/enc.key 2>/dev/null
cat $T/leaf.pem $T/enc.key >$C/cert/encrypted-key.pem
ec_key $T/old.key prime256v1
faketime '2020-01-01 00:00:00' openssl req -new -x509 -key $T/old.key -out $T/old.pem \
    -subj "/CN=mail.example.test" -days 30 -addext "subjectAltName=DNS:mail.example.test" 2>/dev/null
cat $T/old.pem $T/old.key >$C/cert/expired.pem
cat $T/rsa.pem $T/leaf.key >$C/cert/key-mismatch.pem

# acme_json: Traefik's stores (v1, v2/v3 with two resolvers, empty).
b64() { base64 -w0 "$1"; }
cat $T/leaf.pem $T/ca.pem >$T/chain.pem
cat >$C/acme_json/v2-two-resolvers.json <<EOF
{
  "le": {
    "Account": {"Email": "admin@example.test", "Registration": {"body": {"status": "valid"}, "uri": "https://acme.test/acct/1"}, "PrivateKey": "$(b64 $T/ca.key)", "KeyType": "4096"},
    "Certificates": [
      {"domain": {"main": "mail.example.test", "sans": ["example.test"]}, "certificate": "$(b64 $T/chain.pem)", "key": "$(b64 $T/leaf.key)", "Store": "default"},
      {"domain": {"main": "mail.example.test"}, "certificate": "$(b64 $T/old.pem)", "key": "$(b64 $T/old.key)", "Store": "default"}
    ]
  },
  "other": {
    "Account": null,
    "Certificates": [
      {"domain": {"main": "*.example.test", "sans": ["example.test"]}, "certificate": "$(b64 $T/p384.pem)", "key": "$(b64 $T/p384.key)", "Store": "default"}
    ]
  }
}
EOF
cat >$C/acme_json/v1.json <<EOF
{"Account": {"Email": "admin@example.test", "PrivateKey": "$(b64 $T/ca.key)"},
 "Certificates": [{"Domain": {"Main": "mail.example.test", "SANs": ["example.test"]},
  "Certificate": "$(b64 $T/leaf.pem)", "Key": "$(b64 $T/leaf-trad.key)"}],
 "HTTPChallenges": {}, "TLSChallenges": {}}
EOF
cat >$C/acme_json/v2-expired-only.json <<EOF
{"le": {"Account": null, "Certificates": [{"domain": {"main": "mail.example.test"}, "certificate": "$(b64 $T/old.pem)", "key": "$(b64 $T/old.key)", "Store": "default"}]}}
EOF
printf '{"le": {"Account": {"Email": "a@example.test"}, "Certificates": null}}\n' \
    >$C/acme_json/v2-no-certificates.json
ls -l $C/cert $C/acme_json
