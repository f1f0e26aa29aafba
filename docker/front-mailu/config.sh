#!/bin/bash
# /config.sh — renders the configs of the mca Mailu-shaped front test image
# from the environment, then sends SIGHUP to whatever nginx and dovecot run.
# Run by /start.sh before the daemons start, and by /certwatcher.sh when a
# certificate file is created, deleted or replaced (Mailu: /config.py, read,
# not copied; it ends with `killall -q -HUP nginx dovecot`, done here with
# procps' pkill, which matches process names the same way).
#
# Which listeners exist follows Mailu's rules (socrate's clean_env, the
# nginx.conf and dovecot proxy.conf templates) and dovecot's built-in
# defaults, all checked on this image by tests/integration/09-bed-mailu.sh:
#   PORTS  default 25,80,443,465,993,995,4190; with TLS_FLAVOR=notls 443,
#          465, 993 and 995 are dropped from it.
#   TLS    default the same list; only 443, 465, 993, 995 count, and none
#          with notls.
#   nginx:   25 SMTP always, STARTTLS unless notls (or a cert file missing);
#            443 HTTPS when 443 is in TLS; 80 plain HTTP (see below).
#   dovecot: 465 submissions when in TLS; 143, 110, 587 when in PORTS (else
#            port = 0); 993 imaps when in TLS, 995 pop3s when in TLS and
#            PORTS, 4190 sieve when in PORTS -- and otherwise dovecot's own
#            default listener for that service is left in place, on the same
#            port (imap-login: imaps 993, pop3-login: pop3s 995,
#            managesieve-login: sieve 4190), as in Mailu, whose config does
#            not set port = 0 for them. With notls (ssl = no) the default
#            TLS listeners 993 and 995 are skipped by dovecot.
# Real ports are the bed's: PORT_HTTPS ... (PORT_BASE + port mod 1000), so
# every listener above is written with its mapped port. PROXY_PROTOCOL lists
# mapped ports, as in the lookalike front (docker/front-test).
set -euo pipefail

log() { printf 'config.sh: %s\n' "$*" >&2; }

: "${TLS_FLAVOR:=cert}"
: "${BIND_ADDRESS:=127.0.0.1}"
: "${HOSTNAMES:=front.mca.test}"
: "${TLS_CERT_FILENAME:=cert.pem}"
: "${TLS_KEYPAIR_FILENAME:=key.pem}"
: "${CPU_COUNT:=$(nproc)}"
: "${PROXY_PROTOCOL:=}"
: "${PORT_HTTP:=80}" "${PORT_HTTPS:=443}" "${PORT_SMTP:=25}" "${PORT_SMTPS:=465}"
: "${PORT_SUBMISSION:=587}" "${PORT_IMAP:=143}" "${PORT_IMAPS:=993}" "${PORT_POP3:=110}"
: "${PORT_POP3S:=995}" "${PORT_SIEVE:=4190}" "${PORT_HTTP_AUTH:=8000}"

NAMES="HTTP HTTPS SMTP SMTPS SUBMISSION IMAP IMAPS POP3 POP3S SIEVE"
for n in $NAMES HTTP_AUTH; do
	v=PORT_$n
	if ! [[ ${!v} =~ ^[0-9]+$ ]] || ((${!v} < 1 || ${!v} > 65535)); then
		log "bad $v='${!v}'"
		exit 2
	fi
done
[[ $PROXY_PROTOCOL =~ ^[0-9,\ ]*$ ]] || { log "bad PROXY_PROTOCOL='$PROXY_PROTOCOL' (mapped port numbers)"; exit 2; }
[[ $CPU_COUNT =~ ^[1-9][0-9]*$ ]] || { log "bad CPU_COUNT='$CPU_COUNT'"; exit 2; }

# --- Mailu's port rules --------------------------------------------------
ALL_PORTS=25,80,443,465,993,995,4190
declare -A ON=() TLSON=()
# Unset means the default; set and empty means no port at all (as in Mailu,
# whose items are compared as strings, unstripped).
IFS=, read -ra items <<<"${PORTS-$ALL_PORTS}"
for p in "${items[@]}"; do
	case $p in 443 | 465 | 993 | 995) [ "$TLS_FLAVOR" = notls ] && continue ;; esac
	ON[$p]=1
done
if [ "$TLS_FLAVOR" != notls ]; then
	IFS=, read -ra items <<<"${TLS-$ALL_PORTS}"
	for p in "${items[@]}"; do
		case $p in 443 | 465 | 993 | 995) TLSON[$p]=1 ;; esac
	done
fi
on() { [ -n "${ON[$1]:-}" ]; }
tlson() { [ -n "${TLSON[$1]:-}" ]; }

# --- the certificate files of the flavor ------------------------------------
LE=/certs/letsencrypt/live
case $TLS_FLAVOR in
cert | mail) TLS_FILES=("/certs/$TLS_CERT_FILENAME" "/certs/$TLS_KEYPAIR_FILENAME") ;;
letsencrypt | mail-letsencrypt)
	TLS_FILES=("$LE/mailu/nginx-chain.pem" "$LE/mailu/privkey.pem"
		"$LE/mailu-ecdsa/nginx-chain.pem" "$LE/mailu-ecdsa/privkey.pem") ;;
notls) TLS_FILES=() ;;
*) log "unknown TLS_FLAVOR '$TLS_FLAVOR' (cert mail letsencrypt mail-letsencrypt notls)"; exit 2 ;;
esac
LETSENCRYPT=0
case $TLS_FLAVOR in letsencrypt | mail-letsencrypt) LETSENCRYPT=1 ;; esac

# nginx-chain.pem (what nginx serves) and DANE-chain.pem (SMTP on 25) are
# made from certbot's fullchain.pem, certificates only. Mailu drops an ISRG
# root from nginx-chain.pem; a test CA is never one, so both are the chain.
pem_certs() { awk '/-----BEGIN CERTIFICATE-----/{p=1} p{print} /-----END CERTIFICATE-----/{p=0}' "$1"; }
if ((LETSENCRYPT)); then
	for lineage in mailu mailu-ecdsa; do
		[ -e "$LE/$lineage/fullchain.pem" ] || continue
		pem_certs "$LE/$lineage/fullchain.pem" >"$LE/$lineage/nginx-chain.pem"
		pem_certs "$LE/$lineage/fullchain.pem" >"$LE/$lineage/DANE-chain.pem"
	done
fi

TLS_ERROR=0
TLS_ON=0
if ((${#TLS_FILES[@]})); then
	TLS_ON=1
	for f in "${TLS_FILES[@]}"; do
		if [ ! -e "$f" ]; then
			log "Missing cert or key file ($f), disabling TLS"
			TLS_ERROR=1
			break
		fi
	done
fi

# --- PROXY protocol, by mapped port ------------------------------------------
pp_ports=",${PROXY_PROTOCOL// /},"
pp() { [[ $pp_ports == *",$1,"* ]]; }
NGX_PP_HTTP="" NGX_PP_HTTPS="" PP_SMTP=""
pp "$PORT_HTTP" && NGX_PP_HTTP=" proxy_protocol"
pp "$PORT_HTTPS" && NGX_PP_HTTPS=" proxy_protocol"
pp "$PORT_SMTP" && PP_SMTP=" proxy_protocol"
dpp() { if pp "$1"; then echo yes; else echo no; fi; }

nl=$'\n'
# --- nginx -----------------------------------------------------------------------
TLS_CERTIFICATES=""
for ((i = 0; i < ${#TLS_FILES[@]}; i += 2)); do
	TLS_CERTIFICATES+="ssl_certificate ${TLS_FILES[i]};${nl}ssl_certificate_key ${TLS_FILES[i + 1]};${nl}"
done

HTTP_SERVERS=""
if on 80 && [[ $TLS_FLAVOR == letsencrypt || $TLS_FLAVOR == cert ]]; then
	HTTP_SERVERS+="
    # port 80 of the cert and letsencrypt flavors: a redirect to HTTPS
    server {
        listen ${BIND_ADDRESS}:${PORT_HTTP}${NGX_PP_HTTP};
        location /health {
            return 204;
        }
        location / {
            return 301 https://\$host\$request_uri;
        }
    }
"
fi
main_listen=""
case $TLS_FLAVOR in
mail | mail-letsencrypt | notls) # always, whatever PORTS says
	main_listen+="        listen ${BIND_ADDRESS}:${PORT_HTTP}${NGX_PP_HTTP};${nl}" ;;
esac
if tlson 443 && ((!TLS_ERROR)); then
	main_listen+="        listen ${BIND_ADDRESS}:${PORT_HTTPS} ssl http2${NGX_PP_HTTPS};${nl}"
	pp "$PORT_HTTPS" && main_listen+="        real_ip_header proxy_protocol;${nl}"
	main_listen+="        include /etc/nginx/tls.conf;${nl}        ssl_session_cache shared:SSLHTTP:3m;${nl}"
fi
if [ -z "$main_listen" ]; then
	# a server without listen: nginx takes port 80 (as root)
	main_listen="        listen ${BIND_ADDRESS}:${PORT_HTTP}; # nginx's default for a server without listen: 80${nl}"
fi
# shellcheck disable=SC2089,SC2090 # the quotes are nginx's
HTTP_SERVERS+="
    # the main server (Mailu: the web UI, webmail and admin behind it)
    server {
${main_listen}        location /health {
            return 204;
        }
        location / {
            return 200 \"mca front (mailu-shaped)\\n\";
        }
    }
"

MAIL_TLS="" SMTP_TLS=""
if ((TLS_ON && !TLS_ERROR)); then
	MAIL_TLS="    include /etc/nginx/tls.conf;${nl}    ssl_session_cache shared:SSLMAIL:3m;"
	if ((LETSENCRYPT)); then
		SMTP_TLS+="        # the DANE chains here; the keys are the ones of tls.conf, in its order${nl}"
		SMTP_TLS+="        ssl_certificate $LE/mailu/DANE-chain.pem;${nl}"
		SMTP_TLS+="        ssl_certificate $LE/mailu-ecdsa/DANE-chain.pem;${nl}"
	fi
	if [[ ${TLS_PERMISSIVE:-true} != [Ff][Aa][Ll][Ss][Ee] && ${TLS_PERMISSIVE:-true} != [Nn][Oo] ]]; then
		# TLS_PERMISSIVE (Mailu's default): port 25 takes any TLS version a
		# sender has; a cipher list of our own.
		SMTP_TLS+="        ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;${nl}"
		SMTP_TLS+="        ssl_ciphers HIGH:MEDIUM:!aNULL:!MD5:!RC4;${nl}"
		SMTP_TLS+="        ssl_prefer_server_ciphers on;${nl}"
	fi
	SMTP_TLS+="        starttls on;"
fi

# --- dovecot ---------------------------------------------------------------------
if ((TLS_ON)); then
	# Mailu's dovecot takes the files even when one is missing (nginx then
	# runs without TLS, dovecot does not start).
	DOVECOT_SSL="ssl = required
ssl_cert = <${TLS_FILES[0]}
ssl_key = <${TLS_FILES[1]}"
	if ((LETSENCRYPT)); then
		DOVECOT_SSL+="
ssl_alt_cert = <${TLS_FILES[2]}
ssl_alt_key = <${TLS_FILES[3]}"
	fi
	DOVECOT_SSL+="
ssl_min_protocol = TLSv1.2
ssl_cipher_list = ECDHE+AESGCM:ECDHE+CHACHA20
ssl_prefer_server_ciphers = no
ssl_options = no_compression no_ticket"
else
	DOVECOT_SSL="disable_plaintext_auth = no
ssl = no"
fi

login_limits="  service_count = 0
  client_limit = 25000
  process_min_avail = ${CPU_COUNT}
  process_limit = ${CPU_COUNT}
  vsz_limit = 256M"

# listener NAME PORT [ssl]
listener() {
	printf '  inet_listener %s {\n    port = %s\n' "$1" "$2"
	[ "${3:-}" = ssl ] && printf '    ssl = yes\n'
	printf '    haproxy = %s\n  }\n' "$(dpp "$2")"
}
# a service's built-in default listener, left in place by Mailu's config
default_listener() {
	printf '  # not configured by Mailu here: dovecot'"'"'s default %s listener stays\n' "$1"
	listener "$@"
}

SIEVE_SERVICE="service managesieve-login {
$(if on 4190; then listener sieve "$PORT_SIEVE"; else default_listener sieve "$PORT_SIEVE"; fi)
$login_limits
}"
IMAP_SERVICE="service imap-login {
$(if on 143; then listener imap "$PORT_IMAP"; else listener imap 0; fi)
$(if tlson 993; then listener imaps "$PORT_IMAPS" ssl; else default_listener imaps "$PORT_IMAPS" ssl; fi)
$login_limits
}"
POP3_SERVICE="service pop3-login {
$(if on 110; then listener pop3 "$PORT_POP3"; else listener pop3 0; fi)
$(if tlson 995 && on 995; then listener pop3s "$PORT_POP3S" ssl; else default_listener pop3s "$PORT_POP3S" ssl; fi)
$login_limits
}"
SUBMISSION_SERVICE="service submission-login {
$(if on 587; then listener submission "$PORT_SUBMISSION"; else listener submission 0; fi)
$(if tlson 465; then listener submissions "$PORT_SMTPS" ssl; fi)
$login_limits
}"

MAIL_SERVER_NAME=${HOSTNAMES%%,*}
# shellcheck disable=SC2090 # the quotes are nginx's
export BIND_ADDRESS PORT_SMTP PORT_HTTP_AUTH PP_SMTP MAIL_SERVER_NAME HTTP_SERVERS MAIL_TLS SMTP_TLS \
	TLS_CERTIFICATES DOVECOT_SSL SIEVE_SERVICE IMAP_SERVICE POP3_SERVICE SUBMISSION_SERVICE

# Only our names are replaced: nginx's $host and dovecot's %u stay.
render() { # TEMPLATE OUT VARS...
	local tmpl=$1 out=$2 vars="" v
	shift 2
	for v in "$@"; do vars+="\${$v} "; done
	envsubst "$vars" <"$tmpl" >"$out.new"
	mv -f "$out.new" "$out"
}
render /etc/mca/nginx.conf.tmpl /etc/nginx/nginx.conf BIND_ADDRESS PORT_SMTP PORT_HTTP_AUTH PP_SMTP \
	MAIL_SERVER_NAME HTTP_SERVERS MAIL_TLS SMTP_TLS
render /etc/mca/tls.conf.tmpl /etc/nginx/tls.conf TLS_CERTIFICATES
render /etc/mca/proxy.conf.tmpl /etc/dovecot/proxy.conf BIND_ADDRESS MAIL_SERVER_NAME DOVECOT_SSL \
	SIEVE_SERVICE IMAP_SERVICE POP3_SERVICE SUBMISSION_SERVICE

listening=""
add() { listening+="${listening:+ }$1"; }
add "smtp:$PORT_SMTP$( ((TLS_ON && !TLS_ERROR)) && echo +starttls)"
tlson 443 && ((!TLS_ERROR)) && add "https:$PORT_HTTPS"
tlson 465 && add "smtps:$PORT_SMTPS"
on 587 && add "submission:$PORT_SUBMISSION"
on 143 && add "imap:$PORT_IMAP"
((TLS_ON)) && add "imaps:$PORT_IMAPS"
on 110 && add "pop3:$PORT_POP3"
((TLS_ON)) && add "pop3s:$PORT_POP3S"
add "sieve:$PORT_SIEVE"
log "TLS_FLAVOR=$TLS_FLAVOR PORTS=${PORTS-(default)} TLS=${TLS-(default)} -> $listening" \
	"proxy_protocol=[$PROXY_PROTOCOL] tls_error=$TLS_ERROR"

# Whatever runs re-reads the new configs (nothing does at the first start).
pkill -HUP -x nginx || true
pkill -HUP -x dovecot || true
