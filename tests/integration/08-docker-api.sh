#!/bin/bash
# (h) The Engine API client (agent/docker.c, docker_http.c) against the real engine and a
# real front, through tests/tools/docker-driver: find by label, name and id;
# exec (nginx -t, nginx -s reload, dovecot reload, a missing binary, exit
# codes, output bounds, timeout); logs since the reload; the agent's own
# container; and every error mapping: unknown, paused and stopped
# container, a missing socket, and a fake engine on loopback that answers
# garbage, 500, 403, oversize bodies, old API versions or nothing at all.
. "$(dirname "$0")/../lib/lib.sh"
require_cmd jq python3

DRIVER=${MCA_DOCKER_DRIVER:-$MCA_ROOT/build/asan/docker-driver}
[ -x "$DRIVER" ] || fail "no $DRIVER: run make build/asan/docker-driver"

# drv NAME ARGS...: one driver call, its JSON line in $T/NAME.log; sets
# DRV_RC and DRV_MS (wall clock, process included). Sanitizer reports fail.
drv() {
	local name=$1 start
	shift
	start=$(date +%s%N)
	set +e
	"$DRIVER" "$@" >"$T/$name.log" 2>"$T/$name.err.log"
	DRV_RC=$?
	set -e
	DRV_MS=$((($(date +%s%N) - start) / 1000000))
	if grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$T/$name.err.log"; then
		cat "$T/$name.err.log" >&2
		fail "sanitizer report in driver run $name"
	fi
	case $DRV_RC in
	0 | 1) ;;
	*) cat "$T/$name.err.log" >&2; fail "driver $name exited $DRV_RC" ;;
	esac
}
# j NAME JQ_FILTER: a field of one driver answer, raw
j() { jq -r "$2" "$T/$1.log"; }

# expect_error NAME ERROR [ENDPOINT]: the call failed with that code
expect_error() {
	assert_eq 1 "$DRV_RC" "$1 exit code"
	assert_eq false "$(j "$1" .ok)" "$1 ok"
	assert_eq "$2" "$(j "$1" .error)" "$1 error"
	[ -z "${3:-}" ] || assert_eq "$3" "$(j "$1" .endpoint)" "$1 endpoint"
}
expect_ok() {
	assert_eq 0 "$DRV_RC" "$1 exit code ($(head -c 300 "$T/$1.log"))"
	assert_eq true "$(j "$1" .ok)" "$1 ok"
	assert_eq ok "$(j "$1" .error)" "$1 error"
}

PROJECT=mca-it-08
PORT_BASE=${PORT_BASE:-28000}
certs_leaf "$T" a ec256 90 mail.example.test
bed_start a --label com.docker.compose.project=$PROJECT
id=$(docker inspect -f '{{.Id}}' "$FRONT")

log "find by label, by name, by id"
drv label find label:com.docker.compose.service=front
expect_ok label
assert_eq 1.41 "$(j label .api_version)" "negotiated API version"
assert_eq "GET /containers/json" "$(j label .endpoint)" "endpoint"
mine=$(jq -c --arg n "$FRONT" '.containers[] | select(.name == $n)' "$T/label.log")
assert_eq "$id" "$(jq -r .id <<<"$mine")" "id from the label match"
assert_eq true "$(jq -r .running <<<"$mine")" "running"
assert_eq 127.0.0.1 "$(jq -r .address <<<"$mine")" "host-network address"
assert_eq front "$(jq -r .service <<<"$mine")" "service label"
assert_eq "$PROJECT" "$(jq -r .project <<<"$mine")" "project label"
assert_eq true "$(j label '[.containers[].name] == ([.containers[].name] | sort)')" "sorted by name"

drv project find label:com.docker.compose.service=front "$PROJECT"
expect_ok project
assert_eq "$FRONT" "$(j project '[.containers[].name] | join(",")')" "only this project's front"
drv other find label:com.docker.compose.service=front mca-it-08-other
expect_ok other
assert_eq 0 "$(j other '.containers | length')" "another project: no match"
drv nolabel find label:mca.test.nobody=1
expect_ok nolabel
assert_eq 0 "$(j nolabel '.containers | length')" "unused label"

for sel in "$FRONT" "/$FRONT" "${id:0:12}" "$id"; do
	drv byname find "$sel"
	expect_ok byname
	assert_eq 1 "$(j byname '.containers | length')" "one match for $sel"
	assert_eq "$id" "$(j byname '.containers[0].id')" "id for $sel"
	assert_eq "$FRONT" "$(j byname '.containers[0].name')" "name for $sel"
	assert_eq true "$(j byname '.containers[0].running')" "running for $sel"
	assert_eq 127.0.0.1 "$(j byname '.containers[0].address')" "address for $sel"
	assert_eq "GET /containers/{id}/json" "$(j byname .endpoint)" "endpoint for $sel"
done
drv unknown find mca-it-08-nosuch
expect_error unknown not_found "GET /containers/{id}/json"
assert_eq 404 "$(j unknown .http_status)" "unknown: status"
assert_contains "$(j unknown .detail)" "No such container" "unknown: engine message"

log "exec: nginx -t, reloads, exit codes, output"
drv ntest exec "$FRONT" 10000 nginx -t
expect_ok ntest
assert_eq 0 "$(j ntest .exit_code)" "nginx -t exit code"
assert_contains "$(j ntest .output)" "syntax is ok" "nginx -t output"

since=$(date +%s)
drv nreload exec "$FRONT" 10000 nginx -s reload
expect_ok nreload
assert_eq 0 "$(j nreload .exit_code)" "nginx -s reload exit code"
assert_contains "$(j nreload .output)" "signal process started" "nginx -s reload output"
drv dreload exec "$FRONT" 10000 dovecot reload
expect_ok dreload
assert_eq 0 "$(j dreload .exit_code)" "dovecot reload exit code"

drv missing exec "$FRONT" 10000 /usr/bin/mca-no-such-binary
expect_ok missing
assert_eq 126 "$(j missing .exit_code)" "missing binary exit code"
assert_contains "$(j missing .output)" "no such file or directory" "missing binary output"

drv code exec "$FRONT" 10000 sh -c 'echo out; printf "e\trr\r\033[31m\n" >&2; exit 3'
expect_ok code
assert_eq 3 "$(j code .exit_code)" "exit code 3"
assert_eq "$(printf 'out\ne rr?[31m\n')" "$(j code .output)" "both streams, sanitized"
assert_eq 15 "$(j code .output_total)" "bytes written"

# 100 kB of binary (no \r, which is dropped) on stdout, then a line on
# stderr: 4096 bytes of stdout kept, a newline, then stderr
drv big exec "$FRONT" 10000 sh -c 'head -c 200000 /dev/urandom | tr -d "\r" | head -c 100000; echo done >&2'
expect_ok big
assert_eq 100005 "$(j big .output_total)" "big output counted"
assert_eq 4102 "$(j big '.output | length')" "big output kept: 4096 + newline + stderr"
assert_eq true "$(j big '.output | endswith("\ndone\n")')" "stderr after stdout"
assert_eq true "$(j big '.output | test("^[\\n -~]*$")')" "printable ASCII only"

drv slow exec "$FRONT" 1000 sleep 5
expect_error slow timeout "POST /exec/{id}/start"
((DRV_MS < 2500)) || fail "exec timeout took $DRV_MS ms"
assert_eq -1 "$(j slow .exit_code)" "exit code after a timeout"

drv nosuch exec mca-it-08-nosuch 5000 true
expect_error nosuch not_found "POST /containers/{id}/exec"
assert_contains "$(j nosuch .detail)" "No such container" "exec in unknown container: message"

drv bench bench "$FRONT" 10 10000 nginx -t
expect_ok bench
assert_eq '[0,0,0,0,0,0,0,0,0,0]' "$(j bench '.exit_codes' | tr -d ' \n')" "bench exit codes"
log "nginx -t exec round trip: median $(j bench .median_ms) ms of $(j bench '.ms_each | join(" ")')"

log "logs since the reload"
found=0
for _ in $(seq 1 25); do
	drv logs logs "$FRONT" "$since" 1000000
	expect_ok logs
	if [ "$(j logs '[.lines[] | select(.line | test("SIGHUP.*reconfiguring"))] | length')" -gt 0 ] &&
		[ "$(j logs '[.lines[] | select(.line | test("SIGHUP received - reloading"))] | length')" -gt 0 ]; then
		found=1
		break
	fi
	sleep 0.2
done
[ $found = 1 ] || fail "nginx and dovecot reload lines not in the logs: $(head -c 2000 "$T/logs.log")"
assert_eq 0 "$(j logs '[.lines[] | select(.stream != 1 and .stream != 2)] | length')" "stream ids"
assert_eq 0 "$(j logs '[.lines[] | select(.line | contains("\n"))] | length')" "one line per call"
drv logcap logs "$FRONT" 0 300
expect_ok logcap
total=$(j logcap '[.lines[].len] | add // 0')
((total > 0 && total <= 300)) || fail "logs max_bytes 300: got $total bytes of lines"
drv future logs "$FRONT" $((since + 86400)) 1000
expect_ok future
assert_eq 0 "$(j future '.lines | length')" "no lines from the future"

log "the agent's own container"
drv selfhost self
expect_error selfhost not_found "GET /containers/{id}/json"
# In a container of its own (no network at all: the socket is a file),
# chrooted into the host's / so the ASan driver finds its libraries.
SELF=mca-it-08-self
docker rm -f "$SELF" >/dev/null 2>&1 || true
at_exit docker rm -f "$SELF" '>/dev/null 2>&1'
sock=${DOCKER_HOST#unix://}
set +e
docker run --name "$SELF" --network none --label mca.test=1 -v /:/host:ro \
	-e DOCKER_HOST="$DOCKER_HOST" -e ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
	-e UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" --entrypoint chroot \
	"${FRONT_IMAGE:-mca-front-test:latest}" /host "$DRIVER" self \
	>"$T/selfin.log" 2>"$T/selfin.err.log"
rc=$?
set -e
[ -S "$sock" ] || fail "DOCKER_HOST $DOCKER_HOST is not a socket"
assert_eq 0 "$rc" "self in a container: exit code ($(cat "$T/selfin.err.log" "$T/selfin.log" | head -c 600))"
self_id=$(docker inspect -f '{{.Id}}' "$SELF")
assert_eq "$SELF" "$(j selfin .container.name)" "self: name"
assert_eq "$self_id" "$(j selfin .container.id)" "self: id"
assert_eq true "$(j selfin .container.running)" "self: running"
assert_eq "" "$(j selfin .container.address)" "self: no network, no address"
docker rm -f "$SELF" >/dev/null

log "paused and stopped front"
docker pause "$FRONT" >/dev/null
at_exit docker unpause "$FRONT" '>/dev/null 2>&1'
drv paused exec "$FRONT" 5000 true
expect_error paused not_running "POST /containers/{id}/exec"
assert_eq 409 "$(j paused .http_status)" "paused: status"
assert_contains "$(j paused .detail)" "paused" "paused: engine message"
drv pausedfind find "$FRONT"
expect_ok pausedfind
assert_eq false "$(j pausedfind '.containers[0].running')" "paused: not running"
drv pausedlabel find label:com.docker.compose.service=front "$PROJECT"
assert_eq false "$(j pausedlabel '.containers[0].running')" "paused: not running in the list"
docker unpause "$FRONT" >/dev/null

docker stop -t 5 "$FRONT" >/dev/null
drv stopped exec "$FRONT" 5000 nginx -t
expect_error stopped not_running "POST /containers/{id}/exec"
assert_eq 409 "$(j stopped .http_status)" "stopped: status"
assert_contains "$(j stopped .detail)" "is not running" "stopped: engine message"
drv stoppedfind find label:com.docker.compose.service=front "$PROJECT"
expect_ok stoppedfind
assert_eq "$FRONT:false" "$(j stoppedfind '.containers[0] | "\(.name):\(.running)"')" "stopped: still found, not running"
assert_eq 127.0.0.1 "$(j stoppedfind '.containers[0].address')" "stopped: host-network address"

log "no engine at DOCKER_HOST"
DOCKER_HOST=unix://$T/missing.sock drv nosock find label:com.docker.compose.service=front
expect_error nosock connect_failed "GET /version"
assert_eq 0 "$(j nosock .http_status)" "missing socket: no status"
((DRV_MS < 1000)) || fail "missing socket took $DRV_MS ms"
DOCKER_HOST=tcp://127.0.0.1:$((PORT_BASE + 997)) drv refused find "$FRONT"
expect_error refused connect_failed "GET /version"
((DRV_MS < 1000)) || fail "refused port took $DRV_MS ms"

log "a fake engine on loopback"
cat >"$T/fake.py" <<'PY'
# fake engine: one behaviour per process (argv[1]), request lines to argv[2]
import socket, socketserver, sys, time
mode, reqlog, portfile = sys.argv[1], sys.argv[2], sys.argv[3]
EID = "e" * 64

def answer(status, body, ctype="application/json", length=True):
    h = "HTTP/1.1 %s\r\nContent-Type: %s\r\nConnection: close\r\n" % (status, ctype)
    if length:
        h += "Content-Length: %d\r\n" % len(body)
    return h.encode() + b"\r\n" + body

class H(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline().decode("latin-1").strip()
        n = 0
        while True:
            h = self.rfile.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            if h.lower().startswith(b"content-length:"):
                n = int(h.split(b":")[1])
        if n:
            self.rfile.read(n)
        with open(reqlog, "a") as f:
            f.write(line + "\n")
        path = line.split(" ")[1] if " " in line else ""
        w = self.wfile.write
        try:
            if mode == "silent":
                time.sleep(30)
            elif mode == "garbage":
                w(b"this is not HTTP at all\r\n\r\n")
            elif mode == "error500":
                w(answer("500 Internal Server Error", b'{"message":"boom\\u0007 \\u00e9 bad"}'))
            elif mode == "denied":
                w(answer("403 Forbidden", b"<html><body><h1>403 Forbidden</h1></body></html>", "text/html"))
            elif mode == "bigdeclared":
                w(answer("200 OK", b"", length=False)[:-2] + b"Content-Length: 9437184\r\n\r\n{")
                time.sleep(5)
            elif mode == "bigstream":
                w(answer("200 OK", b"", length=False))
                for _ in range(10 * 16):
                    w(b" " * 65536)
            elif mode == "wrongtype":
                w(answer("200 OK", b'{"ApiVersion": 141}'))
            elif mode == "dupkeys":
                w(answer("200 OK", b'{"ApiVersion": "1.41", "ApiVersion": "1.41"}'))
            elif mode == "old":
                w(answer("200 OK", b'{"ApiVersion": "1.23", "MinAPIVersion": "1.12"}'))
            elif mode == "bigversion":
                w(answer("200 OK", b'{"ApiVersion": "1.41", "Pad": "' + b"x" * 262144 + b'"}'))
            elif path == "/version":
                v = b'{"ApiVersion":"1.52","MinAPIVersion":"1.44"}' if mode == "newmin" else b'{"ApiVersion":"1.43"}'
                w(answer("200 OK", v))
            elif mode == "biglist":
                w(answer("200 OK", b'["' + b"x" * 1048576 + b'"]'))
            elif mode == "notalist":
                w(answer("200 OK", b'{"not":"a list"}'))
            elif mode == "badentry":
                w(answer("200 OK", b'[{"Id":"../../etc","Names":["/x"],"State":"running"}]'))
            elif mode == "newmin":
                w(answer("404 Not Found", b'{"message":"No such container: x"}'))
            elif mode == "badexecid":
                w(answer("201 Created", b'{"Id":"not-hex"}'))
            elif mode == "badstream":
                if path.endswith("/exec"):
                    w(answer("201 Created", ('{"Id":"%s"}' % EID).encode()))
                else:
                    w(answer("200 OK", b"\x01\x00\x00\x00\x00\x00\x00\x03ok\n<html><body>", "application/vnd.docker.raw-stream", False))
            elif mode == "jsonstream":
                if path.endswith("/exec"):
                    w(answer("201 Created", ('{"Id":"%s"}' % EID).encode()))
                else:
                    w(answer("200 OK", b'{"message":"hm"}'))
        except (BrokenPipeError, ConnectionResetError):
            pass

class S(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

s = S(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
PY

# fake MODE: starts a fake engine; sets FAKE (a DOCKER_HOST) and FAKE_LOG
fake() {
	local port
	rm -f "$T/fake-$1.port"
	python3 "$T/fake.py" "$1" "$T/fake-$1.req" "$T/fake-$1.port" 2>"$T/fake-$1.err" &
	at_exit kill $! '2>/dev/null'
	for _ in $(seq 1 50); do
		[ -s "$T/fake-$1.port" ] && break
		sleep 0.1
	done
	port=$(cat "$T/fake-$1.port") || fail "fake engine $1 did not start"
	FAKE=tcp://127.0.0.1:$port
	FAKE_LOG=$T/fake-$1.req
}

# fake_case MODE ERROR ENDPOINT DRIVER_ARGS...: bounded, mapped as expected
fake_case() {
	local mode=$1 err=$2 ep=$3
	shift 3
	fake "$mode"
	DOCKER_HOST=$FAKE drv "fake-$mode" -t 2000 "$@"
	expect_error "fake-$mode" "$err" "$ep"
	((DRV_MS < 3500)) || fail "fake $mode took $DRV_MS ms"
}

fake_case silent timeout "GET /version" find "$FRONT"
assert_eq 0 "$(j fake-silent .http_status)" "silent: no status"
fake_case garbage bad_answer "GET /version" find "$FRONT"
fake_case error500 http_status "GET /version" find "$FRONT"
assert_eq 500 "$(j fake-error500 .http_status)" "500: status"
assert_eq "boom? ?? bad" "$(j fake-error500 .detail)" "500: message sanitized (BEL, and both bytes of é)"
fake_case denied denied "GET /version" find "$FRONT"
assert_eq 403 "$(j fake-denied .http_status)" "403: status"
assert_contains "$(j fake-denied .detail)" "<h1>403 Forbidden</h1>" "403: the page's first bytes"
fake_case bigdeclared bad_answer "GET /version" find "$FRONT"
assert_contains "$(j fake-bigdeclared .detail)" "larger than" "declared oversize"
((DRV_MS < 1500)) || fail "declared oversize not refused at once ($DRV_MS ms)"
fake_case bigstream bad_answer "GET /version" find "$FRONT"
assert_contains "$(j fake-bigstream .detail)" "larger than" "streamed oversize"
# each call has its cap: 256 KiB for any answer but a list, 1 MiB for a list
fake_case bigversion bad_answer "GET /version" find "$FRONT"
assert_eq "answer larger than 262144 bytes" "$(j fake-bigversion .detail)" "version over its cap"
fake_case biglist bad_answer "GET /containers/json" find label:a=b
assert_eq "answer larger than 1048576 bytes" "$(j fake-biglist .detail)" "list over its cap"
fake_case wrongtype bad_answer "GET /version" find "$FRONT"
assert_contains "$(j fake-wrongtype .detail)" "ApiVersion" "wrong type names the field"
fake_case dupkeys bad_answer "GET /version" find "$FRONT"
fake_case old api_too_old "GET /version" find "$FRONT"
assert_contains "$(j fake-old .detail)" "1.23" "old API: version named"
fake_case notalist bad_answer "GET /containers/json" find label:com.docker.compose.service=front
assert_eq 1.41 "$(j fake-notalist .api_version)" "1.43 engine: we speak 1.41"
assert_file_contains "$FAKE_LOG" 'GET /v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22com.docker.compose.service%3Dfront%22%5D%7D HTTP/1.1' "escaped filters"
fake_case badentry bad_answer "GET /containers/json" find label:a=b
assert_contains "$(j fake-badentry .detail)" "Id" "bad id in a list"
fake_case newmin not_found "GET /containers/{id}/json" find somename
assert_eq 1.44 "$(j fake-newmin .api_version)" "an engine refusing 1.41: its minimum"
assert_file_contains "$FAKE_LOG" "GET /v1.44/containers/somename/json HTTP/1.1" "versioned path"
fake_case badexecid bad_answer "POST /containers/{id}/exec" exec somename 2000 true
fake_case badstream bad_answer "POST /exec/{id}/start" exec somename 2000 true
assert_contains "$(j fake-badstream .detail)" "malformed stream" "malformed frame"
assert_file_contains "$FAKE_LOG" "POST /v1.41/exec/$(printf 'e%.0s' $(seq 64))/start HTTP/1.1" "exec start path"
fake_case jsonstream bad_answer "POST /exec/{id}/start" exec somename 2000 true
assert_eq "not a stream answer" "$(j fake-jsonstream .detail)" "a JSON 200 to start"
pass
