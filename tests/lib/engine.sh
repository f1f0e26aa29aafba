# shellcheck shell=bash
# tests/lib/engine.sh — get a Docker engine for the test bed (sourced).
#
#   engine_up    reuse the engine at $DOCKER_HOST (default unix:///var/run/docker.sock)
#                if it answers; otherwise start a private dockerd (root only) and
#                export DOCKER_HOST pointing at it.
#   engine_down  stop the private dockerd, but only if *this shell* started it.
#
# Private engine layout (all overridable through the environment):
#   MCA_ENGINE_DIR        /tmp/mca-engine  socket, pidfile, exec-root, dockerd.log
#   MCA_ENGINE_DATA_ROOT  ${XDG_CACHE_HOME:-$HOME/.cache}/mailu-cert-agent/engine-root
#                         kept between runs so the image cache survives; must be on a
#                         filesystem where overlay2 works (ext4/xfs; not tmpfs/overlayfs)
#   MCA_ENGINE_TIMEOUT    30   seconds to wait for a fresh dockerd to answer
#   MCA_DOCKERD           dockerd binary
#
# The engine never gets a bridge or iptables rules: every container of the bed
# runs with --network host and talks over loopback only.

: "${MCA_ENGINE_DIR:=/tmp/mca-engine}"
: "${MCA_ENGINE_DATA_ROOT:=${XDG_CACHE_HOME:-$HOME/.cache}/mailu-cert-agent/engine-root}"
: "${MCA_ENGINE_TIMEOUT:=30}"
: "${MCA_DOCKERD:=dockerd}"
# Set to 1 by engine_up when this shell started the daemon; engine_down keys on it.
MCA_ENGINE_STARTED=${MCA_ENGINE_STARTED:-0}

_engine_log() { printf 'engine: %s\n' "$*" >&2; }

# Does the engine at $1 (a DOCKER_HOST value) answer? _ping over the unix socket
# is cheap; for anything else fall back to the client itself.
_engine_answers() {
	local host=$1
	case $host in
	unix://*)
		[ -S "${host#unix://}" ] || return 1
		curl -sf --max-time 3 --unix-socket "${host#unix://}" http://localhost/_ping >/dev/null 2>&1 || return 1
		;;
	esac
	DOCKER_HOST=$host timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# The newer /usr/local/bin/docker (28.x) negotiates the API down to the 20.10
# engine (1.41); if whatever `docker` is first in PATH cannot, use Debian's client.
_engine_pick_client() {
	if ! docker version --format '{{.Server.APIVersion}}' >/dev/null 2>&1 && [ -x /usr/bin/docker ]; then
		_engine_log "client $(command -v docker) cannot talk to the engine; using /usr/bin/docker"
		docker() { /usr/bin/docker "$@"; }
	fi
}

engine_up() {
	local want=${DOCKER_HOST:-unix:///var/run/docker.sock}
	if _engine_answers "$want"; then
		export DOCKER_HOST=$want
		_engine_pick_client
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		_engine_log "no engine at $want and not root: cannot start a private dockerd"
		return 1
	fi

	local sock=$MCA_ENGINE_DIR/docker.sock
	local pidfile=$MCA_ENGINE_DIR/dockerd.pid
	mkdir -p "$MCA_ENGINE_DIR" "$MCA_ENGINE_DATA_ROOT"

	# One starter at a time when several test shells race; the others reuse.
	exec {_mca_engine_lock}>"$MCA_ENGINE_DIR/lock"
	flock -w $((MCA_ENGINE_TIMEOUT + 10)) "$_mca_engine_lock" || {
		exec {_mca_engine_lock}>&-
		_engine_log "lock timeout"
		return 1
	}

	if _engine_answers "unix://$sock"; then
		# Someone else's private engine (another shell): reuse, do not own.
		exec {_mca_engine_lock}>&-
		export DOCKER_HOST=unix://$sock
		_engine_pick_client
		return 0
	fi

	# A dockerd that died uncleanly leaves a pidfile; a live but wedged one we kill.
	if [ -f "$pidfile" ]; then
		local old
		old=$(cat "$pidfile" 2>/dev/null || true)
		if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then
			_engine_log "killing unresponsive dockerd $old"
			kill "$old" 2>/dev/null || true
			_engine_wait_gone "$old" 20 || kill -9 "$old" 2>/dev/null || true
		fi
		rm -f "$pidfile"
	fi
	rm -f "$sock"

	# The lock fd is closed for dockerd: an inherited copy would hold the lock
	# for dockerd's whole life and make the other shells wait, then start
	# engines of their own.
	# setsid: keep dockerd out of the test's process group so a Ctrl-C to the
	# test does not kill the engine before our trap can stop containers cleanly.
	setsid "$MCA_DOCKERD" \
		--data-root "$MCA_ENGINE_DATA_ROOT" \
		--exec-root "$MCA_ENGINE_DIR/exec" \
		--pidfile "$pidfile" \
		-H "unix://$sock" \
		--bridge=none --iptables=false --ip6tables=false --ip-masq=false \
		>>"$MCA_ENGINE_DIR/dockerd.log" 2>&1 </dev/null {_mca_engine_lock}>&- &
	local pid=$! i
	for ((i = 0; i < MCA_ENGINE_TIMEOUT * 4; i++)); do
		if _engine_answers "unix://$sock"; then break; fi
		if ! kill -0 "$pid" 2>/dev/null; then
			_engine_log "dockerd exited during start; tail of $MCA_ENGINE_DIR/dockerd.log:"
			tail -n 20 "$MCA_ENGINE_DIR/dockerd.log" >&2
			exec {_mca_engine_lock}>&-
			return 1
		fi
		sleep 0.25
	done
	exec {_mca_engine_lock}>&-
	if ! _engine_answers "unix://$sock"; then
		_engine_log "dockerd did not answer within ${MCA_ENGINE_TIMEOUT}s; see $MCA_ENGINE_DIR/dockerd.log"
		kill "$pid" 2>/dev/null || true
		return 1
	fi
	export DOCKER_HOST=unix://$sock
	MCA_ENGINE_STARTED=1
	MCA_ENGINE_PID=$pid
	_engine_pick_client
	# overlay2 needs a backing fs that supports it (ext4/xfs). On tmpfs/overlayfs
	# dockerd silently falls back to vfs, which copies whole layers: slow, huge.
	local drv
	drv=$(docker info --format '{{.Driver}}' 2>/dev/null || true)
	if [ "$drv" != overlay2 ]; then
		_engine_log "warning: storage driver is '$drv', not overlay2 (data-root $MCA_ENGINE_DATA_ROOT on $(stat -f -c %T "$MCA_ENGINE_DATA_ROOT")); set MCA_ENGINE_DATA_ROOT to an ext4/xfs dir"
	fi
	# The data-root outlives the daemon: containers of a test that was killed
	# hard are still there (stopped). Nobody can be using them, since we just
	# started this engine, so clear them out before they pile up.
	local stale
	stale=$(docker ps -aq --filter label=mca.test=1 2>/dev/null || true)
	if [ -n "$stale" ]; then
		# shellcheck disable=SC2086
		docker rm -f $stale >/dev/null 2>&1 || true
	fi
	_engine_log "started private dockerd $pid at $DOCKER_HOST (driver $drv)"
}

_engine_wait_gone() { # PID SECONDS
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

engine_down() {
	[ "${MCA_ENGINE_STARTED:-0}" = 1 ] || return 0
	local pid=${MCA_ENGINE_PID:-}
	[ -n "$pid" ] || pid=$(cat "$MCA_ENGINE_DIR/dockerd.pid" 2>/dev/null || true)
	MCA_ENGINE_STARTED=0
	[ -n "$pid" ] || return 0
	# SIGTERM lets dockerd stop its containers and containerd; give it time.
	kill "$pid" 2>/dev/null || return 0
	if ! _engine_wait_gone "$pid" 30; then
		_engine_log "dockerd $pid ignored SIGTERM for 30s; SIGKILL"
		kill -9 "$pid" 2>/dev/null || true
		_engine_wait_gone "$pid" 5 || true
	fi
	wait "$pid" 2>/dev/null || true
	unset MCA_ENGINE_PID
}
