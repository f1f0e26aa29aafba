#!/bin/sh
# Helm post-renderer: Helm's rendered manifests on stdin, the same with the
# front pod's shareProcessNamespace set (kustomization.yaml) on stdout.
#   Helm 3: helm upgrade --install ... --post-renderer ./kustomize-post-renderer.sh
#   Helm 4: helm plugin install .   (plugin.yaml), then
#           helm upgrade --install ... --post-renderer mailu-cert-agent-kustomize
#   any:    helm template ... | ./kustomize-post-renderer.sh | kubectl apply -f -
# Needs kustomize, or kubectl (which has kustomize built in).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mailu-kustomize.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

cat >"$work/all.yaml"
cp "$here/kustomization.yaml" "$here/patch-share-process-namespace.yaml" "$work/"

if command -v kustomize >/dev/null 2>&1; then
	kustomize build "$work"
else
	kubectl kustomize "$work"
fi
