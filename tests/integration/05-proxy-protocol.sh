#!/bin/bash
# (e) Mailu behind Traefik: ports listed in PROXY_PROTOCOL expect a PROXY
# header first. Without the setting those probes fail; with Mailu's own
# PROXY_PROTOCOL naming them, every endpoint verifies.
. "$(dirname "$0")/../lib/lib.sh"

certs_leaf "$T" a ec256 90 mail.example.test
PORT_BASE=21000
pp="$((PORT_BASE + 993)),$((PORT_BASE + 443)),$((PORT_BASE + 25)),$((PORT_BASE + 190))"
bed_start a -e "PROXY_PROTOCOL=$pp"

# shellcheck disable=SC2046
agent_run plain check $(bed_env)
assert_eq 2 "$AGENT_RC" "exit code without PROXY_PROTOCOL"
assert_eq 4 "$(events plain 'select(.event=="check.done") | .unreachable | length')" "failing endpoints"
assert_eq 5 "$(events plain 'select(.event=="check.done") | .matched')" "plain endpoints"

# Mailu's setting, as the front has it (here: the test bed's actual ports)
# shellcheck disable=SC2046
PROXY_PROTOCOL=$pp agent_run proxied check $(bed_env)
assert_eq 0 "$AGENT_RC" "exit code with PROXY_PROTOCOL"
assert_eq 4 "$(events proxied 'select(.event=="verify.endpoint" and .proxy_protocol==true and .match==true)' | wc -l)" "proxied endpoints"

# and a header sent where none is expected breaks the probe: the list matters
# shellcheck disable=SC2046
PROXY_PROTOCOL="$pp,$((PORT_BASE + 995))" agent_run extra check $(bed_env)
assert_eq 2 "$AGENT_RC" "exit code with a wrong PROXY_PROTOCOL port"
pass
