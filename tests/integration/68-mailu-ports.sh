#!/bin/bash
# Which ports the agent probes without AGENT_ENDPOINTS follows Mailu's own
# rules (docs/reference.md, Endpoints), not PORTS alone: the Helm chart's
# PORTS=80,443,4190 still means SMTP 25, HTTPS 443, SMTPS 465, IMAPS 993
# and ManageSieve 4190; a TLS restriction takes ports away; notls probes
# nothing. `check` through the docker backend finds the bed's front and
# probes Mailu's ports on its address (127.0.0.1, host network): nothing
# answers on most of them, which is fine, since the test reads which
# endpoints were probed, not what they served.
. "$(dirname "$0")/../lib/lib.sh"

certs_leaf "$T" a ec256 60 mail.example.test
bed_start a

# probed PORTS TLS [FLAVOR]: the sorted Mailu ports `check` probed
probed() {
	# shellcheck disable=SC2046
	agent_run "p-$1-$2" check "--certs-dir=$T/certs" "--hostnames=$HOSTNAME_SNI" \
		"--front=$FRONT" --probe-timeout=1s --verify-timeout=1s \
		"--ports=$1" "--tls=$2" "--tls-flavor=${3:-cert}"
	events "p-$1-$2" 'select(.event=="verify.endpoint") | .endpoint' | jq -r . |
		sed 's|.*:||' | sort -n | paste -sd' ' -
}

assert_eq "25 443 465 993 4190" "$(probed 80,443,4190 25,80,443,465,993,995,4190)" "the Helm chart's PORTS"
assert_eq "25 443 465 993 995 4190" "$(probed 25,80,443,465,993,995,4190 25,80,443,465,993,995,4190)" "Mailu's default PORTS"
assert_eq "25 110 143 443 465 587 993 995 4190" \
	"$(probed 25,80,443,465,993,995,4190,110,143,587 25,80,443,465,993,995,4190)" "with 110,143,587"
assert_eq "25 465 993 4190" "$(probed 25,80,443,465,993,995,4190 465,993)" "TLS=465,993"
assert_eq "" "$(probed 25,80,443,465,993,995,4190 25,80,443,465,993,995,4190 notls)" "notls"
# (probed runs in a subshell: the exit code of notls's check, here)
# shellcheck disable=SC2046
agent_run notls check "--certs-dir=$T/certs" "--front=$FRONT" --tls-flavor=notls
assert_eq 0 "$AGENT_RC" "notls: check exit code"
pass
