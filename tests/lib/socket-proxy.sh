# shellcheck shell=bash
# tests/lib/socket-proxy.sh: a filtering Docker API proxy (Debian's haproxy
# with tests/lib/haproxy-docker.cfg) on loopback, in front of the test engine.
# Sourced after lib.sh (needs $T, at_exit, DOCKER_HOST=unix://...).
#
#   socket_proxy_start PORT [EXEC=0|1] [CONTAINERS=0|1] [POST=0|1]
#       renders the config into $T/socket-proxy.cfg (bind 127.0.0.1:PORT,
#       server: the engine's unix socket), checks it (haproxy -c), runs haproxy
#       in the foreground, in the background, with the switches in its
#       environment (defaults: CONTAINERS=1 EXEC=1 POST=1, the agent's needs);
#       request log (one line per call: status, method, path) in
#       $T/socket-proxy.log. Waits until GET /_ping answers through it.
#       Sets SOCKET_PROXY_PID and SOCKET_PROXY_URL (tcp://127.0.0.1:PORT);
#       registers socket_proxy_stop at exit.
#   socket_proxy_stop
#       SIGTERM (then SIGKILL) to the haproxy started here; idempotent.
#   socket_proxy_calls [STATUS] [USER_AGENT=mailu-cert-agent]
#       "METHOD PATH" of every request that client made (version prefix and
#       query removed, ids replaced by {id}), optionally only those answered
#       STATUS.

socket_proxy_start() {
	local port=${1:?PORT} sw k v exec_=1 containers=1 post=1 sock i
	shift
	for sw in "$@"; do
		k=${sw%%=*} v=${sw#*=}
		[[ $v == [01] ]] || { printf 'socket-proxy: %s: 0 or 1\n' "$sw" >&2; return 1; }
		case $k in
		EXEC) exec_=$v ;;
		CONTAINERS) containers=$v ;;
		POST) post=$v ;;
		*) printf 'socket-proxy: unknown switch %s\n' "$k" >&2; return 1 ;;
		esac
	done
	case ${DOCKER_HOST:-} in
	unix://*) sock=${DOCKER_HOST#unix://} ;;
	*) printf 'socket-proxy: DOCKER_HOST %s is not a unix socket\n' "${DOCKER_HOST:-}" >&2; return 1 ;;
	esac
	command -v haproxy >/dev/null || { printf 'socket-proxy: haproxy not installed\n' >&2; return 1; }
	sed -e "s|@BIND@|127.0.0.1:$port|" -e "s|@SOCKET@|$sock|" \
		"$MCA_TESTLIB/haproxy-docker.cfg" >"$T/socket-proxy.cfg"
	haproxy -c -q -f "$T/socket-proxy.cfg" || { printf 'socket-proxy: config check failed\n' >&2; return 1; }
	: >"$T/socket-proxy.log"
	# -db: foreground, no daemon; -Ws would need systemd. The log goes to stdout.
	CONTAINERS=$containers EXEC=$exec_ POST=$post \
		haproxy -db -f "$T/socket-proxy.cfg" >>"$T/socket-proxy.log" 2>&1 </dev/null &
	SOCKET_PROXY_PID=$!
	# shellcheck disable=SC2034 # for the sourcing test
	SOCKET_PROXY_URL=tcp://127.0.0.1:$port
	at_exit socket_proxy_stop
	for ((i = 0; i < 50; i++)); do
		if curl -sf --max-time 2 "http://127.0.0.1:$port/_ping" >/dev/null 2>&1; then
			log "socket proxy on 127.0.0.1:$port (pid $SOCKET_PROXY_PID; CONTAINERS=$containers EXEC=$exec_ POST=$post)"
			return 0
		fi
		kill -0 "$SOCKET_PROXY_PID" 2>/dev/null || break
		sleep 0.1
	done
	printf 'socket-proxy: haproxy did not answer on port %s; its log:\n' "$port" >&2
	tail -n 20 "$T/socket-proxy.log" >&2
	return 1
}

socket_proxy_stop() {
	local pid=${SOCKET_PROXY_PID:-} i
	[ -n "$pid" ] || return 0
	SOCKET_PROXY_PID=
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 30; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# httplog lines: ... STATUS BYTES - - ---- conns queues {USER-AGENT} "METHOD URI HTTP/1.1"
socket_proxy_calls() {
	local want=${1:-} ua=${2:-mailu-cert-agent}
	sed -nE 's|.* ([0-9]{3}) [0-9]+ .* \{([^}]*)\} "([A-Z]+) ([^ ?"]*)[^"]*".*|\1 \2 \3 \4|p' \
		"$T/socket-proxy.log" |
		awk -v want="$want" -v ua="$ua" '(want == "" || $1 == want) && $2 == ua { print $3, $4 }' |
		sed -E -e 's|^([A-Z]+) /v1\.[0-9]+/|\1 /|' \
			-e 's|/exec/[a-f0-9]{64}/|/exec/{id}/|' \
			-e 's#/containers/([^/]+)/(json|logs|top|exec)$#/containers/{id}/\2#'
}
