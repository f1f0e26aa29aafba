#!/usr/bin/python3
"""A Traefik v2 acme.json with N certificates, as a busy Traefik keeps.

  acme-json-scale.py OUTDIR N HOSTNAME  -> OUTDIR/acme.json

Like Let's Encrypt's: each entry's certificate is a full chain (an RSA
4096 leaf, Traefik's default keyType, with a few SANs, the intermediate,
the root) and its key, about 10 kB of base64 per entry (the long chain: leaf, R3,
the root cross-signed by an older root). N - 1 entries are for unrelated
names (h0001.example.net, ...); the one for HOSTNAME comes last, so a
scan that stops at the first match still reads them all. The leaves
share two keys (key generation would take longer than the bench); the
selection looks at certificates, and decodes only the chosen key.
The file is written by tests/lib/acme-json-fixture.py, the layout the
agent's tests use. Needs python3-cryptography (a certbot dependency).
"""
import datetime
import os
import subprocess
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def cert(subject, issuer, key, sign_key, ca, sans, days=90):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]),
                            critical=False)
    return b.sign(sign_key, hashes.SHA256())


def pem(c):
    return c.public_bytes(serialization.Encoding.PEM)


def keypem(k):
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def main():
    out, n, host = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    new = lambda bits: rsa.generate_private_key(public_exponent=65537, key_size=bits)
    # Traefik's default keyType is RSA4096
    root_key, int_key, other_key, host_key = new(2048), new(2048), new(4096), new(4096)
    root = cert("Bench Root X1", "Bench Root X1", root_key, root_key, True, None, 3650)
    inter = cert("Bench R3", "Bench Root X1", int_key, root_key, True, None, 1825)
    # the long chain: the root cross-signed by an older 4096-bit root
    old_key = new(4096)
    cross = cert("Bench Root X1", "Bench Old Root CA X3", root_key, old_key, True, None, 1825)
    tail = pem(inter) + pem(cross)
    with open(os.path.join(out, "other.key.pem"), "wb") as f:
        f.write(keypem(other_key))
    with open(os.path.join(out, "host.key.pem"), "wb") as f:
        f.write(keypem(host_key))
    args = []
    for i in range(1, n + 1):
        if i == n:
            names, k, kf = [host, "www." + host], host_key, "host.key.pem"
        else:
            d = "h%04d.example.net" % i
            names, k, kf = [d, "www." + d, "mail." + d, "autoconfig." + d], other_key, \
                "other.key.pem"
        path = os.path.join(out, "c%04d.pem" % i)
        with open(path, "wb") as f:
            f.write(pem(cert(names[0], "Bench R3", k, int_key, False, names)) + tail)
        args += ["--entry", "le:%s:%s:%s" % (path, os.path.join(out, kf), ",".join(names))]
    here = os.path.dirname(os.path.abspath(__file__))
    fixture = os.path.join(here, "..", "lib", "acme-json-fixture.py")
    with open(os.path.join(out, "acme.json"), "wb") as f:
        subprocess.run([sys.executable, fixture, "--layout", "v2", "--resolver", "le",
                        "--account-key", os.path.join(out, "other.key.pem")] + args,
                       stdout=f, check=True)


if __name__ == "__main__":
    main()
