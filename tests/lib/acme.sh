# shellcheck shell=bash
# tests/lib/acme.sh — a real ACME CA (Debian's pebble) and real ACME clients
# (Debian's certbot and lego) on loopback, for the certbot:/lego: sources.
# Sourced after lib.sh (needs $T, at_exit, log, fail, skip).
#
#   pebble_start
#       makes a throwaway TLS CA and a leaf for 127.0.0.1/localhost (pebble's
#       own HTTPS; the Debian package ships none), writes $T/pebble/config.json
#       and starts pebble with PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1
#       PEBBLE_WFE_NONCEREJECT=0 (no random badNonce retries) and
#       PEBBLE_AUTHZREUSE=100 (a renewal reuses the valid authorization, as
#       Let's Encrypt does for 30 days: steady renewal times). Call it in the test's own shell (not in $(...)):
#       it registers the at_exit cleanup that stops pebble. Exports
#         PEBBLE_DIR_URL       https://127.0.0.1:<ACME_PORT_BASE>/dir
#         PEBBLE_TLS_CA        the CA of pebble's HTTPS (clients trust it)
#         PEBBLE_ROOT          pebble's issuing root, fetched from /roots/0 after
#                              this start (it changes on every start): the agent's
#                              --ca-file. Enough on its own: certbot's fullchain.pem
#                              and lego's .crt carry the intermediate.
#         PEBBLE_INTERMEDIATE  /intermediates/0, for completeness
#         PEBBLE_START_MS      from exec to the directory answering
#   pebble_stop            (also the at_exit hook)
#   certbot_issue CONFIG_DIR NAME DOMAINS...
#       certbot certonly --standalone (HTTP-01 listener on 127.0.0.1, a high
#       port), lineage NAME in CONFIG_DIR; work and logs dirs are CONFIG_DIR.work
#       and CONFIG_DIR.logs. CERTBOT_KEY_TYPE=ecdsa (default) | rsa.
#       CERTBOT_POST_HOOK, when set, is certbot's --post-hook (kept in the
#       lineage's renewal conf, so renewals run it too).
#   certbot_renew CONFIG_DIR [NAME]
#       certbot renew --force-renewal --no-random-sleep-on-renew: every lineage
#       in CONFIG_DIR (or lineage NAME only) gets a new cert and a new key.
#   lego_run DIR DOMAINS... run|renew
#       lego --path DIR --http --http.port 127.0.0.1:<high> ... run, or
#       renew --days 36500 --no-random-sleep (pebble's certificates live 5 years,
#       so a smaller --days renews nothing). Files: DIR/certificates/DOMAIN.{crt,key}.
#       LEGO_KEY_TYPE=ec256 (default) | ec384 | rsa2048 | rsa4096.
#   ACME_LAST_MS           how long the last certbot_*/lego_run took
#
# Ports (all 127.0.0.1): ACME_PORT_BASE (default 24000) = pebble's ACME API,
# +1 management API, +2/+3 the http/tls ports pebble's VA would call (it does
# not: always valid), +80 certbot's standalone listener, +81 lego's.
# Client output is appended to $T/certbot.log and $T/lego.log, pebble's to
# $T/pebble.log (a failing test prints their tails).

ACME_PORT_BASE=${ACME_PORT_BASE:-24000}
PEBBLE_PID=""

_acme_ms() { date +%s%3N; }

_acme_port_busy() { # PORT: something listens on 127.0.0.1:PORT
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null
}

# pebble's HTTPS: a CA and a leaf for 127.0.0.1 and localhost (plain openssl:
# certs_leaf only makes DNS names).
_pebble_tls() { # DIR
	local d=$1
	(
		set -e
		umask 077
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$d/tls-ca.key" -out "$d/tls-ca.pem" -days 7 \
			-subj '/CN=mca pebble TLS CA' \
			-addext 'basicConstraints=critical,CA:TRUE' \
			-addext 'keyUsage=critical,keyCertSign,cRLSign'
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$d/tls.key" -out "$d/tls.csr" -subj '/CN=localhost'
		printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
			'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' \
			'subjectAltName=IP:127.0.0.1,DNS:localhost' >"$d/tls.ext"
		openssl x509 -req -in "$d/tls.csr" -CA "$d/tls-ca.pem" -CAkey "$d/tls-ca.key" \
			-set_serial "0x$(openssl rand -hex 8)" -days 7 -extfile "$d/tls.ext" -out "$d/tls.pem"
	) >"$d/tls.gen.log" 2>&1 || { cat "$d/tls.gen.log" >&2; fail "pebble: TLS cert generation failed"; }
}

pebble_start() {
	require_cmd pebble curl openssl
	local d=$T/pebble b=$ACME_PORT_BASE p t0 i
	mkdir -p "$d"
	for p in $b $((b + 1)); do
		_acme_port_busy "$p" && fail "pebble: 127.0.0.1:$p is already in use (a leftover pebble?)"
	done
	_pebble_tls "$d"
	cat >"$d/config.json" <<-EOF
		{
		  "pebble": {
		    "listenAddress": "127.0.0.1:$b",
		    "managementListenAddress": "127.0.0.1:$((b + 1))",
		    "certificate": "$d/tls.pem",
		    "privateKey": "$d/tls.key",
		    "httpPort": $((b + 2)),
		    "tlsPort": $((b + 3)),
		    "ocspResponderURL": "",
		    "externalAccountBindingRequired": false
		  }
		}
	EOF
	export PEBBLE_TLS_CA=$d/tls-ca.pem
	export PEBBLE_DIR_URL=https://127.0.0.1:$b/dir
	t0=$(_acme_ms)
	PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=100 \
		pebble -config "$d/config.json" </dev/null >>"$T/pebble.log" 2>&1 &
	PEBBLE_PID=$!
	at_exit pebble_stop
	for ((i = 0; i < 200; i++)); do
		kill -0 "$PEBBLE_PID" 2>/dev/null || { cat "$T/pebble.log" >&2; fail "pebble exited at start"; }
		curl -sf --max-time 2 --cacert "$PEBBLE_TLS_CA" "$PEBBLE_DIR_URL" >/dev/null && break
		sleep 0.05
	done
	((i < 200)) || fail "pebble: no directory at $PEBBLE_DIR_URL after 10 s"
	PEBBLE_START_MS=$(($(_acme_ms) - t0))
	# The issuing hierarchy is made fresh on every start: fetch it now.
	curl -sf --max-time 5 --cacert "$PEBBLE_TLS_CA" -o "$d/root.pem" \
		"https://127.0.0.1:$((b + 1))/roots/0" || fail "pebble: cannot fetch /roots/0"
	curl -sf --max-time 5 --cacert "$PEBBLE_TLS_CA" -o "$d/intermediate.pem" \
		"https://127.0.0.1:$((b + 1))/intermediates/0" || fail "pebble: cannot fetch /intermediates/0"
	openssl x509 -in "$d/root.pem" -noout 2>/dev/null || fail "pebble: /roots/0 is not a certificate"
	openssl verify -CAfile "$d/root.pem" "$d/intermediate.pem" >/dev/null ||
		fail "pebble: the intermediate does not verify to /roots/0"
	export PEBBLE_ROOT=$d/root.pem PEBBLE_INTERMEDIATE=$d/intermediate.pem PEBBLE_START_MS
	log "pebble $(dpkg-query -W -f='${Version}' pebble 2>/dev/null) up in ${PEBBLE_START_MS} ms" \
		"(pid $PEBBLE_PID, $PEBBLE_DIR_URL, root $(openssl x509 -in "$d/root.pem" -noout -subject | sed 's/.*CN *= *//'))"
}

pebble_stop() {
	[ -n "$PEBBLE_PID" ] || return 0
	kill -TERM "$PEBBLE_PID" 2>/dev/null || true
	wait "$PEBBLE_PID" 2>/dev/null || true # 143: our SIGTERM
	PEBBLE_PID=""
	return 0
}

# certbot's three directories for one config dir
_certbot_dirs() { # CONFIG_DIR
	printf '%s\n' --config-dir "$1" --work-dir "$1.work" --logs-dir "$1.logs"
}

_acme_client() { # LOGNAME WHAT CMD...: run a client, output appended to $T/LOGNAME.log
	local logf=$T/$1.log what=$2 t0 rc
	shift 2
	printf '\n=== %s: %s\n' "$(date +%H:%M:%S.%3N)" "$*" >>"$logf"
	t0=$(_acme_ms)
	set +e
	"$@" </dev/null >>"$logf" 2>&1
	rc=$?
	set -e
	ACME_LAST_MS=$(($(_acme_ms) - t0))
	if [ "$rc" != 0 ]; then
		tail -n 30 "$logf" >&2
		fail "$what failed (exit $rc)"
	fi
	log "$what: ${ACME_LAST_MS} ms"
}

certbot_issue() {
	local cfg=${1:?certbot_issue CONFIG_DIR NAME DOMAINS...} name=${2:?NAME} d
	shift 2
	[ $# -gt 0 ] || fail "certbot_issue: no domains"
	[ -n "${PEBBLE_DIR_URL:-}" ] || fail "certbot_issue: pebble_start first"
	require_cmd certbot
	local -a args
	mapfile -t args < <(_certbot_dirs "$cfg")
	for d in "$@"; do args+=(-d "$d"); done
	case ${CERTBOT_KEY_TYPE:-ecdsa} in
	ecdsa) args+=(--key-type ecdsa --elliptic-curve secp256r1) ;;
	rsa) args+=(--key-type rsa --rsa-key-size 2048) ;;
	*) fail "certbot_issue: CERTBOT_KEY_TYPE ecdsa or rsa" ;;
	esac
	[ -z "${CERTBOT_POST_HOOK:-}" ] || args+=(--post-hook "$CERTBOT_POST_HOOK")
	REQUESTS_CA_BUNDLE=$PEBBLE_TLS_CA _acme_client certbot "certbot issue $name ($*)" \
		certbot certonly --standalone \
		--http-01-address 127.0.0.1 --http-01-port $((ACME_PORT_BASE + 80)) \
		--server "$PEBBLE_DIR_URL" --non-interactive --agree-tos \
		--register-unsafely-without-email --no-eff-email \
		--cert-name "$name" "${args[@]}"
}

certbot_renew() {
	local cfg=${1:?certbot_renew CONFIG_DIR [NAME]}
	[ -n "${PEBBLE_DIR_URL:-}" ] || fail "certbot_renew: pebble_start first"
	local -a args
	mapfile -t args < <(_certbot_dirs "$cfg")
	[ -z "${2:-}" ] || args+=(--cert-name "$2")
	# The server, the standalone address/port and the key type come from
	# CONFIG_DIR/renewal/NAME.conf, as in a real renewal.
	REQUESTS_CA_BUNDLE=$PEBBLE_TLS_CA _acme_client certbot "certbot renew${2:+ $2}" \
		certbot renew --force-renewal --no-random-sleep-on-renew \
		--non-interactive "${args[@]}"
}

lego_run() {
	local dir=${1:?lego_run DIR DOMAINS... run|renew} action="${*: -1}" d
	shift
	[ $# -ge 2 ] || fail "lego_run: DIR DOMAINS... run|renew"
	set -- "${@:1:$#-1}"
	[ -n "${PEBBLE_DIR_URL:-}" ] || fail "lego_run: pebble_start first"
	require_cmd lego
	local -a args=(--server "$PEBBLE_DIR_URL" --path "$dir" --email "acme@example.test"
		--accept-tos --http --http.port "127.0.0.1:$((ACME_PORT_BASE + 81))"
		--key-type "${LEGO_KEY_TYPE:-ec256}")
	for d in "$@"; do args+=(--domains "$d"); done
	case $action in
	run) args+=(run) ;;
	# lego renews only when fewer than --days days are left; pebble's
	# certificates live 5 years, so force it with a century.
	renew) args+=(renew --days 36500 --no-random-sleep) ;;
	*) fail "lego_run: last argument run or renew, not '$action'" ;;
	esac
	LEGO_CA_CERTIFICATES=$PEBBLE_TLS_CA _acme_client lego "lego $action ($*)" lego "${args[@]}"
}

# assert_renewal_rotation CLIENT FP1 FP2 CERT KEY: after an ACME client's
# renewal from FP1 to FP2 (files CERT, KEY) the daemon's log "run" shows
# exactly one more rotation, nothing rejected, rolled back or reloaded on a
# mismatched pair, and the renewed pair is what CERTS_DIR holds and serves.
assert_renewal_rotation() {
	local client=$1 fp1=$2 fp2=$3 crt=$4 key=$5 bad c
	sleep 3	# a settle window and two polls: nothing more may happen
	assert_json_lines run
	assert_eq 2 "$(events run 'select(.event=="cycle.done" and .outcome=="rotated")' | wc -l)" "rotated cycles"
	assert_eq 2 "$(event_count run cycle.done)" "cycles in all"
	assert_eq 0 "$(event_count run cert.rejected)" "rejections"
	assert_eq 0 "$(events run 'select(.event=="reload.exec" and .exit_code!=0)' | wc -l)" "failed reload commands (nginx -s reload on a mismatched pair)"
	assert_eq 0 "$(events run 'select(.event | startswith("rollback"))' | wc -l)" "rollbacks"
	# everything installed or reported was one of the client's two certificates
	bad=$(events run "select((.event==\"cert.installed\" or .event==\"cycle.done\" or .event==\"source.changed\")
		and .fingerprint != \"$fp1\" and .fingerprint != \"$fp2\")")
	assert_eq "" "$bad" "events naming a certificate $client did not issue"
	assert_eq 4 "$(events run 'select(.event=="reload.exec" and .exit_code==0)' | wc -l)" "reload commands (2 per rotation)"
	c=$(events run "select(.event==\"cycle.done\" and .fingerprint==\"$fp2\") | .cycle")
	assert_eq "\"$fp1\"" "$(events run "select(.cycle==$c and .event==\"cert.backup\") | .fingerprint")" "backup of the first bundle"
	assert_eq 9 "$(events run "select(.cycle==$c and .event==\"verify.endpoint\" and .match==true and .fingerprint==\"$fp2\")" | wc -l)" "endpoints verified, renewed bundle"
	assert_all_serve "$fp2"
	cmp "$T/certs/cert.pem" "$crt" || fail "cert.pem is not the renewed $crt"
	cmp "$T/certs/key.pem" "$key" || fail "key.pem is not the renewed $key"
	disk_pair_matches || fail "cert.pem and key.pem do not match"
	assert_eq 600 "$(stat -c %a "$T/certs/key.pem")" "key mode"
}
