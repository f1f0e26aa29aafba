#!/bin/bash
# OCSP staples, answered by a real responder (`openssl ocsp` over an
# index.txt, the test CA's) and stapled by the front's nginx on HTTPS
# (OCSP_STAPLE_FILE -> ssl_stapling_file; nginx's mail module has no
# stapling and dovecot none, so the other eight endpoints say none):
#   good (a delegated responder)  -> ocsp_staple good, ocsp_next_update
#   expired (made 3 days ago)     -> invalid, and a verify.ocsp_staple warning
#   revoked (by the CA itself)    -> revoked: the warning and the metric,
#                                    check still exits 0
# and a rotation under the revoked staple is rotated: the front keeps
# stapling the old leaf's answer, which is invalid for the new leaf.
. "$(dirname "$0")/../lib/lib.sh"

PORT_BASE=${PORT_BASE:-21000}
MPORT=$((PORT_BASE + 900))
HTTPS=https://127.0.0.1:$((PORT_BASE + 443))
IMAPS=imaps://127.0.0.1:$((PORT_BASE + 993))
certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")
openssl x509 -in "$T/a.cert.pem" -out "$T/a.leaf.pem"	# the leaf alone

# a delegated responder: issued by the test CA, with the OCSP signing EKU
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/responder.key" 2>/dev/null
openssl req -new -key "$T/responder.key" -subj "/CN=MCA Test OCSP responder" 2>/dev/null |
	openssl x509 -req -CA "$T/ca.cert.pem" -CAkey "$T/ca.key.pem" -days 30 \
		-set_serial "0x$(openssl rand -hex 8)" -out "$T/responder.pem" \
		-extfile <(printf 'extendedKeyUsage=OCSPSigning\nauthorityKeyIdentifier=keyid\n') 2>/dev/null

# the responder's database: leaf A valid, or revoked an hour ago
serial=$(openssl x509 -in "$T/a.leaf.pem" -noout -serial | cut -d= -f2)
printf 'V\t301231000000Z\t\t%s\tunknown\t/CN=mail.example.test\n' "$serial" >"$T/valid.txt"
printf 'R\t301231000000Z\t%s,keyCompromise\t%s\tunknown\t/CN=mail.example.test\n' \
	"$(date -u -d '1 hour ago' +%y%m%d%H%M%SZ)" "$serial" >"$T/revoked.txt"

# respond OUT INDEX SIGNER_CERT SIGNER_KEY [openssl ocsp options]: A's
# status, as a responder answers it (no nonce: a staple has none);
# AGO=3d runs it that long ago
respond() {
	local out=$1 index=$2 signer=$3 key=$4
	local -a then=()
	shift 4
	[ -z "${AGO:-}" ] || then=(faketime -f "-$AGO")
	"${then[@]}" openssl ocsp "$@" -index "$T/$index" -CA "$T/ca.cert.pem" \
		-rsigner "$T/$signer" -rkey "$T/$key" -issuer "$T/ca.cert.pem" \
		-cert "$T/a.leaf.pem" -no_nonce -respout "$T/$out" >/dev/null
}
next_update() { # FILE: its nextUpdate, RFC 3339
	date -u -d "$(openssl ocsp -respin "$T/$1" -resp_text -noverify 2>/dev/null |
		sed -n 's/^ *Next Update: //p')" +%Y-%m-%dT%H:%M:%SZ
}
respond good.der valid.txt responder.pem responder.key -ndays 1
respond revoked.der revoked.txt ca.cert.pem ca.key.pem -ndays 1
have_faketime=0
if command -v faketime >/dev/null 2>&1; then
	have_faketime=1
	AGO=3d respond expired.der valid.txt ca.cert.pem ca.key.pem -ndays 1
fi

# staple FILE: the front's HTTPS staples FILE from now on (nginx reads
# ssl_stapling_file when it loads its config); waits until openssl sees it
staple() {
	local want i
	install -m 0644 "$T/$1" "$T/certs/ocsp.der"
	docker exec "$FRONT" nginx -s reload >/dev/null 2>&1
	want=$(next_update "$1")
	for i in $(seq 1 50); do
		timeout 5 openssl s_client -connect "127.0.0.1:$((PORT_BASE + 443))" -status \
			</dev/null 2>/dev/null | grep -q "Next Update: $(date -u -d "$want" '+%b %e %T %Y')" &&
			return 0
		sleep 0.2
	done
	fail "HTTPS never stapled $1"
}
# the verify.endpoint field of HTTPS / of an endpoint, in run LOG
field() { events "$1" "select(.event==\"verify.endpoint\" and .endpoint==\"${3:-$HTTPS}\") | .$2" | tail -n 1; }

mkdir -p "$T/certs"
install -m 0644 "$T/good.der" "$T/certs/ocsp.der"
bed_start a -e OCSP_STAPLE_FILE=/certs/ocsp.der

# good: from a delegated responder, with its nextUpdate
# shellcheck disable=SC2046
agent_run good check $(bed_env)
assert_json_lines good
assert_eq 0 "$AGENT_RC" "check exit code (good staple)"
assert_eq '"good"' "$(field good ocsp_staple)" "HTTPS staple"
assert_eq "\"$(next_update good.der)\"" "$(field good ocsp_next_update)" "ocsp_next_update"
assert_eq 8 "$(events good 'select(.event=="verify.endpoint" and .ocsp_staple=="none" and (has("ocsp_next_update") | not))' | wc -l)" "endpoints without a staple"
assert_eq 0 "$(event_count good verify.ocsp_staple)" "warnings for a good staple"

# expired: invalid, a warning; the check itself is fine
if [ $have_faketime = 1 ]; then
	staple expired.der
	# shellcheck disable=SC2046
	agent_run expired check $(bed_env)
	assert_eq 0 "$AGENT_RC" "check exit code (expired staple)"
	assert_eq '"invalid"' "$(field expired ocsp_staple)" "HTTPS staple"
	assert_eq "\"$(next_update expired.der)\"" "$(field expired ocsp_next_update)" "expired nextUpdate"
	assert_contains "$(field expired ocsp_detail)" "expired: nextUpdate" "detail"
	assert_eq '"warn"' "$(events expired 'select(.event=="verify.ocsp_staple" and .ocsp_staple=="invalid") | .level')" "warning"
	assert_eq '"ok"' "$(events expired 'select(.event=="check.done") | .status')" "check status"
else
	log "no faketime: the expired staple is left out"
fi

# revoked: a warning and the metric, never a failure
staple revoked.der
# shellcheck disable=SC2046
agent_run revoked check $(bed_env)
assert_eq 0 "$AGENT_RC" "check exit code (revoked staple)"
assert_eq '"revoked"' "$(field revoked ocsp_staple)" "HTTPS staple"
assert_eq true "$(field revoked match)" "HTTPS still matches"
assert_contains "$(field revoked ocsp_detail)" "keyCompromise" "revocation reason"
assert_eq 1 "$(events revoked "select(.event==\"verify.ocsp_staple\" and .level==\"warn\" and .endpoint==\"$HTTPS\" and .ocsp_staple==\"revoked\" and .fingerprint==\"$fp_a\")" | wc -l)" "verify.ocsp_staple"
assert_eq '"ok"' "$(events revoked 'select(.event=="check.done") | .status')" "check status"

# the daemon: the metric says revoked; a rotation to B under the revoked
# staple is rotated, and A's answer is invalid for B
src_write a
# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" \
	--poll-interval=1s --metrics-listen=127.0.0.1:$MPORT
wait_event run '.event=="verify.endpoint"' 30 9
scrape() { curl -sf --max-time 5 "http://127.0.0.1:$MPORT/metrics" >"$T/$1.prom"; }
val() { awk -v m="$2" 'index($0, m" ") == 1 { print $NF }' "$T/$1.prom"; }
# both pairs are ECDSA: one key type asked for
staple_series() { echo "mailu_cert_agent_endpoint_ocsp_staple{endpoint=\"$1\",key_type=\"ecdsa\",status=\"$2\"}"; }
scrape m0
assert_eq 1 "$(val m0 "$(staple_series "$HTTPS" revoked)")" "HTTPS staple metric"
assert_eq 1 "$(val m0 "$(staple_series "$IMAPS" none)")" "IMAPS staple metric"
assert_eq 9 "$(grep -c '^mailu_cert_agent_endpoint_ocsp_staple{' "$T/m0.prom")" "staple series"
src_write b
wait_event run '.event=="cycle.done"' 60
assert_eq '"rotated"' "$(events run 'select(.event=="cycle.done") | .outcome')" "outcome under a revoked staple"
c=$(events run 'select(.event=="cycle.done") | .cycle' | head -1)
https_b=$(events run "select(.cycle==$c and .event==\"verify.endpoint\" and .endpoint==\"$HTTPS\" and .match==true)" | tail -n 1)
assert_eq "\"$fp_b\"" "$(jq '.fingerprint' <<<"$https_b")" "HTTPS serves B"
assert_eq '"invalid"' "$(jq '.ocsp_staple' <<<"$https_b")" "A's staple for B"
assert_eq '"no response for the served leaf"' "$(jq '.ocsp_detail' <<<"$https_b")" "why"
scrape m1
assert_eq 1 "$(val m1 "$(staple_series "$HTTPS" invalid)")" "HTTPS staple metric after"
assert_eq "" "$(val m1 "$(staple_series "$HTTPS" revoked)")" "no revoked series left"
agent_stop "$AGENT_PID" run
assert_json_lines run
pass
