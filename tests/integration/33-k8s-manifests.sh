#!/bin/bash
# The Kubernetes examples (compose-example/kubernetes/) validate against the
# Kubernetes and cert-manager API schemas (npm: kubernetes-models,
# @kubernetes-models/cert-manager), with the cert-agent's security context and
# the pod's shared PID namespace enforced; broken copies are rejected, so the
# validator can fail. With kustomize or kubectl present, the Helm
# post-renderer runs for real on a chart-shaped render. Needs no engine.
. "$(dirname "$0")/../lib/lib.sh"

require_cmd node npm

V=$MCA_ROOT/tests/k8s-validate
K=$MCA_ROOT/compose-example/kubernetes
NPM_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/mailu-cert-agent/npm
mkdir -p "$NPM_CACHE"

ms_now() { date +%s%3N; }

# pinned by package-lock.json; from the cache once it is warm
t0=$(ms_now)
if ! npm ci --prefix "$V" --cache "$NPM_CACHE" --prefer-offline \
	--no-audit --no-fund --loglevel=error >"$T/npm.log" 2>&1; then
	fail "npm ci failed (see npm.log)"
fi
log "npm ci: $(($(ms_now) - t0)) ms"

# validate DIR NAME: run the validator on DIR, output in $T/NAME.{log,err.log}
validate() {
	set +e
	node "$V/validate.mjs" "$1" >"$T/$2.log" 2>"$T/$2.err.log"
	VALIDATE_RC=$?
	set -e
}

t0=$(ms_now)
validate "$K" valid
log "validate: $(($(ms_now) - t0)) ms"
assert_eq 0 "$VALIDATE_RC" "validator exit code on compose-example/kubernetes"
out=$(cat "$T/valid.log")
assert_contains "$out" "values-cert-agent.yaml: front.extraContainers[0] (Container cert-agent)"
assert_contains "$out" "plain/front-with-agent.yaml: Deployment mailu-front"
assert_contains "$out" "certificate.yaml: Certificate mailu-certificates"
assert_contains "$out" "patched by patch-share-process-namespace.yaml"

# broken NAME 'EXPECTED ERROR' FILE SED-SCRIPT: a copy with one edit is rejected
broken() {
	local name=$1 want=$2 file=$3 script=$4 dir=$T/$1
	cp -a "$K" "$dir"
	sed -i -e "$script" "$dir/$file"
	cmp -s "$K/$file" "$dir/$file" && fail "$name: the edit changed nothing in $file"
	validate "$dir" "$name"
	assert_eq 1 "$VALIDATE_RC" "validator exit code for $name"
	assert_file_contains "$T/$name.err.log" "$want" "$name errors"
}
broken sys-admin 'capabilities.add must be exactly [KILL], is ["KILL","SYS_ADMIN"]' \
	plain/front-with-agent.yaml 's/add: \["KILL"\]/add: ["KILL", "SYS_ADMIN"]/'
broken misspelled-field 'unknown field /securityContext/readOnlyRootFilesytem' \
	values-cert-agent.yaml 's/readOnlyRootFilesystem: true/readOnlyRootFilesytem: true/'
broken no-shared-pids 'must have shareProcessNamespace: true' \
	plain/front-with-agent.yaml 's/shareProcessNamespace: true/shareProcessNamespace: false/'
broken patch-typo 'unknown field /spec/template/spec/shareProcessNamespce' \
	patch-share-process-namespace.yaml 's/shareProcessNamespace:/shareProcessNamespce:/'
broken escalation 'allowPrivilegeEscalation must be false' \
	values-cert-agent.yaml 's/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/'
broken image-user 'securityContext.runAsUser must be 0 (CAP_KILL is inert for another uid), is null' \
	plain/front-with-agent.yaml '/runAsUser: 0/d'
broken non-root 'runAsNonRoot must not be true' \
	values-cert-agent.yaml 's/runAsUser: 0/runAsUser: 0\n        runAsNonRoot: true/'
broken unknown-kind 'unknown kind Certificat in cert-manager.io/v1' \
	certificate.yaml 's/^kind: Certificate$/kind: Certificat/'
broken chart-value-typo '/front/extraContainer is not a value of Mailu' \
	values-cert-agent.yaml 's/^  extraContainers:/  extraContainer:/'

# The post-renderer on what Helm would hand it: the front Deployment without
# shareProcessNamespace, and a Service that must come out untouched.
if command -v kustomize >/dev/null 2>&1 || command -v kubectl >/dev/null 2>&1; then
	mkdir "$T/render" "$T/rendered"
	sed '/shareProcessNamespace: true/d' "$K/plain/front-with-agent.yaml" >"$T/render/all.yaml"
	cat >>"$T/render/all.yaml" <<'YAML'
---
apiVersion: v1
kind: Service
metadata:
  name: mailu-front
  labels:
    app.kubernetes.io/component: front
spec:
  selector:
    app.kubernetes.io/component: front
  ports:
    - { name: imaps, port: 993 }
YAML
	validate "$T/render" unpatched
	assert_eq 1 "$VALIDATE_RC" "validator exit code on the unpatched render"
	"$K/kustomize-post-renderer.sh" <"$T/render/all.yaml" >"$T/rendered/all.yaml" 2>"$T/post-renderer.log" ||
		fail "kustomize-post-renderer.sh failed"
	validate "$T/rendered" rendered
	assert_eq 0 "$VALIDATE_RC" "validator exit code on the post-rendered output"
	assert_contains "$(cat "$T/rendered.log")" "Service mailu-front"
	assert_eq 1 "$(grep -c 'shareProcessNamespace: true' "$T/rendered/all.yaml")" "patched pods"
else
	log "no kustomize or kubectl: the post-renderer itself not run"
fi
pass
