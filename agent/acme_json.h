/*
 * acme_json: picking the pair to serve out of Traefik's certificate
 * store (acme.json). The store holds the ACME account key and the keys
 * of every other domain Traefik serves: only the chosen entry's key is
 * ever decoded, and every buffer a key passed through is wiped.
 */
#ifndef MCA_ACME_JSON_H
#define MCA_ACME_JSON_H

#include <stddef.h>
#include <time.h>

#include "cert.h"
#include "install.h"

/* Traefik's acme.json can hold the ACME account key and other domains' keys. */
#define ACME_JSON_MAX (64 * 1024 * 1024)

/*
 * Selects, from an acme.json document (v1: {"Account":..,"Certificates":[{"Domain":{"Main","SANs"},"Certificate","Key"}]};
 * v2/v3: {"RESOLVER":{"Account":..,"Certificates":[{"domain":{"main","sans"},"certificate","key","Store"}]}}),
 * the entry whose certificate covers every name in hostnames (main or SANs, RFC 6125 wildcards: use the
 * certificate itself via X509_check_host, not only the JSON names), restricted to one resolver if
 * resolver != NULL (v2/v3; for v1 a resolver name is ignored). Among matches the newest valid one wins
 * (not expired at now, latest notAfter; ties: latest notBefore). Certificate/Key values are base64 of PEM.
 * On success fills out (cert_pem = the decoded certificate PEM chain, key_pem = decoded key PEM,
 * fingerprint = SHA-256 of the leaf DER as cert_fingerprint() does) and returns 0.
 * On failure returns -1 with *why: CERT_BAD_ACME_JSON (not JSON / wrong shape / bad base64 / resolver missing),
 * CERT_HOSTNAME_MISMATCH (entries exist, none covers the names), CERT_EXPIRED (the only covering entries are expired),
 * and detail (never any key bytes or base64 of keys; resolver names, counts and domains are fine).
 *
 * Also, beyond the contract above:
 * - len > ACME_JSON_MAX: CERT_TOO_LARGE, nothing read.
 * - A store without any certificate (Traefik has not obtained one yet,
 *   "Certificates": null or []): CERT_NO_CERTIFICATE.
 * - The JSON is read as jansson reads it with JSON_REJECT_DUPLICATES
 *   (jsonscan.h: also its bounds on names and numbers); anything else is
 *   CERT_BAD_ACME_JSON, with the position in detail.
 * - An entry that is not an object, or whose certificate is missing, not
 *   base64, longer than base64 of CERT_FILE_MAX, or not a PEM certificate,
 *   is skipped and counted in detail; only when no entry parses is the
 *   store CERT_BAD_ACME_JSON. A bad key in the chosen entry (missing, not
 *   base64, too large) is CERT_BAD_ACME_JSON.
 * - An entry whose leaf cannot cover the names is ruled out from a look
 *   at the leaf's DER (a TLV walk and a byte search, see acme_pick.c),
 *   without parsing it: its chain past the leaf is not examined, so a
 *   broken chain there does not count it as unparsable. Every entry whose
 *   leaf may cover is parsed whole, as cert_parse_chain does.
 * - A covering entry not valid yet ranks below every valid one, but above
 *   expired ones; cert_validate then names it not_yet_valid.
 * - n_hostnames == 0: every entry covers (the newest of the store wins).
 * - On success detail names the chosen entry (resolver, index, domain).
 * - The key PEM is not parsed here: cert_parse_key and cert_validate
 *   (key_mismatch) do that downstream, as for every other source.
 * - Only one entry's members and the best entry so far are held at a
 *   time; every buffer a key passed through is wiped. The caller's json
 *   buffer holds every key of the store: wipe it (cert_buf_free) once
 *   this returns, or use acme_json_select_fd.
 * - Installs, once per process, a jansson free function that wipes each
 *   block before freeing it (see acme_json.c).
 */
int acme_json_select(const unsigned char *json, size_t len, const char *resolver,
    char *const *hostnames, size_t n_hostnames, time_t now, struct install_pair *out,
    enum cert_reason *why, char *detail, size_t dlen);

/*
 * The same, reading the store from fd (a file of size bytes, as
 * cert_open_file gives it) in chunks, so it is never held whole. More
 * than size bytes there (a writer at work), or a failed read, is
 * CERT_UNREADABLE, as cert_read_file says it. fd is not closed.
 */
int acme_json_select_fd(int fd, size_t size, const char *resolver,
    char *const *hostnames, size_t n_hostnames, time_t now, struct install_pair *out,
    enum cert_reason *why, char *detail, size_t dlen);

#endif
