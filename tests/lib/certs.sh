# shellcheck shell=bash
# tests/lib/certs.sh — throwaway test PKI with the openssl CLI (sourced).
#
#   certs_ca DIR
#       DIR/ca.key.pem (EC P-256, 0600) + DIR/ca.cert.pem (self-signed, 10 years).
#       Idempotent: an existing CA in DIR is kept.
#   certs_leaf DIR OUT_PREFIX TYPE DAYS NAMES
#       leaf valid from now-1h to now+DAYS days (DAYS < 0: already expired);
#       "now" is fixed when this file is sourced, so every such leaf of a
#       test has the same notBefore.
#   certs_leaf_dates DIR OUT_PREFIX TYPE START END NAMES
#       leaf with explicit validity, START/END as YYYYMMDDHHMMSSZ (UTC).
#         TYPE  rsa (2048) | rsa1024 (weak) | ec256 | ec384 | ec521
#         NAMES comma-separated DNS names: all go to the SAN, the first is the CN
#       Writes OUT_PREFIX.cert.pem (leaf, then the CA cert) and
#       OUT_PREFIX.key.pem (unencrypted PKCS#8, 0600). Signed by the CA in DIR
#       (made on first use). OUT_PREFIX is relative to DIR unless absolute.
#   certs_fp FILE
#       SHA-256 fingerprint of the first certificate in FILE: lowercase hex, no colons.
#
# openssl 3.0's `x509 -req` cannot set notBefore, so leaves are issued with
# `openssl ca -startdate/-enddate` and a minimal config of our own.

_certs_die() { printf 'certs: %s\n' "$*" >&2; return 1; }

certs_ca() {
	local dir=${1:?certs_ca DIR}
	mkdir -p "$dir"
	[ -s "$dir/ca.key.pem" ] && [ -s "$dir/ca.cert.pem" ] && return 0
	(
		umask 077
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
			-pkeyopt ec_param_enc:named_curve -out "$dir/ca.key.pem"
	) || return 1
	cat >"$dir/ca.req.cnf" <<-'EOF'
		[req]
		distinguished_name = dn
		prompt = no
		x509_extensions = v3_ca
		[dn]
		CN = MCA Test CA
		[v3_ca]
		basicConstraints = critical, CA:TRUE
		keyUsage = critical, keyCertSign, cRLSign
		subjectKeyIdentifier = hash
		authorityKeyIdentifier = keyid:always
	EOF
	openssl req -new -x509 -config "$dir/ca.req.cnf" -key "$dir/ca.key.pem" \
		-days 3650 -sha256 -set_serial "0x$(openssl rand -hex 8)" \
		-out "$dir/ca.cert.pem" 2>/dev/null || _certs_die "CA cert failed"
}

_certs_genkey() { # TYPE OUT
	local type=$1 out=$2
	local -a opt
	case $type in
	rsa) opt=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048) ;;
	rsa1024) opt=(-algorithm RSA -pkeyopt rsa_keygen_bits:1024) ;;
	ec256) opt=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256) ;;
	ec384) opt=(-algorithm EC -pkeyopt ec_paramgen_curve:P-384) ;;
	ec521) opt=(-algorithm EC -pkeyopt ec_paramgen_curve:P-521) ;;
	*) _certs_die "unknown key type '$type' (rsa rsa1024 ec256 ec384 ec521)"; return 1 ;;
	esac
	[[ $type == ec* ]] && opt+=(-pkeyopt ec_param_enc:named_curve)
	# genpkey writes unencrypted PKCS#8 ("BEGIN PRIVATE KEY"); umask -> 0600.
	(umask 077 && openssl genpkey "${opt[@]}" -out "$out" 2>/dev/null) &&
		chmod 0600 "$out"
}

certs_leaf_dates() {
	local dir=${1:?DIR} prefix=${2:?OUT_PREFIX} type=${3:?TYPE} start=${4:?START} end=${5:?END} names=${6:?NAMES}
	local re='^[0-9]{14}Z$'
	[[ $start =~ $re && $end =~ $re ]] || { _certs_die "START/END must be YYYYMMDDHHMMSSZ"; return 1; }
	[[ $prefix == /* ]] || prefix=$dir/$prefix
	certs_ca "$dir" || return 1
	mkdir -p "$(dirname "$prefix")"

	local work
	work=$(mktemp -d "$dir/.leaf.XXXXXX") || return 1
	local cn=${names%%,*} san="" n
	local IFS=,
	for n in $names; do san+="${san:+,}DNS:$n"; done
	unset IFS
	local ku="digitalSignature"
	[[ $type == rsa* ]] && ku+=", keyEncipherment"

	# Private CA database per leaf: no shared state, so parallel calls are safe
	# and the same CN can be issued any number of times.
	: >"$work/index.txt"
	openssl rand -hex 16 | sed 's/^[89a-f]/7/' >"$work/serial" # positive, random
	cat >"$work/ca.cnf" <<-EOF
		[ca]
		default_ca = mca
		[mca]
		database = $work/index.txt
		new_certs_dir = $work
		serial = $work/serial
		certificate = $dir/ca.cert.pem
		private_key = $dir/ca.key.pem
		default_md = sha256
		policy = anything
		unique_subject = no
		copy_extensions = none
		x509_extensions = leaf
		[anything]
		commonName = supplied
		[leaf]
		basicConstraints = critical, CA:FALSE
		keyUsage = critical, $ku
		extendedKeyUsage = serverAuth
		subjectAltName = $san
		subjectKeyIdentifier = hash
		authorityKeyIdentifier = keyid
		[req]
		distinguished_name = dn
		prompt = no
		[dn]
		CN = $cn
	EOF

	if ! _certs_genkey "$type" "$work/key.pem" ||
		! openssl req -new -config "$work/ca.cnf" -key "$work/key.pem" -out "$work/req.pem" 2>"$work/err" ||
		! openssl ca -batch -notext -config "$work/ca.cnf" \
			-startdate "$start" -enddate "$end" \
			-in "$work/req.pem" -out "$work/cert.pem" 2>>"$work/err"; then
		cat "$work/err" >&2
		rm -rf "$work"
		_certs_die "issuing $prefix ($type, $names) failed"
		return 1
	fi
	cat "$work/cert.pem" "$dir/ca.cert.pem" >"$prefix.cert.pem"
	mv -f "$work/key.pem" "$prefix.key.pem"
	chmod 0600 "$prefix.key.pem"
	rm -rf "$work"
}

_certs_date() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }

# One "now" for every certs_leaf of a shell: leaves made in parallel, or a
# second apart, share their notBefore, so which is newer (docs/design.md:
# issued later, expiry breaks a tie) is decided by DAYS alone. A test that
# needs leaves issued at different times uses certs_leaf_dates.
_CERTS_NOW=${_CERTS_NOW:-$(date -u +%s)}

certs_leaf() {
	local dir=${1:?DIR} prefix=${2:?OUT_PREFIX} type=${3:?TYPE} days=${4:?DAYS} names=${5:?NAMES}
	[[ $days =~ ^-?[0-9]+$ ]] || { _certs_die "DAYS must be an integer"; return 1; }
	local now=$_CERTS_NOW end start
	end=$((now + days * 86400))
	# An hour of back-dating absorbs clock skew; an expired one gets 30 days of life.
	start=$((now - 3600))
	((end > start)) || start=$((end - 30 * 86400))
	certs_leaf_dates "$dir" "$prefix" "$type" "$(_certs_date "$start")" "$(_certs_date "$end")" "$names"
}

certs_fp() {
	local f=${1:?certs_fp FILE} out
	out=$(openssl x509 -in "$f" -noout -fingerprint -sha256) || return 1
	out=${out#*=}
	out=${out//:/}
	printf '%s\n' "${out,,}"
}
