# shellcheck shell=bash
# tests/lib/front.sh — run and probe front test containers (sourced).
#
#   front_ports PORT_BASE
#       exports FRONT_PORT_{HTTPS,SMTP,SMTPS,SUBMISSION,IMAP,IMAPS,POP3,POP3S,SIEVE,HTTP_AUTH,HTTP}
#       = PORT_BASE + (canonical port % 1000): 443, 25, 465, 587, 143, 993,
#       110, 995, 4190->190, auth stub 800, plain HTTP 80.
#   front_start NAME CERTS_DIR PORT_BASE [extra docker run args...]
#       docker run -d --network host -v CERTS_DIR:/certs --name NAME with the
#       PORT_* env above (and front_ports' exports). Removes a leftover NAME first.
#       FRONT_KIND picks the front (label mca.front on the container):
#         lookalike (default)  $FRONT_IMAGE (set by front_image_ensure), else
#                              mca-front-test:latest (docker/front-test)
#         mailu                $FRONT_MAILU_IMAGE, else mca-front-mailu:latest
#                              (docker/front-mailu: shaped like Mailu's real
#                              front), started with
#                              -e PORTS=$FRONT_MAILU_PORTS (default all ten:
#                              25,80,443,465,993,995,4190,110,143,587, so the
#                              nine endpoints of the bed exist; empty: no
#                              PORTS, Mailu's default) and
#                              -e CERT_WATCHER=$FRONT_CERT_WATCHER (default 0:
#                              the tests prove the agent's reload; empty: the
#                              image's default, on for cert/mail).
#       The extra args come last, so -e PORTS=... there wins.
#       PROXY_PROTOCOL goes through the extra args: -e PROXY_PROTOCOL=21993,21443
#   front_wait NAME PORT_BASE [TIMEOUT=60]
#       until every TLS endpoint the front has completes a handshake (ports
#       listed in the container's PROXY_PROTOCOL only need to accept TCP): the
#       nine of the bed, or for a Mailu-shaped front those its PORTS, TLS and
#       TLS_FLAVOR give (front_mailu_expected). Fails at once, with the
#       container's log, if the container stops.
#   front_kind_of NAME   lookalike or mailu, from the container's label
#   front_dovecot_conf NAME   the dovecot config file the front runs with
#   front_mailu_expected [ENV...]   for a Mailu-shaped front with that
#       environment (NAME=VALUE words: PORTS, TLS, TLS_FLAVOR): the endpoints
#       that listen, one "PROTO tls" or "PROTO plain" a line.
#   le_lineage CERTS_DIR NAME PREFIX
#       certbot's layout under CERTS_DIR/letsencrypt for lineage NAME (Mailu's
#       are mailu, RSA, and mailu-ecdsa) from PREFIX.cert.pem (leaf + chain)
#       and PREFIX.key.pem: archive/NAME/{privkey,cert,chain,fullchain}N.pem
#       with the next N, the live/NAME links moved to them the way certbot
#       renews, then live/NAME/nginx-chain.pem and DANE-chain.pem made from
#       fullchain.pem as Mailu's config.py (certbot's post-hook) does.
#       Sets LE_VERSION=N.
#   front_stop NAME [LOGFILE]
#       saves `docker logs` to LOGFILE (default ${T:-/tmp}/NAME.docker.log), rm -f.
#   front_served_fp HOST PORT PROTO
#       SHA-256 fingerprint (lowercase hex, no colons) of the leaf certificate
#       served there. PROTO: https smtp smtps submission imap imaps pop3 pop3s sieve.
#       FRONT_SIGALGS, when set, is passed to s_client -sigalgs:
#       RSA-PSS+SHA256:RSA+SHA256 gets an RSA leaf, ECDSA+SHA256 an ECDSA one.
#   front_endpoints PORT_BASE [HOST=127.0.0.1]
#       the agent's endpoint list (comma-separated URLs) for a front.
#   front_served_fp_proxied HOST PORT PROTO [1|2]
#       the same through a PROXY v1/v2 header (python3), for PROXY_PROTOCOL ports.
#   front_protos   the nine PROTO names, in front_endpoints order.
#   front_port PROTO PORT_BASE   the port of one PROTO.

FRONT_PROTOS="https smtp smtps submission imaps imap pop3s pop3 sieve"

# shellcheck disable=SC2086 # split on purpose
front_protos() { printf '%s\n' $FRONT_PROTOS; }

front_port() { # PROTO PORT_BASE
	local b=${2:?PORT_BASE}
	case $1 in
	https) echo $((b + 443)) ;;
	smtp) echo $((b + 25)) ;;
	smtps) echo $((b + 465)) ;;
	submission) echo $((b + 587)) ;;
	imap) echo $((b + 143)) ;;
	imaps) echo $((b + 993)) ;;
	pop3) echo $((b + 110)) ;;
	pop3s) echo $((b + 995)) ;;
	sieve) echo $((b + 190)) ;;
	http_auth) echo $((b + 800)) ;;
	http) echo $((b + 80)) ;;
	*) printf 'front: unknown proto %s\n' "$1" >&2; return 1 ;;
	esac
}

# Listening ports inside the kernel's ephemeral range can be taken by any
# outgoing connection (or its TIME_WAIT) before the front binds them: seen
# in CI after the load test's ~29k connections ("bind() ... Address already
# in use"). So test bases live below 32768 (Debian's default range); warn
# when a machine's range reaches into them anyway.
_front_ports_outside_ephemeral() { # PORT_BASE
	local lo hi b=$1
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || return 0
	((b + 999 < lo || b > hi)) && return 0
	printf 'front: warning: ports %s..%s overlap the ephemeral range %s..%s; a bind may fail\n' \
		"$b" "$((b + 999))" "$lo" "$hi" >&2
	printf 'front:   (move PORT_BASE below %s or: sysctl -w net.ipv4.ip_local_reserved_ports=%s-%s)\n' \
		"$lo" "$b" "$((b + 999))" >&2
}

front_ports() { # PORT_BASE
	local b=${1:?PORT_BASE}
	if ! [[ $b =~ ^[0-9]+$ ]] || ((b < 1024 || b + 999 > 65535)); then
		printf 'front: PORT_BASE %s out of range (1024..64536)\n' "$b" >&2
		return 1
	fi
	_front_ports_outside_ephemeral "$b"
	export FRONT_PORT_HTTPS=$((b + 443)) FRONT_PORT_SMTP=$((b + 25)) \
		FRONT_PORT_SMTPS=$((b + 465)) FRONT_PORT_SUBMISSION=$((b + 587)) \
		FRONT_PORT_IMAP=$((b + 143)) FRONT_PORT_IMAPS=$((b + 993)) \
		FRONT_PORT_POP3=$((b + 110)) FRONT_PORT_POP3S=$((b + 995)) \
		FRONT_PORT_SIEVE=$((b + 190)) FRONT_PORT_HTTP_AUTH=$((b + 800)) \
		FRONT_PORT_HTTP=$((b + 80))
}

FRONT_MAILU_ALL_PORTS=25,80,443,465,993,995,4190,110,143,587

front_start() {
	local name=${1:?NAME} certs=${2:?CERTS_DIR} base=${3:?PORT_BASE} kind=${FRONT_KIND:-lookalike} image
	local -a kargs=()
	shift 3
	case $kind in
	lookalike) image=${FRONT_IMAGE:-mca-front-test:latest} ;;
	mailu)
		image=${FRONT_MAILU_IMAGE:-mca-front-mailu:latest}
		kargs+=(-e "PORT_HTTP=$((base + 80))")
		[ -z "${FRONT_MAILU_PORTS-$FRONT_MAILU_ALL_PORTS}" ] ||
			kargs+=(-e "PORTS=${FRONT_MAILU_PORTS-$FRONT_MAILU_ALL_PORTS}")
		[ -z "${FRONT_CERT_WATCHER-0}" ] || kargs+=(-e "CERT_WATCHER=${FRONT_CERT_WATCHER-0}")
		;;
	*) printf 'front: FRONT_KIND=%s: lookalike or mailu\n' "$kind" >&2; return 1 ;;
	esac
	front_ports "$base" || return 1
	certs=$(cd "$certs" && pwd) || return 1
	docker rm -f "$name" >/dev/null 2>&1 || true
	docker run -d --name "$name" --network host \
		--label com.docker.compose.service=front --label mca.test=1 --label "mca.front=$kind" \
		-v "$certs:/certs" \
		-e BIND_ADDRESS=127.0.0.1 \
		-e PORT_HTTPS="$FRONT_PORT_HTTPS" -e PORT_SMTP="$FRONT_PORT_SMTP" \
		-e PORT_SMTPS="$FRONT_PORT_SMTPS" -e PORT_SUBMISSION="$FRONT_PORT_SUBMISSION" \
		-e PORT_IMAP="$FRONT_PORT_IMAP" -e PORT_IMAPS="$FRONT_PORT_IMAPS" \
		-e PORT_POP3="$FRONT_PORT_POP3" -e PORT_POP3S="$FRONT_PORT_POP3S" \
		-e PORT_SIEVE="$FRONT_PORT_SIEVE" -e PORT_HTTP_AUTH="$FRONT_PORT_HTTP_AUTH" \
		"${kargs[@]}" "$@" "$image" >/dev/null
}

front_kind_of() { # NAME
	local k
	k=$(docker inspect -f '{{index .Config.Labels "mca.front"}}' "${1:?NAME}" 2>/dev/null) || return 1
	echo "${k:-lookalike}"
}

# How many times the Mailu-shaped front NAME's certificate watcher has
# reconfigured it for a cert or key file deleted or created (its log).
front_watcher_reconfigs() { # NAME
	docker logs "${1:?NAME}" 2>&1 |
		grep -c -E '^certwatcher: /certs/(cert|key)\.pem (deleted|created): reconfiguring$'
}

front_dovecot_conf() { # NAME
	case $(front_kind_of "$1") in
	mailu) echo /etc/dovecot/proxy.conf ;;
	*) echo /etc/dovecot/dovecot.conf ;;
	esac
}

# The TLS endpoints of a Mailu-shaped front (docker/front-mailu/config.sh
# says why): 25 always (STARTTLS unless notls); 443 and 465 when in TLS;
# 143, 110, 587 when in PORTS; 993, 995 and 4190 always, from dovecot's
# default listeners where Mailu's config leaves them (993 and 995 not at all
# with notls).
front_mailu_expected() { # [NAME=VALUE...]
	local ports=25,80,443,465,993,995,4190 tls=25,80,443,465,993,995,4190 flavor=cert kv p mode items
	local -A on=() tlson=()
	for kv in "$@"; do
		case $kv in
		PORTS=*) ports=${kv#PORTS=} ;;
		TLS=*) tls=${kv#TLS=} ;;
		TLS_FLAVOR=*) flavor=${kv#TLS_FLAVOR=} ;;
		esac
	done
	IFS=, read -ra items <<<"$ports"
	for p in "${items[@]}"; do on[$p]=1; done
	if [ "$flavor" != notls ]; then
		IFS=, read -ra items <<<"$tls"
		for p in "${items[@]}"; do tlson[$p]=1; done
	fi
	mode=tls
	[ "$flavor" = notls ] && mode=plain
	[ -n "${tlson[443]:-}" ] && echo "https tls"
	echo "smtp $mode"
	[ -n "${tlson[465]:-}" ] && echo "smtps tls"
	[ -n "${on[587]:-}" ] && echo "submission $mode"
	[ "$flavor" != notls ] && echo "imaps tls"
	[ -n "${on[143]:-}" ] && echo "imap $mode"
	[ "$flavor" != notls ] && echo "pop3s tls"
	[ -n "${on[110]:-}" ] && echo "pop3 $mode"
	echo "sieve $mode"
	return 0
}

# s_client's -starttls name for a PROTO ("" = implicit TLS).
_front_starttls() {
	case $1 in
	smtp | submission) echo smtp ;;
	imap) echo imap ;;
	pop3) echo pop3 ;;
	sieve) echo sieve ;;
	https | smtps | imaps | pop3s) echo "" ;;
	*) printf 'front: unknown proto %s\n' "$1" >&2; return 1 ;;
	esac
}

# One bounded handshake; prints s_client's output (certificate included).
_front_sclient() { # HOST PORT PROTO
	local st
	st=$(_front_starttls "$3") || return 1
	local -a args=(-connect "$1:$2")
	[ -n "$st" ] && args+=(-starttls "$st")
	# FRONT_SIGALGS: the signature algorithms offered, which pick the
	# certificate of a front that has an RSA and an ECDSA one
	[ -z "${FRONT_SIGALGS:-}" ] || args+=(-sigalgs "$FRONT_SIGALGS")
	# stdin /dev/null: s_client sends QUIT/closes right after the handshake.
	timeout "${FRONT_PROBE_TIMEOUT:-5}" openssl s_client "${args[@]}" </dev/null 2>&1
}

front_served_fp() { # HOST PORT PROTO
	local fp
	# Piped, not captured: s_client's output can contain NUL bytes.
	fp=$({ _front_sclient "$1" "$2" "$3" || true; } | openssl x509 -noout -fingerprint -sha256 2>/dev/null) || {
		printf 'front: no certificate from %s:%s (%s)\n' "$1" "$2" "$3" >&2
		return 1
	}
	fp=${fp#*=}
	fp=${fp//:/}
	printf '%s\n' "${fp,,}"
}

_front_tcp_open() { # HOST PORT
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

front_wait() {
	local name=${1:?NAME} base=${2:?PORT_BASE} tmo=${3:-60}
	local deadline=$((SECONDS + tmo)) pp proto port pending state env mode
	local -a expect=()
	env=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$name" 2>/dev/null)
	pp=$(sed -n 's/^PROXY_PROTOCOL=//p' <<<"$env")
	pp=",${pp// /},"
	if [ "$(front_kind_of "$name")" = mailu ]; then
		# shellcheck disable=SC2046 # one word per variable
		mapfile -t expect < <(front_mailu_expected $(grep -E '^(PORTS|TLS|TLS_FLAVOR)=' <<<"$env"))
	else
		for proto in $FRONT_PROTOS; do expect+=("$proto tls"); done
	fi
	while :; do
		pending=""
		for proto in "${expect[@]}"; do
			mode=${proto#* } proto=${proto%% *}
			port=$(front_port "$proto" "$base")
			if [[ $pp == *",$port,"* ]] || [ "$mode" = plain ]; then
				_front_tcp_open 127.0.0.1 "$port" || pending+=" $proto:$port"
			else
				FRONT_PROBE_TIMEOUT=3 front_served_fp 127.0.0.1 "$port" "$proto" >/dev/null 2>&1 ||
					pending+=" $proto:$port"
			fi
		done
		[ -z "$pending" ] && return 0
		state=$(docker inspect -f '{{.State.Status}}' "$name" 2>/dev/null || echo gone)
		if [ "$state" != running ]; then
			printf 'front_wait: container %s is %s; its log:\n' "$name" "$state" >&2
			docker logs "$name" 2>&1 | tail -n 40 >&2 || true
			return 1
		fi
		if ((SECONDS >= deadline)); then
			printf 'front_wait: %s not ready after %ss:%s\n' "$name" "$tmo" "$pending" >&2
			docker logs "$name" 2>&1 | tail -n 40 >&2 || true
			return 1
		fi
		sleep 0.5
	done
}

front_stop() {
	local name=${1:?NAME} logf=${2:-${T:-/tmp}/$1.docker.log}
	if docker inspect "$name" >/dev/null 2>&1; then
		docker logs "$name" >"$logf" 2>&1 || true
		docker rm -f "$name" >/dev/null 2>&1 || true
	fi
}

front_endpoints() { # PORT_BASE [HOST]
	local b=${1:?PORT_BASE} h=${2:-127.0.0.1}
	printf '%s\n' "https://$h:$((b + 443)),smtp+starttls://$h:$((b + 25)),smtps://$h:$((b + 465)),submission+starttls://$h:$((b + 587)),imaps://$h:$((b + 993)),imap+starttls://$h:$((b + 143)),pop3s://$h:$((b + 995)),pop3+starttls://$h:$((b + 110)),sieve+starttls://$h:$((b + 190))"
}

# front_served_fp_proxied HOST PORT PROTO [1|2]
#   like front_served_fp, but first sends a PROXY protocol header (v1 text or
#   v2 binary, default 1) claiming client 127.0.0.2:40000, for listeners
#   started with PROXY_PROTOCOL. python3's ssl; STARTTLS dialogs done by hand.
front_served_fp_proxied() {
	local host=${1:?HOST} port=${2:?PORT} proto=${3:?PROTO} ver=${4:-1}
	timeout "${FRONT_PROBE_TIMEOUT:-5}" python3 - "$host" "$port" "$proto" "$ver" <<'PY'
import hashlib, socket, ssl, struct, sys
host, port, proto, ver = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.create_connection((host, port), timeout=4)
src, sport = "127.0.0.2", 40000
if ver == "2":
    body = socket.inet_aton(src) + socket.inet_aton(host) + struct.pack("!HH", sport, port)
    s.sendall(b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body)
else:
    s.sendall(("PROXY TCP4 %s %s %d %d\r\n" % (src, host, sport, port)).encode())
f = s.makefile("rb")
def line():
    l = f.readline()
    if not l:
        sys.exit("connection closed during STARTTLS dialog")
    return l
def send(t):
    s.sendall(t.encode() + b"\r\n")
if proto in ("smtp", "submission"):
    while line()[3:4] == b"-": pass          # greeting
    send("EHLO probe.mca.test")
    while line()[3:4] == b"-": pass
    send("STARTTLS"); r = line()
    if not r.startswith(b"220"): sys.exit("STARTTLS refused: %r" % r)
elif proto == "imap":
    line(); send("a STARTTLS")
    while not (r := line()).startswith(b"a "): pass
    if not r.startswith(b"a OK"): sys.exit("STARTTLS refused: %r" % r)
elif proto == "pop3":
    line(); send("STLS"); r = line()
    if not r.startswith(b"+OK"): sys.exit("STLS refused: %r" % r)
elif proto == "sieve":
    while not line().startswith(b"OK"): pass
    send("STARTTLS"); r = line()
    if not r.startswith(b"OK"): sys.exit("STARTTLS refused: %r" % r)
elif proto not in ("https", "smtps", "imaps", "pop3s"):
    sys.exit("unknown proto " + proto)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s)
print(hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest())
if proto == "https":  # one request, so the access log shows the PROXY client
    t.sendall(b"GET / HTTP/1.0\r\nHost: probe\r\n\r\n")
    t.recv(4096)
t.close()
PY
}

# le_lineage CERTS_DIR NAME PREFIX (see the top of this file): a new version
# N of lineage NAME, written the way certbot 2.x writes a renewal
# (certbot/_internal/storage.py: save_successor, update_all_links_to), then
# the chains Mailu's config.py derives, which its front serves.
le_lineage() {
	local d=${1:?CERTS_DIR} name=${2:?NAME} prefix=${3:?PREFIX} le n kind live arch
	le=$d/letsencrypt
	live=$le/live/$name arch=$le/archive/$name
	if [ ! -s "$prefix.cert.pem" ] || [ ! -s "$prefix.key.pem" ]; then
		printf 'le_lineage: no pair %s.{cert,key}.pem\n' "$prefix" >&2
		return 1
	fi
	mkdir -p "$le/live" "$le/archive"
	chmod 0700 "$le/live" "$le/archive"
	mkdir -p "$live" "$arch"
	n=1
	while [ -e "$arch/cert$n.pem" ]; do n=$((n + 1)); done
	# archive: the key first (0600), then cert, chain and fullchain (0644)
	(umask 077 && cp "$prefix.key.pem" "$arch/privkey$n.pem") || return 1
	openssl x509 -in "$prefix.cert.pem" -out "$arch/cert$n.pem" || return 1
	awk '/-----BEGIN CERTIFICATE-----/{c++} c>1' "$prefix.cert.pem" >"$arch/chain$n.pem"
	cat "$arch/cert$n.pem" "$arch/chain$n.pem" >"$arch/fullchain$n.pem"
	chmod 0644 "$arch/cert$n.pem" "$arch/chain$n.pem" "$arch/fullchain$n.pem"
	if [ -L "$live/cert.pem" ]; then
		# a renewal: previous_KIND.pem links to the current targets, then
		# each link in turn unlinked and made anew (cert, privkey, chain,
		# fullchain), then the previous_ links go
		for kind in cert privkey chain fullchain; do
			ln -s "$(readlink "$live/$kind.pem")" "$live/previous_$kind.pem"
		done
		for kind in cert privkey chain fullchain; do
			rm -f "$live/$kind.pem"
			ln -s "../../archive/$name/$kind$n.pem" "$live/$kind.pem"
		done
		for kind in cert privkey chain fullchain; do rm -f "$live/previous_$kind.pem"; done
	else
		for kind in cert privkey chain fullchain; do
			ln -sfn "../../archive/$name/$kind$n.pem" "$live/$kind.pem"
		done
		printf 'This directory contains your keys and certificates (a test lineage).\n' >"$live/README"
	fi
	# Mailu's config.py, run as certbot's post-hook: rewritten in place
	"$(dirname "${BASH_SOURCE[0]}")/../tools/mailu-le-chains.sh" "$live" || return 1
	# shellcheck disable=SC2034 # for the caller
	LE_VERSION=$n
}
