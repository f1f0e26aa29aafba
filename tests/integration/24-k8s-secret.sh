#!/bin/bash
# A Kubernetes Secret volume, updated the way the kubelet's atomic writer
# does it (timestamped dir, ..data_tmp link, rename over ..data): one
# rotation. A write of tls.crt alone, without the ..data swap, is not
# acted on (Mailu #1302 was the opposite: a swap that was missed).
. "$(dirname "$0")/../lib/lib.sh"

certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
certs_leaf "$T" c ec256 120 mail.example.test
bed_start a
fp_b=$(certs_fp "$T/b.cert.pem")
S=$T/secret
mkdir -p "$S"

kubelet_write "$S" a

# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=k8s-secret:$S" --poll-interval=1s
wait_event run '.event=="agent.start"' 30
sleep 1
kubelet_write "$S" b
wait_event run '.event=="cycle.done"' 60
assert_eq '"rotated"' "$(events run 'select(.event=="cycle.done") | .outcome')" "outcome"
assert_eq 1 "$(event_count run cycle.done)" "cycles for one Secret update"
assert_all_serve "$fp_b"

# someone writes tls.crt beside ..data: not a Secret update
rm "$S/tls.crt"
cp "$T/c.cert.pem" "$S/tls.crt"
sleep 3
assert_eq 1 "$(event_count run cycle.done)" "cycles after a stray write"
assert_eq 0 "$(event_count run cert.rejected)" "rejections"
assert_all_serve "$fp_b"
agent_stop "$AGENT_PID" run
pass
