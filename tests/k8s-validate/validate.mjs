#!/usr/bin/env node
// Validates every YAML document under compose-example/kubernetes/ (or the
// directory given as the first argument):
//  - Kubernetes and cert-manager objects against their kind's model from
//    kubernetes-models (the API's OpenAPI schemas), plus a probe for fields
//    the schema does not know (the models accept unknown fields; the API
//    server would drop them silently, so a misspelled field must fail here);
//  - Helm values for Mailu's chart: the keys against the chart's, and every
//    front.extraContainers / extraVolumes / extraVolumeMounts entry against the
//    Container / Volume / VolumeMount model; the front pod as the chart renders
//    it, with the post-renderer's patch applied, is then validated as well;
//  - the kustomization (files it names exist and reach the post-renderer; its
//    patch selects the front and sets shareProcessNamespace) and Helm 4's
//    plugin.yaml;
//  - the cert-agent container: readOnlyRootFilesystem, no privilege
//    escalation, capabilities drop ALL and add exactly [KILL], runAsUser 0
//    (the image's default is 10001, where KILL would be inert), the pod's
//    shareProcessNamespace, the agent's settings (names checked against
//    agent/config.c), its volumes and its healthcheck probes.
// An unknown apiVersion/kind, or a document that is none of the above, is an
// error. Exit 0 when everything passes, 1 otherwise, 2 on a usage error.
import { existsSync, readFileSync, readdirSync, statSync, accessSync, constants } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import YAML from "yaml";
// one module per kind: loading a whole API group's index costs ~0.5 s
import { Container } from "kubernetes-models/v1/Container";
import { Volume } from "kubernetes-models/v1/Volume";
import { VolumeMount } from "kubernetes-models/v1/VolumeMount";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const started = process.hrtime.bigint();

const args = process.argv.slice(2);
if (args.length > 1 || args.some((a) => a.startsWith("-"))) {
  console.error("usage: node validate.mjs [DIR]   (default: compose-example/kubernetes)");
  process.exit(2);
}
const root = path.resolve(args[0] ?? path.join(repo, "compose-example/kubernetes"));
if (!existsSync(root) || !statSync(root).isDirectory()) {
  console.error(`validate.mjs: no directory ${root}`);
  process.exit(2);
}

const AGENT_IMAGE = "mailu-cert-agent";
const AGENT_PROBE = ["/mailu-cert-agent", "healthcheck"];
const POST_RENDERER = "kustomize-post-renderer.sh";

// Mailu's Helm chart (Mailu/helm-charts, charts/mailu/values.yaml, chart
// 2.7.1): top-level keys, and the keys of front and ingress. Helm ignores a
// misspelled value silently; here it is an error.
const CHART_KEYS = new Set([
  "global", "kubeVersion", "nameOverride", "fullnameOverride", "commonLabels",
  "commonAnnotations", "tolerations", "affinity", "imageRegistry", "hostnames",
  "domain", "secretKey", "existingSecret", "timezone", "initialAccount", "api",
  "subnet", "subnet6", "networkPolicy", "mailuVersion", "logLevel", "postmaster",
  "recipientDelimiter", "dmarc", "limits", "externalRelay", "clusterDomain",
  "credentialRounds", "sessionCookieSecure", "authRequireTokens", "sessionTimeout",
  "permanentSessionLifetime", "letsencryptShortchain", "customization",
  "welcomeMessage", "wildcardSenders", "tls", "externalDatabase", "externalRedis",
  "database", "mariadb", "postgresql", "persistence", "ingress", "proxyAuth",
  "front", "admin", "redis", "postfix", "dovecot", "rspamd", "clamav", "webmail",
  "webdav", "fetchmail", "oletools", "tika",
]);
const CHART_FRONT_KEYS = new Set([
  "logLevel", "image", "hostPort", "externalService", "kind", "replicaCount",
  "resources", "livenessProbe", "readinessProbe", "startupProbe", "podLabels",
  "podAnnotations", "nodeSelector", "initContainers", "priorityClassName",
  "podSecurityContext", "containerSecurityContext", "terminationGracePeriodSeconds",
  "affinity", "tolerations", "revisionHistoryLimit", "hostAliases", "schedulerName",
  "service", "topologySpreadConstraints", "updateStrategy", "extraEnvVars",
  "extraEnvVarsCM", "extraEnvVarsSecret", "extraVolumeMounts", "extraVolumes",
  "extraContainers", "overrides",
]);
const CHART_INGRESS_KEYS = new Set([
  "enabled", "ingressClassName", "pathType", "apiVersion", "path", "annotations",
  "tls", "existingSecret", "selfSigned", "extraHosts", "extraPaths", "extraTls",
  "secrets", "extraRules", "realIpHeader", "realIpFrom", "tlsFlavorOverride",
  "proxyProtocol",
]);
const KUSTOMIZATION_KEYS = new Set([
  "apiVersion", "kind", "metadata", "resources", "patches", "namespace",
  "namePrefix", "nameSuffix", "labels", "commonLabels", "commonAnnotations",
  "images", "components",
]);
const PATCH_TARGET_KEYS = new Set([
  "group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector",
]);
const PLUGIN_KEYS = new Set(["apiVersion", "type", "name", "version", "runtime", "runtimeConfig"]);

// The agent's setting names, from its own settings table: an unknown AGENT_
// name makes the agent exit 64 at start, a crash loop in a pod.
const agentSettings = (() => {
  const f = path.join(repo, "agent/config.c");
  if (!existsSync(f)) return null;
  const names = [...readFileSync(f, "utf8").matchAll(/\{\s*"([A-Z][A-Z0-9_]*)",\s*"[a-z0-9-]+",/g)].map((m) => m[1]);
  return names.length > 0 ? new Set(names) : null;
})();

let nErrors = 0;
let nChecked = 0;
const error = (where, msg) => {
  nErrors++;
  console.error(`error: ${where}: ${msg}`);
};
const ok = (where, what) => {
  nChecked++;
  console.log(`ok    ${where}: ${what}`);
};
const rel = (f) => path.relative(root, f) || path.basename(f);
const clone = (v) => structuredClone(v);
const isMap = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const ptr = (parts) => parts.map((p) => "/" + String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("");

// ---------------------------------------------------------------- models

// apiVersion and kind -> the model class, from kubernetes-models or
// @kubernetes-models/cert-manager (each kind is its own module there)
const moduleCache = new Map();
async function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string") return null;
  if (!/^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/.test(apiVersion)) return null;
  if (!/^[A-Z][A-Za-z0-9]*$/.test(kind)) return null;
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
  const spec = group.endsWith("cert-manager.io")
    ? `@kubernetes-models/cert-manager/${apiVersion}/${kind}`
    : `kubernetes-models/${apiVersion}/${kind}`;
  if (!moduleCache.has(spec)) {
    moduleCache.set(spec, await import(spec).catch(() => null));
  }
  const mod = moduleCache.get(spec);
  const cls = mod?.[kind];
  // nested types (Container, PodSpec, ...) have no kind of their own
  return typeof cls === "function" && cls.kind === kind && cls.apiVersion === apiVersion ? cls : null;
}

function schemaErrors(cls, obj) {
  try {
    cls.prototype.validate.call(obj);
    return [];
  } catch (e) {
    if (Array.isArray(e?.errors)) return e.errors;
    throw e;
  }
}

function fmtErrors(errors) {
  return errors
    .map((e) => `${e.instancePath || "/"} ${e.message ?? e.keyword}${e.params ? " " + JSON.stringify(e.params) : ""}`)
    .join("; ");
}

// The models ignore properties their schema does not name. Find those: give
// one property at a time a value no schema type accepts (a function); a
// property the schema knows yields an error at its own path, an unknown one
// none. Run only on an object that already validates.
const PROBE = () => {};
function unknownFields(cls, rootObj) {
  const unknown = [];
  const walk = (node, parts) => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => walk(v, [...parts, i]));
      return;
    }
    if (!isMap(node)) return;
    for (const key of Object.keys(node)) {
      const saved = node[key];
      const at = ptr([...parts, key]);
      node[key] = PROBE;
      const errs = schemaErrors(cls, rootObj);
      node[key] = saved;
      if (errs.some((e) => e.instancePath === at || e.instancePath.startsWith(at + "/"))) {
        walk(saved, [...parts, key]);
      } else {
        unknown.push(at);
      }
    }
  };
  walk(rootObj, []);
  return unknown;
}

// Schema errors and unknown fields of obj as a cls; true when clean.
function validateAs(cls, obj, where, what) {
  const copy = clone(obj);
  const errs = schemaErrors(cls, copy);
  if (errs.length > 0) {
    error(where, `${what}: ${fmtErrors(errs)}`);
    return false;
  }
  const unknown = unknownFields(cls, copy);
  if (unknown.length > 0) {
    error(where, `${what}: unknown field${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- policy

const isAgent = (c) => c?.name === "cert-agent" || String(c?.image ?? "").includes(AGENT_IMAGE);

function podSpecOf(obj) {
  switch (obj?.kind) {
    case "Pod":
      return obj.spec;
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "ReplicaSet":
    case "Job":
      return obj.spec?.template?.spec;
    case "CronJob":
      return obj.spec?.jobTemplate?.spec?.template?.spec;
    default:
      return undefined;
  }
}

function checkAgentContainer(c, where) {
  const w = `${where} container ${c.name}`;
  const sc = c.securityContext ?? {};
  const caps = sc.capabilities ?? {};
  if (sc.readOnlyRootFilesystem !== true) error(w, "securityContext.readOnlyRootFilesystem must be true");
  if (sc.allowPrivilegeEscalation !== false) error(w, "securityContext.allowPrivilegeEscalation must be false");
  if (sc.privileged === true) error(w, "securityContext.privileged must not be true");
  if (!Array.isArray(caps.drop) || !caps.drop.includes("ALL")) error(w, "securityContext.capabilities.drop must include ALL");
  const add = Array.isArray(caps.add) ? caps.add : [];
  if (add.length !== 1 || add[0] !== "KILL") {
    error(w, `securityContext.capabilities.add must be exactly [KILL], is ${JSON.stringify(caps.add ?? [])}`);
  }
  // The image runs as uid 10001 by default. Kubernetes grants no ambient
  // capabilities, so KILL takes effect only for uid 0: the signal backend
  // must say runAsUser: 0 (and not runAsNonRoot), or SIGHUP fails with EPERM.
  if (sc.runAsUser !== 0) error(w, `securityContext.runAsUser must be 0 (CAP_KILL is inert for another uid), is ${JSON.stringify(sc.runAsUser ?? null)}`);
  if (sc.runAsNonRoot === true) error(w, "securityContext.runAsNonRoot must not be true: the signal backend needs uid 0 with CAP_KILL");

  const env = new Map();
  for (const e of c.env ?? []) {
    if (env.has(e.name)) error(w, `env ${e.name} set twice`);
    env.set(e.name, e.value);
  }
  if (agentSettings) {
    for (const name of env.keys()) {
      if (name.startsWith("AGENT_") && !agentSettings.has(name)) {
        error(w, `env ${name} is not an agent setting (agent/config.c); the agent would exit 64`);
      }
    }
  }
  const want = { AGENT_RELOAD: "signal", AGENT_STATE_DIR: "/state", CERTS_DIR: "/certs", AGENT_SOURCE: "k8s-secret:/certs" };
  for (const [k, v] of Object.entries(want)) {
    if (env.get(k) !== v) error(w, `env ${k} must be ${JSON.stringify(v)}, is ${JSON.stringify(env.get(k))}`);
  }
  if (env.has("AGENT_ENDPOINTS")) error(w, "env AGENT_ENDPOINTS must stay unset (the signal backend probes 127.0.0.1)");

  for (const p of ["livenessProbe", "readinessProbe", "startupProbe"]) {
    if (c[p] && !isDeepStrictEqual(c[p].exec?.command, AGENT_PROBE)) {
      error(w, `${p} must be exec ${JSON.stringify(AGENT_PROBE)}`);
    }
  }
  if (!c.livenessProbe) error(w, `livenessProbe missing (exec ${JSON.stringify(AGENT_PROBE)})`);
}

// A pod spec: every volumeMount names a volume; a pod with the agent shares
// its process namespace, mounts the Secret read-only at /certs and a
// writable emptyDir at /state.
function checkPod(spec, where) {
  if (!isMap(spec)) return false;
  const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  for (const c of containers) {
    for (const m of c.volumeMounts ?? []) {
      if (!volumes.has(m.name)) error(`${where} container ${c.name}`, `volumeMount ${m.name} names no volume of the pod`);
    }
  }
  const agents = (spec.containers ?? []).filter(isAgent);
  for (const c of agents) {
    checkAgentContainer(c, where);
    const mount = (p) => (c.volumeMounts ?? []).find((m) => m.mountPath === p);
    const certs = mount("/certs");
    const state = mount("/state");
    if (!certs) error(`${where} container ${c.name}`, "nothing mounted at /certs");
    else {
      if (certs.readOnly !== true) error(`${where} container ${c.name}`, "/certs must be mounted readOnly");
      if (!volumes.get(certs.name)?.secret) error(`${where} container ${c.name}`, "/certs must be a Secret volume");
    }
    if (!state) error(`${where} container ${c.name}`, "nothing mounted at /state (AGENT_STATE_DIR)");
    else {
      if (state.readOnly === true) error(`${where} container ${c.name}`, "/state must be writable");
      if (!volumes.get(state.name)?.emptyDir) error(`${where} container ${c.name}`, "/state must be an emptyDir volume");
    }
  }
  if (agents.length > 0 && spec.shareProcessNamespace !== true) {
    error(where, "pod with the cert-agent must have shareProcessNamespace: true (AGENT_RELOAD=signal)");
  }
  return agents.length > 0;
}

// ---------------------------------------------------------------- kustomize

function matchesTarget(obj, target) {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  if (target.group !== undefined && target.group !== group) return false;
  if (target.version !== undefined && target.version !== version) return false;
  if (target.kind !== undefined && target.kind !== obj.kind) return false;
  if (target.name !== undefined && target.name !== obj.metadata?.name) return false;
  if (target.namespace !== undefined && target.namespace !== obj.metadata?.namespace) return false;
  if (target.labelSelector !== undefined) {
    for (const term of String(target.labelSelector).split(",")) {
      const m = /^\s*([^=!\s]+)\s*==?\s*([^\s]*)\s*$/.exec(term);
      if (!m) return null; // a selector this validator does not evaluate
      if (obj.metadata?.labels?.[m[1]] !== m[2]) return false;
    }
  }
  return true;
}

// Strategic merge, as far as this patch needs: maps merge, lists of named
// items merge by name, other lists and scalars replace.
function smp(base, patch) {
  if (isMap(base) && isMap(patch)) {
    const out = { ...base };
    for (const [k, v] of Object.entries(patch)) out[k] = k in base ? smp(base[k], v) : clone(v);
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch) && [...base, ...patch].every((x) => isMap(x) && "name" in x)) {
    const out = base.map((x) => clone(x));
    for (const p of patch) {
      const i = out.findIndex((x) => x.name === p.name);
      if (i >= 0) out[i] = smp(out[i], p);
      else out.push(clone(p));
    }
    return out;
  }
  return clone(patch);
}

// ---------------------------------------------------------------- load

function yamlFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out;
}

const docs = []; // { file, index, where, obj }
for (const file of yamlFiles(root)) {
  const text = readFileSync(file, "utf8");
  // Kubernetes and Helm read YAML 1.1 (yes/no/on/off are booleans there)
  const parsed = YAML.parseAllDocuments(text, { version: "1.1", uniqueKeys: true, prettyErrors: true });
  const list = Array.isArray(parsed) ? parsed : [parsed];
  list.forEach((doc, index) => {
    const where = list.length > 1 ? `${rel(file)}#${index + 1}` : rel(file);
    for (const e of [...doc.errors, ...doc.warnings]) error(where, `YAML: ${e.message.split("\n")[0]}`);
    if (doc.errors.length > 0) return;
    const obj = doc.toJS();
    if (obj === null || obj === undefined) return; // empty document
    docs.push({ file, index, where, obj });
  });
}
if (docs.length === 0) error(rel(root), "no YAML documents");

const scriptPath = path.join(root, POST_RENDERER);
const script = existsSync(scriptPath) ? readFileSync(scriptPath, "utf8") : null;

// kustomizations first: their patch files are patches, not objects
const kustomizations = docs.filter((d) => d.obj?.kind === "Kustomization");
const patchFiles = new Map(); // abs path -> [{ target, where }]
for (const k of kustomizations) {
  const errorsBefore = nErrors;
  const o = k.obj;
  const dir = path.dirname(k.file);
  if (o.apiVersion !== "kustomize.config.k8s.io/v1beta1") error(k.where, `apiVersion ${o.apiVersion}: want kustomize.config.k8s.io/v1beta1`);
  for (const key of Object.keys(o)) if (!KUSTOMIZATION_KEYS.has(key)) error(k.where, `unknown field /${key}`);
  const inScript = (name) => script !== null && path.dirname(k.file) === root && script.includes(`/${name}`);
  for (const r of o.resources ?? []) {
    if (typeof r !== "string") error(k.where, `resource ${JSON.stringify(r)} is not a path`);
    else if (existsSync(path.join(dir, r))) {
      if (script !== null && !inScript(r)) error(k.where, `resource ${r} is not copied by ${POST_RENDERER}`);
    } else if (!inScript(r)) error(k.where, `resource ${r}: no such file, and ${POST_RENDERER} does not write it`);
  }
  if (!Array.isArray(o.patches) || o.patches.length === 0) error(k.where, "no patches");
  for (const [i, p] of (o.patches ?? []).entries()) {
    const w = `${k.where} /patches/${i}`;
    for (const key of Object.keys(p)) if (!["path", "target", "patch", "options"].includes(key)) error(w, `unknown field ${key}`);
    if (typeof p.path !== "string") {
      error(w, "only patches with a path are checked here");
      continue;
    }
    const pf = path.join(dir, p.path);
    if (!existsSync(pf)) error(w, `patch ${p.path}: no such file`);
    else if (script !== null && !inScript(p.path)) error(w, `patch ${p.path} is not copied by ${POST_RENDERER}`);
    if (!isMap(p.target) || !p.target.kind) error(w, "target with a kind required (the patch must select the front only)");
    for (const key of Object.keys(p.target ?? {})) if (!PATCH_TARGET_KEYS.has(key)) error(w, `unknown target field ${key}`);
    if (!patchFiles.has(pf)) patchFiles.set(pf, []);
    patchFiles.get(pf).push({ target: p.target ?? {}, where: w });
  }
  if (nErrors === errorsBefore) ok(k.where, "Kustomization");
}
if (kustomizations.length > 0 && script === null) error(rel(root), `${POST_RENDERER} missing beside kustomization.yaml`);
if (script !== null) {
  try {
    accessSync(scriptPath, constants.X_OK);
  } catch {
    error(POST_RENDERER, "not executable");
  }
}

// ---------------------------------------------------------------- objects

const workloads = []; // { where, obj }  validated objects with a pod template
const chartRenders = []; // { where, obj } the front Deployment as Mailu's chart renders it
const agentContainers = []; // { where, container }
const certificates = []; // { where, obj }
const patches = []; // { where, obj, uses }

for (const d of docs) {
  const { obj, where } = d;
  if (d.obj?.kind === "Kustomization") continue;
  if (patchFiles.has(d.file)) {
    patches.push({ where, obj, uses: patchFiles.get(d.file) });
    continue;
  }
  if (!isMap(obj)) {
    error(where, "not a mapping");
    continue;
  }
  const base = path.basename(d.file);
  if (base === "plugin.yaml" && obj.kind === undefined) {
    checkPlugin(obj, where, path.dirname(d.file));
    continue;
  }
  if (/^values.*\.ya?ml$/.test(base) && obj.kind === undefined) {
    checkValues(obj, where);
    continue;
  }
  if (obj.apiVersion === undefined || obj.kind === undefined) {
    error(where, "no apiVersion/kind: not a Kubernetes object, Helm values (values*.yaml) or a kustomization");
    continue;
  }
  const cls = await modelFor(obj.apiVersion, obj.kind);
  if (!cls) {
    error(where, `unknown kind ${obj.kind} in ${obj.apiVersion}`);
    continue;
  }
  const what = `${obj.kind} ${obj.metadata?.name ?? "(no name)"}`;
  const errorsBefore = nErrors;
  if (!validateAs(cls, obj, where, what)) continue;
  const spec = podSpecOf(obj);
  if (spec) {
    workloads.push({ where, obj });
    if (checkPod(spec, where)) {
      for (const c of spec.containers.filter(isAgent)) agentContainers.push({ where, container: c });
    }
  }
  if (obj.kind === "Certificate") {
    certificates.push({ where, obj });
    if (!Array.isArray(obj.spec?.dnsNames) || obj.spec.dnsNames.length === 0) {
      error(where, "Certificate without dnsNames (Mailu's HOSTNAMES)");
    }
  }
  if (nErrors === errorsBefore) ok(where, what);
}

function checkPlugin(obj, where, dir) {
  const errorsBefore = nErrors;
  for (const key of Object.keys(obj)) if (!PLUGIN_KEYS.has(key)) error(where, `unknown field /${key}`);
  if (obj.apiVersion !== "v1") error(where, "apiVersion must be v1 (Helm 4 plugin)");
  if (obj.type !== "postrenderer/v1") error(where, "type must be postrenderer/v1");
  if (obj.runtime !== "subprocess") error(where, "runtime must be subprocess");
  if (typeof obj.name !== "string" || !/^[a-z][a-z0-9-]*$/.test(obj.name)) error(where, "name must be lowercase letters, digits, dashes");
  if (typeof obj.version !== "string" || !/^\d+\.\d+\.\d+/.test(obj.version)) error(where, "version must be SemVer");
  const cmds = obj.runtimeConfig?.platformCommand;
  if (!Array.isArray(cmds) || cmds.length === 0) {
    error(where, "runtimeConfig.platformCommand missing");
    return;
  }
  for (const c of cmds) {
    const m = /^\$\{HELM_PLUGIN_DIR\}\/(.+)$/.exec(c?.command ?? "");
    if (!m) error(where, `command ${JSON.stringify(c?.command)} must be \${HELM_PLUGIN_DIR}/FILE`);
    else if (!existsSync(path.join(dir, m[1]))) error(where, `command ${m[1]}: no such file`);
  }
  if (nErrors === errorsBefore) ok(where, `Helm plugin ${obj.name}`);
}

function checkValues(obj, where) {
  for (const key of Object.keys(obj)) if (!CHART_KEYS.has(key)) error(where, `/${key} is not a value of Mailu's chart`);
  const front = obj.front ?? {};
  const ingress = obj.ingress ?? {};
  if (!isMap(front)) return error(where, "/front is not a mapping");
  for (const key of Object.keys(front)) if (!CHART_FRONT_KEYS.has(key)) error(where, `/front/${key} is not a value of Mailu's chart`);
  if (isMap(ingress)) {
    for (const key of Object.keys(ingress)) if (!CHART_INGRESS_KEYS.has(key)) error(where, `/ingress/${key} is not a value of Mailu's chart`);
  }
  const lists = [
    ["extraContainers", Container],
    ["initContainers", Container],
    ["extraVolumes", Volume],
    ["extraVolumeMounts", VolumeMount],
  ];
  let clean = true;
  for (const [key, cls] of lists) {
    if (front[key] === undefined) continue;
    if (!Array.isArray(front[key])) {
      error(where, `/front/${key} must be a list`);
      clean = false;
      continue;
    }
    front[key].forEach((item, i) => {
      const what = `front.${key}[${i}] (${cls.name}${item?.name ? " " + item.name : ""})`;
      if (validateAs(cls, item, where, what)) ok(where, what);
      else clean = false;
    });
  }
  const agents = (front.extraContainers ?? []).filter(isAgent);
  if (agents.length === 0) error(where, "no cert-agent in front.extraContainers");
  if (!clean || agents.length === 0) return;

  // The front Deployment as charts/mailu/templates/front/deployment.yaml
  // renders it (the parts that matter here): Secret volume "certs" at /certs
  // with tls.crt -> cert.pem and tls.key -> key.pem, extraVolumes, extraContainers.
  const secretName = typeof ingress.existingSecret === "string" && ingress.existingSecret !== ""
    ? ingress.existingSecret
    : "mailu-certificates";
  const labels = { "app.kubernetes.io/name": "mailu", "app.kubernetes.io/instance": "mailu", "app.kubernetes.io/component": "front" };
  const render = {
    apiVersion: "apps/v1",
    kind: front.kind ?? "Deployment",
    metadata: { name: "mailu-front", namespace: "mailu", labels },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name: "front",
              image: "ghcr.io/mailu/nginx:2024.06",
              volumeMounts: [{ name: "certs", mountPath: "/certs" }, ...clone(front.extraVolumeMounts ?? [])],
            },
            ...clone(front.extraContainers),
          ],
          volumes: [
            { name: "certs", secret: { secretName, items: [{ key: "tls.crt", path: "cert.pem" }, { key: "tls.key", path: "key.pem" }] } },
            ...clone(front.extraVolumes ?? []),
          ],
        },
      },
    },
  };
  if (render.kind !== "Deployment") {
    error(where, `front.kind ${render.kind}: the kustomization's patch targets a Deployment`);
    return;
  }
  chartRenders.push({ where: `${where} (front as the chart renders it)`, obj: render });
  for (const c of agents) agentContainers.push({ where, container: c });
}

// ---------------------------------------------------------------- patches

// Each patch is applied to every front it would meet: the chart's render of
// each values file, and each workload here with its shareProcessNamespace
// removed (so the patch alone has to set it). The result must validate and
// pass the pod checks.
for (const p of patches) {
  const o = p.obj;
  if (!isMap(o) || !o.apiVersion || !o.kind) {
    error(p.where, "a strategic merge patch needs apiVersion and kind");
    continue;
  }
  if (!(await modelFor(o.apiVersion, o.kind))) {
    error(p.where, `unknown kind ${o.kind} in ${o.apiVersion}`);
    continue;
  }
  const candidates = [
    ...chartRenders,
    ...workloads.map((w) => {
      const obj = clone(w.obj);
      const spec = podSpecOf(obj);
      if (spec) delete spec.shareProcessNamespace;
      return { where: w.where, obj };
    }),
  ];
  let applied = 0;
  for (const use of p.uses) {
    for (const c of candidates) {
      const m = matchesTarget(c.obj, use.target);
      if (m === null) {
        error(use.where, `labelSelector ${use.target.labelSelector}: only k=v terms are evaluated here`);
        continue;
      }
      if (!m || c.obj.kind !== o.kind || c.obj.apiVersion !== o.apiVersion) continue;
      applied++;
      // kustomize matches by target; the patch's own name is not used
      const { metadata: _ignored, ...body } = o;
      const out = smp(c.obj, body);
      const cls = await modelFor(out.apiVersion, out.kind);
      const what = `${o.kind} ${out.metadata?.name} patched by ${path.basename(p.where)}`;
      if (!validateAs(cls, out, c.where, what)) continue;
      const spec = podSpecOf(out);
      const errorsBefore = nErrors;
      if (spec?.shareProcessNamespace !== true) error(c.where, `${what}: shareProcessNamespace is not true`);
      checkPod(spec, `${c.where} patched`);
      if (nErrors === errorsBefore) ok(c.where, what);
    }
  }
  if (applied === 0) error(p.where, "the kustomization's target selects no front here (no values file, no matching Deployment)");
}
// a values file without a patch would leave the pod without a shared PID namespace
if (chartRenders.length > 0 && patches.length === 0) {
  for (const r of chartRenders) error(r.where, "no kustomization patch sets shareProcessNamespace (the chart has no value for it)");
}

// ---------------------------------------------------------------- cross-file

if (certificates.length > 0) {
  const names = new Set(certificates.map((c) => c.obj.spec?.secretName));
  for (const w of [...workloads, ...chartRenders]) {
    const spec = podSpecOf(w.obj);
    const agent = (spec?.containers ?? []).find(isAgent);
    const mount = agent?.volumeMounts?.find((m) => m.mountPath === "/certs");
    const secret = (spec?.volumes ?? []).find((v) => v.name === mount?.name)?.secret?.secretName;
    if (secret !== undefined && !names.has(secret)) {
      error(w.where, `the agent's /certs Secret ${secret} is written by no Certificate here (${[...names].join(", ")})`);
    }
  }
}
for (let i = 1; i < agentContainers.length; i++) {
  if (!isDeepStrictEqual(agentContainers[0].container, agentContainers[i].container)) {
    error(agentContainers[i].where, `cert-agent container differs from the one in ${agentContainers[0].where}`);
  }
}
if (agentContainers.length === 0 && nErrors === 0) error(rel(root), "no cert-agent container anywhere");

const ms = Number(process.hrtime.bigint() - started) / 1e6;
if (nErrors > 0) {
  console.error(`validate.mjs: ${nErrors} error${nErrors > 1 ? "s" : ""} (${nChecked} checks passed, ${ms.toFixed(0)} ms)`);
  process.exit(1);
}
console.log(`validate.mjs: ${nChecked} checks passed, ${docs.length} documents, ${ms.toFixed(0)} ms`);
