#!/bin/bash
# (b) The bug this project exists for: a renewal followed by `nginx -s
# reload` only. HTTPS and SMTP move to B, dovecot's seven ports keep
# serving A. check must exit 2 and name exactly those seven as stale,
# serving A; after `dovecot reload` it exits 0.
. "$(dirname "$0")/../lib/lib.sh"

certs_leaf "$T" a ec256 90 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
bed_start a
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")
assert_ne "$fp_a" "$fp_b" "A and B"

bed_install b
docker exec "$FRONT" nginx -s reload
wait_served "$fp_b" https smtp

# shellcheck disable=SC2046
agent_run stale check $(bed_env)
assert_json_lines stale
assert_eq 2 "$AGENT_RC" "check exit code with dovecot stale"
stale=$(events stale 'select(.event=="check.done") | .stale | sort | join(",")' | tr -d '"')
want=$(for p in smtps submission imaps imap pop3s pop3 sieve; do
	echo "$(front_endpoints "$PORT_BASE" | tr , '\n' | grep "$(front_port "$p" "$PORT_BASE")")"
done | sort | paste -sd, -)
assert_eq "$want" "$stale" "stale endpoints"
assert_eq 7 "$(events stale "select(.event==\"verify.endpoint\" and .match==false and .service==\"dovecot\" and .fingerprint==\"$fp_a\")" | wc -l)" "dovecot endpoints serving A"
assert_eq 2 "$(events stale "select(.event==\"verify.endpoint\" and .match==true and .service==\"nginx\" and .fingerprint==\"$fp_b\")" | wc -l)" "nginx endpoints serving B"
assert_eq '["dovecot"]' "$(events stale 'select(.event=="check.done") | .services')" "service to blame"
assert_eq '[]' "$(events stale 'select(.event=="check.done") | .unreachable')" "unreachable"

docker exec "$FRONT" dovecot reload
for i in $(seq 1 50); do
	agent_run fixed check $(bed_env)
	[ "$AGENT_RC" = 0 ] && break
	sleep 0.2
done
assert_eq 0 "$AGENT_RC" "check exit code after dovecot reload"
assert_eq 9 "$(events fixed "select(.event==\"verify.endpoint\" and .match==true and .fingerprint==\"$fp_b\")" | wc -l)" "endpoints serving B"
pass
