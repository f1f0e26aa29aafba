#!/bin/bash
# (d) A served certificate expiring inside the warning window: exit 1 with
# expiry.warning naming the tightest threshold crossed; an expired one: 2.
. "$(dirname "$0")/../lib/lib.sh"

certs_leaf "$T" soon ec256 5 mail.example.test
bed_start soon

# shellcheck disable=SC2046
agent_run soon check $(bed_env)
assert_eq 1 "$AGENT_RC" "exit code, 5 days left"
assert_eq '"7d"' "$(events soon 'select(.event=="expiry.warning") | .threshold')" "threshold"
assert_eq '"warning"' "$(events soon 'select(.event=="check.done") | .status')" "status"
assert_eq 9 "$(events soon 'select(.event=="check.done") | .matched')" "all match"

# custom thresholds: 5 days left is outside a 3d window
# shellcheck disable=SC2046
agent_run custom check $(bed_env) --expiry-warn=3d,1d
assert_eq 0 "$AGENT_RC" "exit code with AGENT_EXPIRY_WARN=3d,1d"
assert_eq 0 "$(event_count custom expiry.warning)" "no warning"

# expired (servers still serve it; clients refuse it)
now=$(date -u +%s)
certs_leaf_dates "$T" old ec256 "$(date -u -d "@$((now - 90 * 86400))" +%Y%m%d%H%M%SZ)" \
	"$(date -u -d "@$((now - 86400))" +%Y%m%d%H%M%SZ)" mail.example.test
bed_install old
docker exec "$FRONT" nginx -s reload
docker exec "$FRONT" dovecot reload
fp_old=$(certs_fp "$T/old.cert.pem")
for i in $(seq 1 50); do
	agent_run expired check $(bed_env)
	[ "$(events expired 'select(.event=="check.done") | .matched')" = 9 ] && break
	sleep 0.2
done
assert_eq 2 "$AGENT_RC" "exit code, expired"
assert_eq true "$(events expired 'select(.event=="expiry.warning") | .expired')" "expired flag"
assert_eq 9 "$(events expired "select(.event==\"verify.endpoint\" and .fingerprint==\"$fp_old\")" | wc -l)" "old served"
pass
