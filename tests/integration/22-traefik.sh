#!/bin/bash
# Traefik's acme.json as the source (traefik:FILE#RESOLVER), against the
# real front. (1) A v2 store with two resolvers and several domains, an
# expired older entry and a wildcard: the newest valid entry of the named
# resolver that covers HOSTNAMES is installed and served on all nine
# ports. (2) Traefik rewriting the file in place (truncated first, whole
# 1 s later): no rejection, one rotation to the new certificate. (3) Only
# other hosts' entries in the resolver (a covering one in the other
# resolver): hostname_mismatch, CERTS_DIR unchanged. (4) A store cut
# inside a key, with `once`: bad_acme_json. (5) A v1 store without a
# resolver, with `once`. (6) No log holds any base64 of the account key
# or of a domain key.
. "$(dirname "$0")/../lib/lib.sh"
require_cmd python3
FIX=$MCA_TESTLIB/acme-json-fixture.py

N=mail.example.test
now=$(date -u +%s)
d() { date -u -d "@$((now + $1 * 86400))" +%Y%m%d%H%M%SZ; }
certs_leaf "$T" a ec256 60 "$N"
certs_leaf_dates "$T" old ec256 "$(d -100)" "$(d -10)" "$N"	# expired, older
certs_leaf "$T" cur ec256 80 "$N,smtp.example.test"
certs_leaf "$T" wild ec256 90 "*.example.test"		# the newest that covers N
certs_leaf "$T" web ec256 95 "www.example.org"
certs_leaf "$T" staging ec256 120 "$N"			# newer, but in the other resolver
certs_leaf "$T" new ec256 100 "$N"
certs_leaf "$T" other ec256 110 "other.example.test"
certs_leaf "$T" v1 ec256 110 "$N"
(umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$T/account.key.pem" 2>/dev/null)
bed_start a
fp_wild=$(certs_fp "$T/wild.cert.pem")
fp_new=$(certs_fp "$T/new.cert.pem")
fp_v1=$(certs_fp "$T/v1.cert.pem")

TR=$T/traefik
mkdir -p "$TR"
# doc LAYOUT [RESOLVER:PREFIX[:MAIN[,SAN...]] | --fixture-flag=VALUE]...: a store
# holding $T/PREFIX.{cert,key}.pem, from tests/lib/acme-json-fixture.py
doc() {
	local layout=$1 x r p n
	local -a a=()
	shift
	for x in "$@"; do
		case $x in --*) a+=("$x"); continue ;; esac
		IFS=: read -r r p n <<<"$x"
		a+=("--entry=$r:$T/$p.cert.pem:$T/$p.key.pem${n:+:$n}")
	done
	"$FIX" --layout "$layout" --account-key "$T/account.key.pem" "${a[@]}"
}
doc1() {
	doc v2 "myresolver:old:$N" "myresolver:cur:$N,smtp.example.test" \
		myresolver:web:www.example.org "myresolver:wild:*.example.test" \
		"le-staging:staging:$N"
}
doc2() { # Traefik renewed mail.example.test: the wildcard entry was replaced
	doc v2 "myresolver:old:$N" "myresolver:cur:$N,smtp.example.test" \
		myresolver:web:www.example.org "myresolver:new:$N" \
		"le-staging:staging:$N" "$@"
}
doc1 >"$TR/acme.json"
chmod 0600 "$TR/acme.json"
snapshot() { (cd "$T/certs" && sha256sum cert.pem key.pem); }

# (1) the right entry, from the start
# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=traefik:$TR/acme.json#myresolver" \
	--poll-interval=1s --settle-timeout=10s
wait_event run '.event=="cycle.done"' 60
assert_eq '"rotated"' "$(events run 'select(.event=="cycle.done") | .outcome')" "outcome (1)"
c=$(events run 'select(.event=="cycle.done") | .cycle')
assert_eq 9 "$(events run "select(.cycle==$c and .event==\"verify.endpoint\" and .match==true and .fingerprint==\"$fp_wild\")" | wc -l)" "verified endpoints (1)"
assert_all_serve "$fp_wild"
cmp "$T/certs/cert.pem" "$T/wild.cert.pem" || fail "cert.pem is not the wildcard entry's chain"
cmp "$T/certs/key.pem" "$T/wild.key.pem" || fail "key.pem is not the wildcard entry's key"
assert_eq 600 "$(stat -c %a "$T/certs/key.pem")" "key mode"

# (2) Traefik rewrites the file in place: cut inside an entry, whole 1 s later
len=$(doc2 | wc -c)
doc2 "--truncate=$((len / 2))" >"$TR/acme.json"
sleep 1
doc2 >"$TR/acme.json"
wait_event run '.event=="cycle.done"' 60 2
assert_eq 0 "$(event_count run cert.rejected)" "rejections of a file mid-write"
assert_eq '"rotated"' "$(events run 'select(.event=="cycle.done") | .outcome' | tail -1)" "outcome (2)"
assert_all_serve "$fp_new"
sleep 2
assert_eq 2 "$(event_count run cycle.done)" "cycles after one rewrite"

# (3) the resolver holds only other hosts' entries
before=$(snapshot)
execs=$(exec_count)
doc v2 myresolver:other:other.example.test myresolver:web:www.example.org \
	"le-staging:staging:$N" >"$TR/acme.json"
wait_event run '.event=="cert.rejected"' 60
assert_eq '"hostname_mismatch"' "$(events run 'select(.event=="cert.rejected") | .reason')" "reason (3)"
sleep 2
assert_eq 1 "$(event_count run cert.rejected)" "rejections of an unchanged file"
assert_eq "$before" "$(snapshot)" "CERTS_DIR after hostname_mismatch"
assert_eq "$execs" "$(exec_count)" "execs after hostname_mismatch"
assert_all_serve "$fp_new"
assert_json_lines run
agent_stop "$AGENT_PID" run

# (4) a store cut inside a key, read by `once` (no settle wait)
doc1 >"$TR/full.json"
off=$(grep -bo '"key": "' "$TR/full.json" | head -1 | cut -d: -f1)
head -c $((off + 60)) "$TR/full.json" >"$TR/cut.json"
before=$(snapshot)
# shellcheck disable=SC2046
agent_run cut once $(rotate_env) "--source=traefik:$TR/cut.json#myresolver"
assert_eq 1 "$AGENT_RC" "once exit code (cut store)"
assert_eq '"bad_acme_json"' "$(events cut 'select(.event=="cert.rejected") | .reason')" "reason (4)"
assert_eq "$before" "$(snapshot)" "CERTS_DIR after bad_acme_json"

# (5) v1, no resolver, one cycle
doc v1 :other:other.example.test ":v1:$N" ":old:$N" >"$TR/acme-v1.json"
# shellcheck disable=SC2046
agent_run v1 once $(rotate_env) "--source=traefik:$TR/acme-v1.json"
assert_eq 0 "$AGENT_RC" "once exit code (v1)"
assert_eq '"rotated"' "$(events v1 'select(.event=="cycle.done") | .outcome')" "outcome (5)"
assert_all_serve "$fp_v1"

# (6) no key material in any log: windows of each key's base64, in the
# three forms it could leak in (base64 of the PEM as in acme.json, the PEM
# body, the account's DER), past the headers that all keys share
leaks=0
for k in "$T"/*.key.pem; do	# the account key, the CA key, every domain key
	pem64=$(base64 -w0 <"$k")
	body=$(grep -v -- '-----' "$k" | tr -d '\n')
	for w in "${pem64:80:40}" "${pem64:160:40}" "${pem64:240:40}" "${body:60:40}" "${body:120:40}"; do
		[ ${#w} -ge 24 ] || continue
		if grep -rlF -- "$w" "$T"/*.log; then
			log "key bytes of $(basename "$k") found in the log above"
			leaks=$((leaks + 1))
		fi
	done
done
assert_eq 0 "$leaks" "key windows found in logs"
if grep -lE 'PRIVATE KEY|LS0tLS1CRUdJTiBQUklW' "$T"/*.log; then fail "key material in a log"; fi
pass
