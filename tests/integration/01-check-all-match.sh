#!/bin/bash
# (a) A front serving the installed pair on all nine ports: check exits 0,
# one verify.endpoint per port, each matching the installed fingerprint.
. "$(dirname "$0")/../lib/lib.sh"

certs_leaf "$T" a ec256 90 mail.example.test,imap.example.test
bed_start a
fp_a=$(certs_fp "$T/a.cert.pem")

# shellcheck disable=SC2046
agent_run check check $(bed_env)
assert_json_lines check
assert_eq 0 "$AGENT_RC" "check exit code"
assert_eq 9 "$(event_count check verify.endpoint)" "verify.endpoint events"
assert_eq 9 "$(events check "select(.event==\"verify.endpoint\" and .match==true and .fingerprint==\"$fp_a\")" | wc -l)" "endpoints serving A"
assert_eq '"ok"' "$(events check 'select(.event=="check.done") | .status')" "status"
assert_eq "$fp_a" "$(events check 'select(.event=="check.installed") | .fingerprint' | tr -d '"')" "installed fingerprint"
# every probe's service is named, so a stale group names its daemon
assert_eq 2 "$(events check 'select(.event=="verify.endpoint" and .service=="nginx")' | wc -l)" "nginx endpoints"
assert_eq 7 "$(events check 'select(.event=="verify.endpoint" and .service=="dovecot")' | wc -l)" "dovecot endpoints"
# every probe asks for an OCSP staple; this front has none (70 staples one)
assert_eq 9 "$(events check 'select(.event=="verify.endpoint" and .ocsp_staple=="none")' | wc -l)" "no staples"
# and an RSA pair served the same way is equally recognised
certs_leaf "$T" r rsa 90 mail.example.test
bed_serve r
fp_r=$(certs_fp "$T/r.cert.pem")
# shellcheck disable=SC2046
agent_run check-rsa check $(bed_env)
assert_eq 0 "$AGENT_RC" "check exit code (RSA)"
assert_eq 9 "$(events check-rsa "select(.event==\"verify.endpoint\" and .match==true and .fingerprint==\"$fp_r\")" | wc -l)" "endpoints serving the RSA pair"
pass
