#!/bin/bash
# make test-repro: the release binary is reproducible. The committed HEAD is
# cloned twice, into folders of other names and depths, and built with
# `make static` from a cold deps cache each time (another XDG_CACHE_HOME,
# so other work dir names too), under another time zone and umask: the two
# binaries must be the same bytes, and hold no path of their clone or cache.
# When this tree is clean, its own `make static` (the usual cache) must
# give them too. On a difference: which deps differ, `cmp -l`, the strings
# that differ, and diffoscope's view when it is installed.
# REPRO_ARCHES="x86_64 aarch64" checks the arm64 binary as well (longer).
# Slow (two cold deps builds): not in `make test`; times in docs/testing.md.
. "$(dirname "$0")/../lib/lib.sh"
require_cmd git cmp strings

head=$(git -C "$MCA_ROOT" rev-parse HEAD)
arches=${REPRO_ARCHES:-x86_64}
target() { case $1 in x86_64) echo static ;; aarch64) echo static-arm64 ;; *) fail "arch $1" ;; esac; }
out() { case $1 in x86_64) echo build/static ;; aarch64) echo build/static-arm64 ;; esac; }

# build NAME CLONE CACHE TZ UMASK: a fresh clone of HEAD, every arch built
build() {
	local name=$1 dir=$2 cache=$3 tz=$4 mask=$5 a t0
	git clone -q --no-checkout "$MCA_ROOT" "$dir"
	git -C "$dir" checkout -q --detach "$head"
	for a in $arches; do
		t0=$(date +%s)
		(cd "$dir" && umask "$mask" && TZ=$tz XDG_CACHE_HOME=$cache make "$(target "$a")") \
			>"$T/$name-$a.log" 2>&1 || fail "make $(target "$a") in $dir"
		log "$name $a: $(($(date +%s) - t0)) s cold ($dir, cache $cache)"
	done
}

# hints A B: where two builds part
hints() {
	local a=$1 b=$2 lib
	echo "--- deps that differ ($cache_one vs $cache_two):"
	for lib in "$cache_one"/mailu-cert-agent/deps-*/lib/*.a; do
		cmp -s "$lib" "${lib/#$cache_one/$cache_two}" || echo "  ${lib#"$cache_one"/}"
	done
	echo "--- cmp -l (offset, octal bytes): $(cmp -l "$a" "$b" | wc -l) bytes differ"
	cmp -l "$a" "$b" | head -n 20
	echo "--- strings that differ:"
	diff <(strings -n 6 "$a" | sort -u) <(strings -n 6 "$b" | sort -u) | head -n 40
	if command -v diffoscope >/dev/null; then
		diffoscope --text - "$a" "$b" | head -n 100
	fi
}

cache_one=$T/cache-one
cache_two=$T/a-longer-cache-folder/two
build one "$T/one" "$cache_one" UTC 022
build two "$T/somewhere/else/deeper/clone-two" "$cache_two" Asia/Tokyo 077

for a in $arches; do
	one=$T/one/$(out "$a")/mailu-cert-agent
	two=$T/somewhere/else/deeper/clone-two/$(out "$a")/mailu-cert-agent
	if ! cmp -s "$one" "$two"; then
		hints "$one" "$two" >&2
		fail "$a: two builds of $head differ"
	fi
	# no folder of the builds in the binary (the clone, the cache, the work dirs)
	for needle in "$T" /.build- /.cache/; do
		! grep -aqF -- "$needle" "$one" || fail "$a: the binary names $needle: $(strings "$one" | grep -F -- "$needle" | head -3)"
	done
	log "$a: same bytes, sha256 $(sha256sum <"$one" | cut -d' ' -f1), $(stat -c %s "$one") bytes"
done

# this tree, warm, with the usual cache
if [ -z "$(git -C "$MCA_ROOT" status --porcelain --untracked-files=no)" ]; then
	for a in $arches; do
		t0=$(date +%s)
		make -C "$MCA_ROOT" "$(target "$a")" >"$T/tree-$a.log" 2>&1 || fail "make $(target "$a") in this tree"
		log "this tree $a: $(($(date +%s) - t0)) s (usual cache)"
		mine=$MCA_ROOT/$(out "$a")/mailu-cert-agent
		one=$T/one/$(out "$a")/mailu-cert-agent
		cmp -s "$one" "$mine" || { hints "$one" "$mine" >&2; fail "$a: this tree's build differs"; }
	done
else
	log "this tree has uncommitted changes: its own build is not compared"
fi
pass "$arches"
