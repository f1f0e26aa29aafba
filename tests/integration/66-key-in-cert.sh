#!/bin/bash
# A certificate file that also carries the private key (a combined PEM:
# lego --pem, HAProxy-style bundles, hand-made files), through every source
# kind: certs-dir, pair, certbot, lego, k8s-secret, traefik. Each rotates,
# reports cert.split (reason key_in_certificate), and afterwards no file
# the agent wrote that group or others may read (under the certs dir and
# the state dir) holds a byte of any key, in any form key-needles.py makes.
# The key files stay 0600. With certs-dir the served cert.pem is the ACME
# client's own file: the event says others can read it, and only it is
# left out of the scan while it is served.
. "$(dirname "$0")/../lib/lib.sh"
require_cmd python3

N=mail.example.test
# each pair expires later than the one before: every step is newer
certs_leaf "$T" a ec256 60 "$N"
certs_leaf "$T" b rsa 70 "$N"
certs_leaf "$T" c ec256 80 "$N"
certs_leaf "$T" d rsa 90 "$N"
certs_leaf "$T" e ec384 100 "$N"
certs_leaf "$T" f ec256 110 "$N"
certs_leaf "$T" g rsa 120 "$N"
SCAN=$MCA_TESTLIB/key-needles.py
python3 "$SCAN" make "$T"/{a,b,c,d,e,f,g}.key.pem >"$T/needles.tsv" || fail "key-needles make"

# combined PREFIX ORDER: $T/PREFIX.comb.pem, the key first, last, or
# between the leaf and its issuer
combined() {
	case $2 in
	first) cat "$T/$1.key.pem" "$T/$1.cert.pem" ;;
	last) cat "$T/$1.cert.pem" "$T/$1.key.pem" ;;
	middle) openssl x509 -in "$T/$1.cert.pem"; cat "$T/$1.key.pem" "$T/ca.cert.pem" ;;
	esac >"$T/$1.comb.pem"
	grep -q 'PRIVATE KEY' "$T/$1.comb.pem" || fail "combined $1: no key in it"
}

# scan STEP [EXCEPT]: every file under the certs and state dirs with a
# group or other read bit (but EXCEPT) holds no key material; the state
# dir's current/cert.pem is among them, so the scan is never empty
scan() {
	local files=() f
	while IFS= read -r f; do
		[ "$f" = "${2:-}" ] || files+=("$f")
	done < <(find "$T/certs" "$T/state" -type f -perm /044 | sort)
	printf '%s\n' "${files[@]}" | grep -qx "$T/state/current/cert.pem" ||
		fail "$1: current/cert.pem not among the readable files: ${files[*]}"
	if ! python3 "$SCAN" scan "$T/needles.tsv" "${files[@]}" >"$T/leaks.$1.out"; then
		cat "$T/leaks.$1.out" >&2
		fail "$1: key material in a file others can read"
	fi
	grep -l 'PRIVATE KEY' "${files[@]}" >&2 && fail "$1: a PRIVATE KEY block in a file others can read"
	f=$(find "$T/certs" "$T/state" -name key.pem ! -perm 0600 -printf '%p %m ')
	[ -z "$f" ] || fail "$1: key files not 0600: $f"
	log "$1: ${#files[@]} readable files, no key bytes"
}

# rotated STEP PREFIX WRITTEN: once's outcome, its cert.split, what is served
rotated() {
	assert_eq 0 "$AGENT_RC" "$1: once exit code"
	assert_eq '"rotated"' "$(events "$1" 'select(.event=="cycle.done") | .outcome')" "$1: outcome"
	assert_eq "\"key_in_certificate\" $3" \
		"$(events "$1" 'select(.event=="cert.split") | "\(.reason|tojson) \(.written)"' | jq -r .)" "$1: cert.split"
	assert_all_serve "$(certs_fp "$T/$2.cert.pem")"
}

bed_start a
umask 000 # no mode may come from the umask

# certs-dir: the ACME client itself writes a combined cert.pem, 0644
combined b first
install -m 0644 "$T/b.comb.pem" "$T/certs/cert.pem"
install -m 0600 "$T/b.key.pem" "$T/certs/key.pem"
# shellcheck disable=SC2046
agent_run certsdir once $(rotate_env) --source=certs-dir
rotated certsdir b false
assert_eq true "$(events certsdir 'select(.event=="cert.split") | .readable_by_others')" "certs-dir: readable_by_others"
scan certsdir "$T/certs/cert.pem"
# check sees the key others can read in the client's file: a warning
# shellcheck disable=SC2046
agent_run exposed check $(bed_env)
assert_eq 1 "$AGENT_RC" "check with a readable key in cert.pem: exit code"
assert_eq '"world-readable"' "$(events exposed 'select(.event=="check.key_exposed") | .mode')" "check.key_exposed"

# pair: one combined file as both the cert and the key
mkdir -p "$T/src"
combined c last
cp "$T/c.comb.pem" "$T/src/comb.pem"
# shellcheck disable=SC2046
agent_run pair once $(rotate_env) "--source=pair:$T/src/comb.pem,$T/src/comb.pem"
rotated pair c true
scan pair

# certbot: live/ links into archive/, fullchain1.pem combined
L=$T/le
mkdir -p "$L/archive/mail" "$L/live/mail"
combined d middle
cp "$T/d.comb.pem" "$L/archive/mail/fullchain1.pem"
cp "$T/d.key.pem" "$L/archive/mail/privkey1.pem"
ln -s ../../archive/mail/fullchain1.pem "$L/live/mail/fullchain.pem"
ln -s ../../archive/mail/privkey1.pem "$L/live/mail/privkey.pem"
# shellcheck disable=SC2046
agent_run certbot once $(rotate_env) "--source=certbot:$L/live/mail"
rotated certbot d true
scan certbot

# lego: DOMAIN.crt combined
mkdir -p "$T/lego/certificates"
combined e first
cp "$T/e.comb.pem" "$T/lego/certificates/$N.crt"
cp "$T/e.key.pem" "$T/lego/certificates/$N.key"
# shellcheck disable=SC2046
agent_run lego once $(rotate_env) "--source=lego:$T/lego/$N"
rotated lego e true
scan lego

# k8s-secret: tls.crt combined
combined f last
cp "$T/f.comb.pem" "$T/fk.cert.pem"
cp "$T/f.key.pem" "$T/fk.key.pem"
mkdir -p "$T/secret"
kubelet_write "$T/secret" fk
# shellcheck disable=SC2046
agent_run k8s once $(rotate_env) "--source=k8s-secret:$T/secret"
rotated k8s f true
scan k8s

# traefik: the store's "certificate" is base64 of a combined PEM
combined g last
mkdir -p "$T/traefik"
python3 "$MCA_TESTLIB/acme-json-fixture.py" --layout v2 --resolver r \
	--entry "r:$T/g.comb.pem:$T/g.key.pem:$N" --account-key "$T/a.key.pem" >"$T/traefik/acme.json"
chmod 0600 "$T/traefik/acme.json"
# shellcheck disable=SC2046
agent_run traefik once $(rotate_env) "--source=traefik:$T/traefik/acme.json#r"
rotated traefik g true
scan traefik

# the agent's own cert.pem is the certificates only, and still g's chain
assert_eq "$(openssl crl2pkcs7 -nocrl -certfile "$T/g.cert.pem" | openssl pkcs7 -print_certs | grep -c BEGIN)" \
	"$(grep -c 'BEGIN CERTIFICATE' "$T/certs/cert.pem")" "certificates in the served cert.pem"
disk_pair_matches || fail "the served cert.pem and key.pem do not belong together"
# shellcheck disable=SC2046
agent_run clean check $(bed_env)
assert_eq 0 "$AGENT_RC" "check after the agent wrote cert.pem: exit code"
assert_eq 0 "$(event_count clean check.key_exposed)" "check.key_exposed after"
assert_eq 644 "$(stat -c %a "$T/certs/cert.pem")" "served cert.pem mode"
assert_eq 600 "$(stat -c %a "$T/certs/key.pem")" "served key.pem mode"
pass
