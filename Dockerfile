# The release image from a clone: docker build -t mailu-cert-agent .
#   build    Debian 12: scripts/install-deps.sh --static, then `make static`:
#            the pinned Debian sources and Debian 12's toolchain, as on a
#            host, so the binary has the bytes `make static` gives there
#            (its sha256 is printed in this stage's log);
#   release  FROM scratch: the static binary, a CA bundle, names for uid 10001.
# `make image` builds the release stage alone, from the host's `make static`:
# tests/lib/image-build.sh takes the lines from `FROM scratch` on.
# BASE: any Debian 12 image (no registry? see docs/testing.md). The build
# stage needs the network for apt: on an engine without a bridge network,
# `docker build --network host .`. Build from a git clone: the version is
# `git describe`. Works with the legacy builder and with BuildKit.
ARG BASE=debian:12
FROM ${BASE} AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh --static
COPY . .
RUN make static && scripts/release-rootfs.sh build/static/mailu-cert-agent /rootfs

FROM scratch

LABEL org.opencontainers.image.title=mailu-cert-agent

# One layer: the binary, /etc/ssl/certs/ca-certificates.crt, /etc/passwd and
# /etc/group (scripts/release-rootfs.sh), dated the commit's time.
COPY --from=build /rootfs/ /

# The static OpenSSL honours SSL_CERT_FILE; there is no openssl.cnf in here.
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt

# Not root by default (docs/operations.md, "Least privilege"). The uid needs write access
# to the certs dir (chown -R 10001 /mailu/certs) and the Docker socket's group
# (--group-add / compose `user: "10001:<gid>"`), nothing else: run it with
# --cap-drop ALL --read-only --security-opt no-new-privileges. Only the signal
# backend runs as uid 0, with CAP_KILL alone: the kernel honours an added
# capability only for uid 0 (neither Docker nor Kubernetes grants ambient
# capabilities), and the nginx and dovecot masters it signals are root's.
USER 10001:10001

# `healthcheck` reads the status file the daemon writes after each cycle.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/mailu-cert-agent", "healthcheck"]

ENTRYPOINT ["/mailu-cert-agent"]
CMD ["run"]
