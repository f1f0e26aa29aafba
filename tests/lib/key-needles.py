#!/usr/bin/env python3
"""Key material scanner for tests/integration/63-key-material.sh.

  key-needles.py make KEY.pem...        > needles.tsv
      every form in which a private key's bytes could leak, one
      "label<TAB>needle" per line: the PEM base64 body lines, the DER
      (PKCS#8 and traditional) as hex (lower, upper) and base64, and the raw
      private scalar (EC "priv", RSA d/p/q) as hex and base64. Long forms are
      cut into overlapping windows, so a partial leak is found too. Windows
      that only repeat the public key (which every certificate holds) are
      left out, so a certificate file can be scanned too.
  key-needles.py scan needles.tsv FILE...
      prints "FILE: label" for every needle found in a FILE (also after
      undoing JSON escapes), exit 1 if any, 0 if none.

Uses the openssl CLI (3.x) for the DER and the private numbers.
"""
import base64
import re
import subprocess
import sys

WIN_HEX, STEP_HEX = 32, 16      # 16-byte windows every 8 bytes
WIN_B64, STEP_B64 = 32, 16      # 24-byte windows every 12 bytes


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True,
                          check=True).stdout


def windows(s, win, step):
    if len(s) <= win:
        return [s]
    out = [s[i:i + win] for i in range(0, len(s) - win + 1, step)]
    out.append(s[-win:])
    return out


def needles_of(path):
    pem = open(path, "rb").read()
    out = []
    body = [ln.strip() for ln in pem.decode().splitlines()
            if ln.strip() and not ln.startswith("-----")]
    out += [("pem line", ln) for ln in body if len(ln) >= 16]
    ders = {"pkcs8 der": openssl("pkey", "-in", path, "-outform", "DER")}
    trad = openssl("pkey", "-in", path, "-traditional")
    tbody = "".join(ln for ln in trad.decode().splitlines() if not ln.startswith("-----"))
    ders["traditional der"] = base64.b64decode(tbody)
    out += [("traditional pem line", ln) for ln in
            trad.decode().splitlines() if not ln.startswith("-----") and len(ln) >= 16]
    text = openssl("pkey", "-in", path, "-text", "-noout").decode()
    # the private numbers: "priv:" (EC), "privateExponent:", "prime1:", "prime2:" (RSA)
    for name in ("priv", "privateExponent", "prime1", "prime2"):
        m = re.search(r"^%s:\s*\n((?:\s+[0-9a-f:]+\n)+)" % name, text, re.M)
        if m:
            h = re.sub(r"[\s:]", "", m.group(1)).lstrip("0")
            h = h if len(h) % 2 == 0 else "0" + h
            ders["raw " + name] = bytes.fromhex(h)
    for label, raw in ders.items():
        h = raw.hex()
        out += [(label + " hex", w) for w in windows(h, WIN_HEX, STEP_HEX)]
        out += [(label + " HEX", w.upper()) for w in windows(h, WIN_HEX, STEP_HEX)]
        for kind, enc in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            b = enc(raw).decode().rstrip("=")
            out += [("%s %s" % (label, kind), w) for w in windows(b, WIN_B64, STEP_B64)]
    if not any(k.startswith("raw ") for k in ders):
        sys.exit("%s: no private number found in openssl's -text output" % path)
    # The public half (RSA's modulus, EC's point) is in the private key's DER
    # and in every certificate for it: a window of it is no leak. Dropped are
    # the needles found in the public key's DER in any of its three base64
    # alignments (a certificate embeds it at an arbitrary offset).
    spki = openssl("pkey", "-in", path, "-pubout", "-outform", "DER")
    public = [spki.hex(), spki.hex().upper()]
    for shift in range(3):
        public += [base64.b64encode(spki[shift:]).decode(),
                   base64.urlsafe_b64encode(spki[shift:]).decode()]
    return [(label, n) for label, n in out if not any(n in p for p in public)]


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        for path in sys.argv[2:]:
            for label, n in needles_of(path):
                print("%s: %s\t%s" % (path.rsplit("/", 1)[-1], label, n))
        return 0
    if len(sys.argv) >= 4 and sys.argv[1] == "scan":
        needles = [ln.rstrip("\n").split("\t", 1) for ln in open(sys.argv[2])]
        found = 0
        for f in sys.argv[3:]:
            raw = open(f, "rb").read().decode("utf-8", "replace")
            variants = {raw, raw.replace("\\/", "/").replace("\\n", "\n").replace("\\r", "")}
            seen = set()
            for label, n in needles:
                if label not in seen and any(n in v for v in variants):
                    seen.add(label)
                    print("%s: %s" % (f, label))
                    found += 1
        return 1 if found else 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
