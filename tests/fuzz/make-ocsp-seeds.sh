#!/bin/bash
# Regenerates tests/fuzz/corpus/ocsp/ (answers of `openssl ocsp`, a real
# responder) and tests/fuzz/ocsp_chain_pem.h (the leaf and CA they are
# about: fuzz_ocsp's fixed chain, through ocsp_chain.h, which
# tests/unit/test_ocsp.c reads too). Run once
# by hand; the output is committed. Every key is a throwaway made here.
# fuzz_ocsp judges at OCSP_FUZZ_NOW (2027-06-01) and OCSP_FUZZ_LATE
# (2040-01-01): the answers here are good from now for 10 years, so run
# it before 2027-06-01 or move those times.
set -euo pipefail
cd "$(dirname "$0")"
C=corpus/ocsp
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p $C

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
# sign CSR_KEY CN OUT EXTENSIONS: a certificate by the CA, for 10 years
sign() {
	openssl req -new -key "$1" -subj "/CN=$2" 2>/dev/null |
		openssl x509 -req -CA $T/ca.pem -CAkey $T/ca.key -set_serial "0x$(openssl rand -hex 8)" \
			-days 3650 -extfile <(printf '%s\n' "$4") -out "$3" 2>/dev/null
}

key $T/ca.key
openssl req -new -x509 -key $T/ca.key -out $T/ca.pem -subj "/CN=fuzz OCSP CA" -days 7300 \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
key $T/leaf.key
sign $T/leaf.key mail.example.test $T/leaf.pem "subjectAltName=DNS:mail.example.test
authorityKeyIdentifier=keyid"
sign $T/leaf.key other.example.test $T/other.pem "authorityKeyIdentifier=keyid"
key $T/resp.key
sign $T/resp.key "fuzz OCSP responder" $T/resp.pem "extendedKeyUsage=OCSPSigning"
sign $T/resp.key "fuzz OCSP responder" $T/resp-no-eku.pem "extendedKeyUsage=serverAuth"

# index.txt lines: status, expiry (YYMMDDHHMMSSZ), revocation, serial, file, DN
serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
printf 'V\t361231000000Z\t\t%s\tunknown\t/CN=mail.example.test\n' "$(serial $T/leaf.pem)" >$T/good.txt
printf 'R\t361231000000Z\t261201000000Z,keyCompromise\t%s\tunknown\t/CN=mail.example.test\n' \
	"$(serial $T/leaf.pem)" >$T/revoked.txt
: >$T/empty.txt

# answer OUT INDEX SIGNER KEY CERT [ocsp options...]: one response, no nonce
answer() {
	local out=$1 index=$2 signer=$3 rkey=$4 cert=$5
	shift 5
	# options first: a CertID digest (-sha256) must come before -cert
	openssl ocsp "$@" -index "$index" -CA $T/ca.pem -rsigner "$signer" -rkey "$rkey" \
		-issuer $T/ca.pem -cert "$cert" -no_nonce -respout "$C/$out" >/dev/null
}
answer good-ca.der $T/good.txt $T/ca.pem $T/ca.key $T/leaf.pem -ndays 3650
answer good-delegated.der $T/good.txt $T/resp.pem $T/resp.key $T/leaf.pem -ndays 3650
answer good-sha256.der $T/good.txt $T/resp.pem $T/resp.key $T/leaf.pem -ndays 3650 -sha256 -resp_key_id
answer revoked.der $T/revoked.txt $T/ca.pem $T/ca.key $T/leaf.pem -ndays 3650
answer unknown.der $T/empty.txt $T/resp.pem $T/resp.key $T/leaf.pem -ndays 3650
answer no-eku.der $T/good.txt $T/resp-no-eku.pem $T/resp.key $T/leaf.pem -ndays 3650
answer other-leaf.der $T/good.txt $T/ca.pem $T/ca.key $T/other.pem -ndays 3650
faketime '2020-01-01 00:00:00' bash -c "$(declare -f answer); C=$C T=$T; answer expired.der $T/good.txt $T/ca.pem $T/ca.key $T/leaf.pem -ndays 1"
printf '\x30\x03\x0a\x01\x03' >$C/trylater.der

# the chain as one C string, leaf first (ocsp_chain.h reads it)
{
	echo "/* made by tests/fuzz/make-ocsp-seeds.sh: seeds' leaf, then their CA */"
	echo 'static const char ocsp_fuzz_pem[] ='
	sed 's/^/\t"/; s/$/\\n"/' $T/leaf.pem $T/ca.pem
	echo '    ;'
} >ocsp_chain_pem.h
ls -l $C
