#!/usr/bin/env bash
# Builds a large Traefik store (acme.json) for timing acme-select.
#
#   tests/tools/acme-store.sh OUT N [v1|v2] [RESOLVERS]
#
# N entries shaped as Let's Encrypt issued them until 2024: a leaf for
# hostI.example.test (SAN: hostI and www.hostI), then an RSA-2048
# intermediate and an RSA-4096 root cross-signed by an older root. The
# leaf key is RSA-4096, Traefik's default key type (KEYBITS=2048 for
# smaller), 4 keys shared round-robin: key generation would dominate,
# and only the chosen key is ever decoded. About 11 KB per entry
# (8.8 KB with KEYBITS=2048), so N=1000 is about 11 MB. Leaves are valid from now for 90
# days. With v2 the entries go round-robin into RESOLVERS
# resolvers (default 1), named le0, le1, ... Written through
# tests/lib/acme-json-fixture.py. Needs openssl and python3; N=1000
# takes about 15 s on 2 cores.
set -euo pipefail

out=${1:?usage: acme-store.sh OUT N [v1|v2] [RESOLVERS]}
n=${2:?usage: acme-store.sh OUT N [v1|v2] [RESOLVERS]}
layout=${3:-v2}
nres=${4:-1}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fixture=$here/../lib/acme-json-fixture.py
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

ossl() { openssl "$@" 2>/dev/null; }
key() { ossl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$t/$1.key"; }

key oldroot 2048
key root 4096
key inter 2048
for k in 0 1 2 3; do key leaf$k "${KEYBITS:-4096}"; done
key account 2048
ossl req -x509 -new -key "$t/oldroot.key" -subj "/O=Old Trust/CN=Old Root CA X3" \
	-days 9000 -out "$t/oldroot.pem"
# the root, as the cross-signed copy that used to follow the chain
ossl req -new -key "$t/root.key" -subj "/O=Test Security Group/CN=Test Root X1" -out "$t/root.csr"
printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$t/ca.ext"
ossl x509 -req -in "$t/root.csr" -CA "$t/oldroot.pem" -CAkey "$t/oldroot.key" \
	-set_serial 1 -days 3000 -extfile "$t/ca.ext" -out "$t/root.pem"
ossl req -x509 -new -key "$t/root.key" -subj "/O=Test Security Group/CN=Test Root X1" \
	-days 9000 -out "$t/root-self.pem"
ossl req -new -key "$t/inter.key" -subj "/C=US/O=Test Encrypt/CN=R3" -out "$t/inter.csr"
printf 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,digitalSignature,keyCertSign,cRLSign\nextendedKeyUsage=serverAuth,clientAuth\n' >"$t/inter.ext"
ossl x509 -req -in "$t/inter.csr" -CA "$t/root-self.pem" -CAkey "$t/root.key" \
	-set_serial 2 -days 2000 -extfile "$t/inter.ext" -out "$t/inter.pem"
for k in 0 1 2 3; do
	ossl req -new -key "$t/leaf$k.key" -subj "/CN=placeholder" -out "$t/leaf$k.csr"
done

# Leaves in parallel batches: one openssl per certificate.
leaf() {
	local i=$1 k=$(($1 % 4)) h="host$1.example.test"
	printf 'basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:%s,DNS:www.%s\nauthorityInfoAccess=OCSP;URI:http://r3.o.lencr.example/,caIssuers;URI:http://r3.i.lencr.example/\ncertificatePolicies=2.23.140.1.2.1\n' \
		"$h" "$h" >"$t/$i.ext"
	openssl x509 -req -in "$t/leaf$k.csr" -CA "$t/inter.pem" -CAkey "$t/inter.key" \
		-set_serial "$((1000 + i))" -days 90 -subj "/CN=$h" -extfile "$t/$i.ext" \
		-out "$t/$i.leaf" 2>/dev/null
	cat "$t/$i.leaf" "$t/inter.pem" "$t/root.pem" >"$t/$i.pem"
}
for ((i = 0; i < n; i++)); do
	leaf "$i" &
	(((i + 1) % 8 == 0)) && wait
done
wait

args=()
for ((i = 0; i < n; i++)); do
	args+=(--entry "le$((i % nres)):$t/$i.pem:$t/leaf$((i % 4)).key:host$i.example.test,www.host$i.example.test")
done
python3 "$fixture" --layout "$layout" --account-key "$t/account.key" "${args[@]}" >"$out"
