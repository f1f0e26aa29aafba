#!/usr/bin/env python3
"""Builds a Traefik certificate store (acme.json) from PEM files, for tests.

  acme-json-fixture.py --layout v1|v2 [--resolver NAME]... \\
      --entry RESOLVER:CERTFILE:KEYFILE[:MAIN[,SAN...]] ... \\
      --account-key KEYFILE [--email ADDR] [--key-type T] [--truncate N] > acme.json

The layouts, as Traefik writes them (json.MarshalIndent, two spaces):
  v1 (Traefik 1.x):  {"Account": {...}, "Certificates": [{"Domain": {"Main", "SANs"},
                      "Certificate", "Key"}], "HTTPChallenges": {}, "TLSChallenges": {}}
  v2 (2.x and 3.x):  {"RESOLVER": {"Account": {...}, "Certificates": [{"domain":
                      {"main", "sans"}, "certificate", "key", "Store": "default"}]}}
Certificate and Key are base64 of the PEM files (Go's []byte). The Account's
PrivateKey is base64 of the key's DER, as Traefik stores it (from the PEM
body of --account-key). In v2 every resolver gets an Account; a resolver
without entries has "Certificates": null, as Traefik writes it. For v1 the
RESOLVER part of --entry is ignored (it may be empty). Without MAIN the
entry has no domain member at all. Paths must not contain ':'.

--truncate N writes only the first N bytes: a writer caught mid-write.
Only the Python standard library is used.
"""
import argparse
import base64
import json
import re
import sys


def b64_file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode("ascii")


def der_of_pem(path):
    """The DER inside the first PEM block of path (any block type)."""
    with open(path, "r", encoding="ascii") as f:
        text = f.read()
    m = re.search(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", text, re.S)
    if m is None:
        sys.exit(f"acme-json-fixture: no PEM block in {path}")
    return base64.b64decode("".join(m.group(2).split()), validate=True)


def account(key_path, email, key_type):
    return {
        "Email": email,
        "Registration": {
            "body": {"status": "valid", "contact": [f"mailto:{email}"]},
            "uri": "https://acme-v02.api.letsencrypt.org/acme/acct/1234567890",
        },
        "PrivateKey": base64.b64encode(der_of_pem(key_path)).decode("ascii"),
        "KeyType": key_type,
    }


def parse_entry(spec):
    parts = spec.split(":", 3)
    if len(parts) < 3 or not parts[1] or not parts[2]:
        sys.exit(f"acme-json-fixture: --entry RESOLVER:CERTFILE:KEYFILE[:MAIN[,SAN...]], got {spec!r}")
    names = parts[3].split(",") if len(parts) == 4 and parts[3] else []
    return {"resolver": parts[0], "cert": parts[1], "key": parts[2], "names": names}


def entry_json(e, v1):
    out = {}
    if e["names"]:
        main, sans = e["names"][0], e["names"][1:] or None
        out["Domain" if v1 else "domain"] = (
            {"Main": main, "SANs": sans} if v1 else {"main": main, "sans": sans})
    out["Certificate" if v1 else "certificate"] = b64_file(e["cert"])
    out["Key" if v1 else "key"] = b64_file(e["key"])
    if not v1:
        out["Store"] = "default"
    return out


def build(args):
    entries = [parse_entry(s) for s in args.entry]
    acct = account(args.account_key, args.email, args.key_type)
    if args.layout == "v1":
        return {
            "Account": acct,
            "Certificates": [entry_json(e, True) for e in entries] or None,
            "HTTPChallenges": {},
            "TLSChallenges": {},
        }
    resolvers = list(args.resolver)
    for e in entries:
        if not e["resolver"]:
            sys.exit("acme-json-fixture: a v2 --entry needs a RESOLVER")
        if e["resolver"] not in resolvers:
            resolvers.append(e["resolver"])
    store = {}
    for r in resolvers:
        certs = [entry_json(e, False) for e in entries if e["resolver"] == r]
        store[r] = {"Account": acct, "Certificates": certs or None}
    return store


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--layout", choices=("v1", "v2"), required=True)
    p.add_argument("--resolver", action="append", default=[],
                   help="a resolver to include (v2), even without entries")
    p.add_argument("--entry", action="append", default=[],
                   help="RESOLVER:CERTFILE:KEYFILE[:MAIN[,SAN...]]")
    p.add_argument("--account-key", required=True, help="PEM key of the ACME account")
    p.add_argument("--email", default="admin@example.test")
    p.add_argument("--key-type", default="4096", help="the Account's KeyType")
    p.add_argument("--truncate", type=int, metavar="N",
                   help="write only the first N bytes")
    args = p.parse_args()
    data = json.dumps(build(args), indent=2).encode("ascii")
    if args.truncate is not None:
        if args.truncate < 0:
            sys.exit("acme-json-fixture: --truncate N needs N >= 0")
        data = data[:args.truncate]
    sys.stdout.buffer.write(data)


if __name__ == "__main__":
    main()
