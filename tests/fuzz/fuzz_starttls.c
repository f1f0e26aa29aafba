/*
 * fuzz_starttls: the STARTTLS dialogues (agent/starttls.c) fed server
 * lines. The input is what a server sends; it is cut into lines as the
 * probe does (at LF, one CR before it dropped) and fed to all four state
 * machines (SMTP, IMAP, POP3, ManageSieve) side by side, each until it
 * says handshake or fail; the implicit-TLS kind must refuse at once.
 * Checks: every SEND is one command ending in CRLF, every FAIL names a
 * reason, phases and line counts stay in their bounds, an SMTP line the
 * reply parser accepts has a 3-digit code, and above all TLS starts only
 * right after our STARTTLS (STLS) command was answered, and for SMTP and
 * ManageSieve only when the server offered it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "starttls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct starttls_state st[STARTTLS__MAX];
	int done[STARTTLS__MAX] = { 0 }, sends[STARTTLS__MAX] = { 0 };
	const char *sent[STARTTLS__MAX] = { NULL };
	const char *text = (const char *)data, *end = text + size;

	for (int k = 0; k < STARTTLS__MAX; k++)
		starttls_init(&st[k], (enum starttls_kind)k);
	while (text < end) {
		const char *eol = memchr(text, '\n', (size_t)(end - text));
		size_t len = (size_t)((eol != NULL ? eol : end) - text);
		int code = -1, last = -1;

		if (eol == NULL)
			break;		/* an unfinished line is never fed */
		if (len > 0 && text[len - 1] == '\r')
			len--;
		if (starttls_smtp_reply(text, len, &code, &last) == 0 &&
		    (code < 0 || code > 999 || (last != 0 && last != 1)))
			abort();
		for (int k = 0; k < STARTTLS__MAX; k++) {
			const char *out = NULL;
			enum starttls_action a;
			size_t olen;

			if (done[k])
				continue;
			a = starttls_feed(&st[k], text, len, &out);
			switch (a) {
			case STARTTLS_READ:
				if (out != NULL)
					abort();
				break;
			case STARTTLS_SEND:
				olen = out != NULL ? strlen(out) : 0;
				if (olen < 3 || strcmp(out + olen - 2, "\r\n") != 0 ||
				    memchr(out, '\n', olen - 1) != NULL || ++sends[k] > 2)
					abort();
				sent[k] = out;
				break;
			case STARTTLS_HANDSHAKE:
				if (sent[k] == NULL || (strcmp(sent[k], "STARTTLS\r\n") != 0 &&
				    strcmp(sent[k], "a1 STARTTLS\r\n") != 0 &&
				    strcmp(sent[k], "STLS\r\n") != 0))
					abort();
				if ((k == STARTTLS_SMTP || k == STARTTLS_SIEVE) &&
				    !st[k].offered)
					abort();
				done[k] = 1;
				break;
			case STARTTLS_FAIL:
				if (out == NULL || out[0] == '\0')
					abort();
				done[k] = 1;
				break;
			default:
				abort();
			}
			if (k == STARTTLS_NONE && a != STARTTLS_FAIL)
				abort();
			if (st[k].phase < 0 || st[k].phase > 2 ||
			    st[k].lines > STARTTLS_MAX_LINES + 1)
				abort();
		}
		text = eol + 1;
	}
	return 0;
}
