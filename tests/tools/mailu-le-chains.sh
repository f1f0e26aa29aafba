#!/bin/sh
# tests/tools/mailu-le-chains.sh LIVE_DIR...: what Mailu's front does after
# each certbot run in the letsencrypt flavor (its config.py, certbot's
# post-hook): nginx-chain.pem and DANE-chain.pem in each lineage's live dir,
# rewritten in place from fullchain.pem (the certificates only). The front
# serves nginx-chain.pem. A LIVE_DIR without fullchain.pem (a lineage not
# issued yet) is left alone. Used by le_lineage (tests/lib/front.sh) and as
# certbot's --post-hook in 72-letsencrypt.
set -eu
for live in "$@"; do
	[ -e "$live/fullchain.pem" ] || continue
	for out in nginx-chain.pem DANE-chain.pem; do
		awk '/-----BEGIN CERTIFICATE-----/{p=1} p{print} /-----END CERTIFICATE-----/{p=0}' \
			"$live/fullchain.pem" >"$live/$out"
	done
done
