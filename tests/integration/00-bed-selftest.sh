#!/bin/bash
# tests/integration/00-bed-selftest.sh — proves the test bed is real, with openssl and docker
# only (no agent): the front image serves what is in /certs on all nine
# endpoints, `nginx -s reload` alone leaves dovecot's seven endpoints on the
# old certificate (the bug the agent exists for), `dovecot reload` /
# `doveadm reload` fix that, PROXY protocol listeners really require a header,
# and broken certificates are visible in `docker logs`. First, the test
# library's log readers against a half-written line.
#
# Env: MCA_SELFTEST_PORT_BASE (21000), MCA_SELFTEST_PP_BASE (22000).
. "$(dirname "$0")/../lib/lib.sh"

require_root
require_cmd docker openssl debootstrap python3 curl
# The lookalike's facts (a front without certs exits, for one); the
# Mailu-shaped front has its own self-test, 09-bed-mailu.
export FRONT_KIND=lookalike

BASE=${MCA_SELFTEST_PORT_BASE:-21000}
PP_BASE=${MCA_SELFTEST_PP_BASE:-22000}
NAME=mca-selftest-front-$$
PP_NAME=mca-selftest-ppfront-$$
BAD_NAME=mca-selftest-badfront-$$

now() { date +%s.%N; }
dt() { awk "BEGIN{printf \"%.2f\", $2-$1}"; }

# Assert that every proto in $1 (space-separated) on front $BASE serves $2.
expect_fp() { # "PROTOS" FP WHAT [PORT_BASE]
	local p got
	for p in $1; do
		got=$(front_served_fp 127.0.0.1 "$(front_port "$p" "${4:-$BASE}")" "$p") || got=none
		assert_eq "$2" "$got" "$3: $p fingerprint"
	done
}
# Poll until every proto in $1 serves $2 (or TIMEOUT seconds pass).
wait_fp() { # "PROTOS" FP TIMEOUT
	local p deadline=$((SECONDS + $3)) ok
	while :; do
		ok=1
		for p in $1; do
			[ "$(front_served_fp 127.0.0.1 "$(front_port "$p" "$BASE")" "$p" 2>/dev/null)" = "$2" ] || { ok=0; break; }
		done
		((ok)) && return 0
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}
install_pair() { # PREFIX — cp over the existing files: same names, key stays 0600
	cp "$T/pki/$1.cert.pem" "$T/certs/cert.pem"
	cp "$T/pki/$1.key.pem" "$T/certs/key.pem"
	chmod 0600 "$T/certs/key.pem"
}

ALL=$FRONT_PROTOS
NGINX_PROTOS="https smtp"
DOVECOT_PROTOS="smtps submission imaps imap pop3s pop3 sieve"

# --- 0. the log readers in tests/lib/agent.sh -----------------------------------
# A reader of a live agent log now and then sees the half of a line being
# written (jq then exits 4; that once failed a CI run). The readers leave a
# half line for the next read, and a complete bad line still fails them.
printf '{"event":"a"}\n{"event":"b","msg":"half' >"$T/half.log"
wait_event half '.event=="a"' 1
assert_eq 1 "$(event_count half a)" "complete lines before a half one"
assert_eq 0 "$(event_count half b)" "a half line"
printf '"}\n' >>"$T/half.log"
assert_eq 1 "$(event_count half b)" "the line once finished"
printf 'not json\n' >>"$T/half.log"
if (event_count half a >/dev/null 2>&1); then fail "the log readers passed a complete line that is not JSON"; fi
rm "$T/half.log"

t=$(now)
engine_up
at_exit engine_down
T_ENGINE=$(dt "$t" "$(now)")
log "engine at $DOCKER_HOST (${T_ENGINE}s)"

t=$(now)
front_image_ensure
T_IMAGE=$(dt "$t" "$(now)")
log "image $FRONT_IMAGE in ${T_IMAGE}s ($FRONT_IMAGE_TIMES)"

# --- PKI: two distinct pairs -------------------------------------------------
certs_ca "$T/pki"
certs_leaf "$T/pki" A ec256 30 mail.a.mca.test,a.mca.test
certs_leaf "$T/pki" B rsa 30 mail.b.mca.test
certs_leaf "$T/pki" C ec256 30 mail.c.mca.test # same key type as A, for a mismatch
FP_A=$(certs_fp "$T/pki/A.cert.pem")
FP_B=$(certs_fp "$T/pki/B.cert.pem")
assert_ne "$FP_A" "$FP_B" "pair fingerprints"
mkdir -p "$T/certs"
install_pair A

# --- 1. fresh front serves A everywhere ----------------------------------------
at_exit front_stop "$NAME"
t=$(now)
front_start "$NAME" "$T/certs" "$BASE"
front_wait "$NAME" "$BASE" 60 || fail "front did not come up"
T_READY=$(dt "$t" "$(now)")
log "docker run -> nine endpoints answering TLS: ${T_READY}s"
expect_fp "$ALL" "$FP_A" "fresh start"
if [ "$BASE" = 21000 ]; then
	assert_eq "https://127.0.0.1:21443,smtp+starttls://127.0.0.1:21025,smtps://127.0.0.1:21465,submission+starttls://127.0.0.1:21587,imaps://127.0.0.1:21993,imap+starttls://127.0.0.1:21143,pop3s://127.0.0.1:21995,pop3+starttls://127.0.0.1:21110,sieve+starttls://127.0.0.1:21190" \
		"$(front_endpoints "$BASE")" "front_endpoints 21000"
fi
assert_eq "https://example.org:21443" "$(front_endpoints "$BASE" example.org | cut -d, -f1)" "front_endpoints host"

# --- 2. new pair + nginx-only reload: the bug ----------------------------------
install_pair B
docker exec "$NAME" nginx -t >"$T/nginx-t.log" 2>&1 || fail "nginx -t failed: $(cat "$T/nginx-t.log")"
t=$(now)
docker exec "$NAME" nginx -s reload >>"$T/exec.log" 2>&1
wait_fp "$NGINX_PROTOS" "$FP_B" 10 || true
T_NGINX=$(dt "$t" "$(now)")
sleep 2
expect_fp "$NGINX_PROTOS" "$FP_B" "after nginx -s reload"
expect_fp "$DOVECOT_PROTOS" "$FP_A" "after nginx -s reload (dovecot still old)"
log "nginx -s reload: https+smtp on B after ${T_NGINX}s; dovecot's 7 still on A after 2s more"

# --- 3. dovecot reload fixes the other seven -----------------------------------
t=$(now)
docker exec "$NAME" dovecot reload >>"$T/exec.log" 2>&1
wait_fp "$ALL" "$FP_B" 10 || expect_fp "$ALL" "$FP_B" "10s after dovecot reload"
T_DOVECOT=$(dt "$t" "$(now)")
log "dovecot reload: all nine on B after ${T_DOVECOT}s"

# --- 4. and back to A with doveadm reload ---------------------------------------
install_pair A
docker exec "$NAME" nginx -s reload >>"$T/exec.log" 2>&1
docker exec "$NAME" doveadm reload >>"$T/exec.log" 2>&1
wait_fp "$ALL" "$FP_A" 10 || expect_fp "$ALL" "$FP_A" "10s after nginx -s reload + doveadm reload"
log "nginx -s reload + doveadm reload: all nine back on A"

# --- 5. a mismatched pair: nginx -t refuses, front keeps serving A --------------
# Same key type on purpose: with an RSA cert and an EC key, OpenSSL files the
# key under another slot and `nginx -t` does NOT notice the mismatch.
cp "$T/pki/C.cert.pem" "$T/certs/cert.pem" # key is still A's
if docker exec "$NAME" nginx -t >"$T/nginx-t-bad.log" 2>&1; then
	fail "nginx -t accepted a cert/key mismatch"
fi
assert_file_contains "$T/nginx-t-bad.log" "[emerg]" "nginx -t output"
# and so does `nginx -s reload` (the agent's default runs no nginx -t of its
# own): it loads the configuration and its certificates before it signals,
# and exits 1 without signalling when that fails
hups=$(docker logs "$NAME" 2>&1 | grep -c 'signal 1 (SIGHUP) received' || true)
if docker exec "$NAME" nginx -s reload >"$T/nginx-s-bad.log" 2>&1; then
	fail "nginx -s reload accepted a cert/key mismatch"
fi
assert_file_contains "$T/nginx-s-bad.log" "[emerg]" "nginx -s reload output"
sleep 0.5
assert_eq "$hups" "$(docker logs "$NAME" 2>&1 | grep -c 'signal 1 (SIGHUP) received' || true)" \
	"nginx masters signalled by a refused nginx -s reload"
install_pair A
expect_fp "$ALL" "$FP_A" "after refused mismatch"
front_stop "$NAME" "$T/front.docker.log"
assert_file_contains "$T/front.docker.log" "SIGHUP received - reloading configuration" "front log (dovecot reload)"

# --- 6. no cert at all: the container dies, and says why in docker logs ---------
mkdir -p "$T/empty"
at_exit front_stop "$BAD_NAME"
front_start "$BAD_NAME" "$T/empty" "$BASE"
for _ in $(seq 50); do
	[ "$(docker inspect -f '{{.State.Status}}' "$BAD_NAME")" = exited ] && break
	sleep 0.2
done
assert_eq exited "$(docker inspect -f '{{.State.Status}}' "$BAD_NAME")" "front without certs"
assert_contains "$(docker logs "$BAD_NAME" 2>&1)" "[emerg]" "docker logs of front without certs"
front_stop "$BAD_NAME" "$T/badfront.docker.log"
log "mismatched pair refused by nginx -t; front without certs exits with [emerg] in docker logs"

# --- 7. PROXY protocol listeners ---------------------------------------------------
# https and imaps (implicit TLS), smtp (nginx mail, STARTTLS), sieve (dovecot, STARTTLS).
PP_PROTOS="https imaps smtp sieve"
pp_ports=""
for p in $PP_PROTOS; do pp_ports+="${pp_ports:+,}$(front_port "$p" "$PP_BASE")"; done
at_exit front_stop "$PP_NAME"
front_start "$PP_NAME" "$T/certs" "$PP_BASE" -e "PROXY_PROTOCOL=$pp_ports"
front_wait "$PP_NAME" "$PP_BASE" 60 || fail "PROXY protocol front did not come up"
for p in $ALL; do
	port=$(front_port "$p" "$PP_BASE")
	case " $PP_PROTOS " in
	*" $p "*)
		# STARTTLS probes hang until the timeout: both sides wait for the other.
		if FRONT_PROBE_TIMEOUT=2 front_served_fp 127.0.0.1 "$port" "$p" >/dev/null 2>&1; then
			fail "$p:$port handshakes without a PROXY header"
		fi
		assert_eq "$FP_A" "$(front_served_fp_proxied 127.0.0.1 "$port" "$p" 1)" "$p:$port with PROXY v1"
		assert_eq "$FP_A" "$(front_served_fp_proxied 127.0.0.1 "$port" "$p" 2)" "$p:$port with PROXY v2"
		;;
	*)
		assert_eq "$FP_A" "$(front_served_fp 127.0.0.1 "$port" "$p")" "$p:$port without PROXY"
		;;
	esac
done
front_stop "$PP_NAME" "$T/ppfront.docker.log"
# The client address claimed in the header must have reached the logs.
assert_file_contains "$T/ppfront.docker.log" "rip=127.0.0.2" "dovecot log behind PROXY"
assert_file_contains "$T/ppfront.docker.log" "127.0.0.2 - -" "nginx access log behind PROXY"
log "PROXY protocol: [$pp_ports] refuse bare TLS, accept v1 and v2 headers"

ROOTFS_SIZE=$(du -h "$FRONT_ROOTFS_TAR" | cut -f1)
IMG_SIZE=$(docker image inspect -f '{{.Size}}' "$FRONT_IMAGE" | awk '{printf "%.0fMB", $1/1e6}')
printf 'timing: engine_up=%ss front_image_ensure=%ss (%s) rootfs_tar=%s image=%s ready=%ss nginx_reload=%ss dovecot_reload=%ss\n' \
	"$T_ENGINE" "$T_IMAGE" "$FRONT_IMAGE_TIMES" "$ROOTFS_SIZE" "$IMG_SIZE" "$T_READY" "$T_NGINX" "$T_DOVECOT"
pass "bed works: $FRONT_IMAGE"
