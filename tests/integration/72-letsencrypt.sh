#!/bin/bash
# Mailu's letsencrypt flavor on the Mailu-shaped front (issue 14): the front
# serves two certbot lineages, live/mailu (RSA) and live/mailu-ecdsa
# (ECDSA), on every endpoint; a client's signature algorithms pick one.
#   1. check --tls-flavor=letsencrypt: exit 0 when both are fresh (18 probes,
#      one per endpoint and key type); the RSA lineage renewed and nginx only
#      reloaded -> exit 2, the seven dovecot endpoints unmatched for key_type
#      rsa and nothing else; after `dovecot reload` -> 0. The same for the
#      ECDSA lineage.
#   2. the daemon in that flavor with real pebble and certbot (two lineages
#      issued as Mailu's front issues them, Mailu's post-hook making
#      nginx-chain.pem): `certbot renew --cert-name mailu-ecdsa` is seen,
#      the front reloaded, both key types verified on all nine endpoints;
#      the agent writes nothing in the certs dir.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/acme.sh"
require_cmd pebble certbot
# shellcheck disable=SC2086 # the PROTOS lists are split on purpose

export FRONT_KIND=mailu FRONT_CERT_WATCHER=0
RSA_ONLY=RSA-PSS+SHA256:RSA+SHA256
ECDSA_ONLY=ECDSA+SHA256
HOSTNAME_SNI=mail.example.test
NGINX_PROTOS="https smtp"
DOVECOT_PROTOS="smtps submission imaps imap pop3s pop3 sieve"

# le_front NAME CERTS_DIR PORT_BASE: a Mailu-shaped front in the letsencrypt
# flavor; sets FRONT, PORT_BASE, ENDPOINTS
le_front() {
	FRONT=$1 PORT_BASE=$3
	front_start "$FRONT" "$2" "$PORT_BASE" -e TLS_FLAVOR=letsencrypt >/dev/null
	at_exit front_stop "$FRONT" "$T/$FRONT.docker.log"
	front_wait "$FRONT" "$PORT_BASE" 60 || fail "the letsencrypt front $FRONT did not come up"
	ENDPOINTS=$(front_endpoints "$PORT_BASE")
}
# serves SIGALGS FP PROTOS...: every PROTO serves FP to a client offering
# only SIGALGS (10 s for a reload to land)
serves() {
	local algs=$1 fp=$2
	shift 2
	FRONT_SIGALGS=$algs wait_served "$fp" "$@"
}
# the dovecot endpoints' URLs, sorted, as the agent names them
urls_of() {
	local p u out=()
	for p in "$@"; do
		for u in ${ENDPOINTS//,/ }; do
			case $u in *:"$(front_port "$p" "$PORT_BASE")") out+=("$u") ;; esac
		done
	done
	printf '%s\n' "${out[@]}" | sort
}
le_check() { # LOGNAME CERTS_DIR
	agent_run "$1" check "--certs-dir=$2" "--hostnames=$HOSTNAME_SNI" "--endpoints=$ENDPOINTS" \
		--probe-timeout=5s --tls-flavor=letsencrypt
	assert_json_lines "$1"
}
# stale_after LOGNAME TYPE: check found exactly dovecot's seven endpoints
# stale for key type TYPE, everything else matching
stale_after() {
	assert_eq 2 "$AGENT_RC" "check exit code, $2 lineage renewed, nginx reloaded only"
	assert_eq 18 "$(event_count "$1" verify.endpoint)" "probes (nine endpoints, two key types)"
	local bad
	bad=$(events "$1" 'select(.event=="verify.endpoint" and .match==false)')
	assert_eq 7 "$(jq -s length <<<"$bad")" "unmatched probes"
	assert_eq "$2" "$(jq -r .key_type <<<"$bad" | sort -u)" "their key type"
	assert_eq dovecot "$(jq -r .service <<<"$bad" | sort -u)" "their daemon"
	assert_eq "$(urls_of $DOVECOT_PROTOS)" "$(jq -r .endpoint <<<"$bad" | sort)" "their endpoints"
	assert_eq 'critical 18' "$(events "$1" 'select(.event=="check.done") | "\(.status) \(.probes)"' | jq -r .)" "check.done status and probes"
}

# --- 1. check --------------------------------------------------------------------
certs_ca "$T/pki"
certs_leaf "$T/pki" R1 rsa 90 "$HOSTNAME_SNI" &
certs_leaf "$T/pki" R2 rsa 90 "$HOSTNAME_SNI" &
certs_leaf "$T/pki" E1 ec256 90 "$HOSTNAME_SNI" &
certs_leaf "$T/pki" E2 ec256 90 "$HOSTNAME_SNI" &
wait
for k in R1 R2 E1 E2; do declare "FP_$k=$(certs_fp "$T/pki/$k.cert.pem")"; done
mkdir -p "$T/certs"
le_lineage "$T/certs" mailu "$T/pki/R1"
le_lineage "$T/certs" mailu-ecdsa "$T/pki/E1"
le_front "mca-it-$TEST_NAME" "$T/certs" 21000

le_check check-fresh "$T/certs"
assert_eq 0 "$AGENT_RC" "check exit code, both lineages fresh"
assert_eq 9 "$(events check-fresh "select(.event==\"verify.endpoint\" and .match and .key_type==\"rsa\" and .fingerprint==\"$FP_R1\")" | wc -l)" "RSA probes matching mailu"
assert_eq 9 "$(events check-fresh "select(.event==\"verify.endpoint\" and .match and .key_type==\"ecdsa\" and .fingerprint==\"$FP_E1\")" | wc -l)" "ECDSA probes matching mailu-ecdsa"
assert_eq 2 "$(event_count check-fresh check.installed)" "check.installed, one per lineage"
[ ! -e "$T/certs/cert.pem" ] || fail "check wrote cert.pem in the letsencrypt flavor"

# the RSA lineage renewed, nginx alone reloaded: the old bug, for RSA clients
le_lineage "$T/certs" mailu "$T/pki/R2"
docker exec "$FRONT" nginx -s reload
serves "$RSA_ONLY" "$FP_R2" $NGINX_PROTOS
le_check check-rsa-stale "$T/certs"
stale_after check-rsa-stale rsa
docker exec "$FRONT" dovecot reload
serves "$RSA_ONLY" "$FP_R2" $DOVECOT_PROTOS
le_check check-rsa-healed "$T/certs"
assert_eq 0 "$AGENT_RC" "check exit code after dovecot reload (RSA)"

# the same with the ECDSA lineage
le_lineage "$T/certs" mailu-ecdsa "$T/pki/E2"
docker exec "$FRONT" nginx -s reload
serves "$ECDSA_ONLY" "$FP_E2" $NGINX_PROTOS
le_check check-ecdsa-stale "$T/certs"
stale_after check-ecdsa-stale ecdsa
docker exec "$FRONT" dovecot reload
serves "$ECDSA_ONLY" "$FP_E2" $DOVECOT_PROTOS
le_check check-ecdsa-healed "$T/certs"
assert_eq 0 "$AGENT_RC" "check exit code after dovecot reload (ECDSA)"
assert_eq 18 "$(events check-ecdsa-healed "select(.event==\"verify.endpoint\" and .match and (.fingerprint==\"$FP_R2\" or .fingerprint==\"$FP_E2\"))" | wc -l)" "probes matching R2 and E2"
front_stop "$FRONT" "$T/$FRONT.docker.log"
log "check: fresh 0, RSA stale on dovecot 2, healed 0, ECDSA stale 2, healed 0"

# --- 2. the daemon, pebble and certbot --------------------------------------------
pebble_start
LE=$T/le-certs/letsencrypt
mkdir -p "$T/le-certs"
export CERTBOT_POST_HOOK="$MCA_ROOT/tests/tools/mailu-le-chains.sh $LE/live/mailu $LE/live/mailu-ecdsa"
CERTBOT_KEY_TYPE=rsa certbot_issue "$LE" mailu "$HOSTNAME_SNI"
CERTBOT_KEY_TYPE=ecdsa certbot_issue "$LE" mailu-ecdsa "$HOSTNAME_SNI"
for l in mailu mailu-ecdsa; do
	cmp -s "$LE/live/$l/fullchain.pem" "$LE/live/$l/nginx-chain.pem" || fail "no nginx-chain.pem from the post-hook in $l"
done
fp_rsa=$(certs_fp "$LE/live/mailu/fullchain.pem")
fp_ec1=$(certs_fp "$LE/live/mailu-ecdsa/fullchain.pem")
le_front "mca-it-$TEST_NAME-run" "$T/le-certs" 22000
serves "$ECDSA_ONLY" "$fp_ec1" $FRONT_PROTOS

# what the certs dir holds, to the inode and the nanosecond
snapshot() { find "$T/le-certs" -printf '%p %y %i %s %T@ %m %l\n' | sort; }
snapshot >"$T/snap.before"
agent_bg run run "--certs-dir=$T/le-certs" "--hostnames=$HOSTNAME_SNI" "--endpoints=$ENDPOINTS" \
	"--front=$FRONT" --probe-timeout=3s --verify-timeout=15s "--state-dir=$T/state" \
	--tls-flavor=letsencrypt --poll-interval=1s
wait_event run '.event=="agent.start"' 30
# the start: both key types verified on all nine; reading both lineages
# then finds what was verified, so no cycle
wait_event run '.event=="verify.endpoint" and .match' 60 18
sleep 2
assert_eq 18 "$(events run 'select(.event=="verify.endpoint" and .match and .cycle==null)' | wc -l)" "the start's verify: both key types on all nine"
assert_eq 0 "$(event_count run cycle.done)" "cycles at the start"
snapshot >"$T/snap.start"
diff -u "$T/snap.before" "$T/snap.start" >&2 || fail "the agent's start wrote in the certs dir"

sleep 1
certbot_renew "$LE" mailu-ecdsa
renew_ms=$ACME_LAST_MS
fp_ec2=$(certs_fp "$LE/live/mailu-ecdsa/fullchain.pem")
assert_ne "$fp_ec1" "$fp_ec2" "mailu-ecdsa after certbot renew"
assert_eq "$fp_rsa" "$(certs_fp "$LE/live/mailu/fullchain.pem")" "mailu after renewing mailu-ecdsa only"
snapshot >"$T/snap.renewed"
wait_event run '.event=="cycle.done"' 60
c=$(events run 'select(.event=="cycle.done") | .cycle' | head -1)
done2=$(events run "select(.cycle==$c and .event==\"cycle.done\")")
assert_eq rotated "$(jq -r .outcome <<<"$done2")" "outcome after the renewal"
assert_contains "$(events run "select(.cycle==$c and .event==\"source.changed\" and .lineage==\"mailu-ecdsa\") | .fingerprint")" "$fp_ec2" "source.changed names the renewed lineage"
assert_eq 2 "$(events run "select(.cycle==$c and .event==\"reload.exec\" and .exit_code==0)" | wc -l)" "reload commands after the renewal"
# the last verify of the cycle: both key types matching on all nine
ver=$(events run "select(.cycle==$c and .event==\"verify.endpoint\")" | tail -n 18)
assert_eq 9 "$(jq -c "select(.match and .key_type==\"ecdsa\" and .fingerprint==\"$fp_ec2\")" <<<"$ver" | wc -l)" "ECDSA verified, renewed"
assert_eq 9 "$(jq -c "select(.match and .key_type==\"rsa\" and .fingerprint==\"$fp_rsa\")" <<<"$ver" | wc -l)" "RSA verified, unchanged"
for p in $FRONT_PROTOS; do
	assert_eq "$fp_ec2" "$(FRONT_SIGALGS=$ECDSA_ONLY front_served_fp 127.0.0.1 "$(front_port "$p" "$PORT_BASE")" "$p")" "$p serves the renewed ECDSA leaf"
	assert_eq "$fp_rsa" "$(FRONT_SIGALGS=$RSA_ONLY front_served_fp 127.0.0.1 "$(front_port "$p" "$PORT_BASE")" "$p")" "$p serves the RSA leaf"
done
sleep 2	# two polls more: nothing else may happen
snapshot >"$T/snap.end"
diff -u "$T/snap.start" "$T/snap.renewed" >/dev/null && fail "certbot's renewal changed nothing in the snapshot"
diff -u "$T/snap.renewed" "$T/snap.end" >&2 || fail "something wrote in the certs dir after certbot (the agent must not)"
# certbot's post-hook rewrote the chains in the live dirs: seen, read, and
# nothing to do (no cycle)
assert_eq 1 "$(event_count run cycle.done)" "cycles in all"
assert_eq 0 "$(events run 'select(.event | startswith("rollback") or . == "cert.installed" or . == "cert.backup")' | wc -l)" "installs, backups or rollbacks"
ms=$(jq .ms <<<"$done2")
agent_stop "$AGENT_PID" run
pass "check 0/2/0 for each lineage; certbot renew mailu-ecdsa ${renew_ms} ms, then reload and 18 probes in ${ms} ms"
