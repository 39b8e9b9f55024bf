/*
 * armor.h: OpenPGP ASCII armour (RFC 4880 section 6, RFC 9580 section 6.2)
 * decoded natively, so keys given as ".asc" files or inline in a deb822
 * Signed-By field can be handed to gpgv, which only reads binary keyrings.
 *
 * Input is untrusted (image content, user files): every block is bounded by
 * the input size, the checksum line (CRC24) is verified when present, and
 * anything that is not well-formed armour is an error naming `what`.
 * Pure functions; any thread may call them.
 */
#ifndef COPA_PGP_ARMOR_H
#define COPA_PGP_ARMOR_H

#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest armoured text copa decodes (a keyring with a few dozen keys is < 1 MiB). */
#define COPA_ARMOR_MAX (8u << 20)

/* True when data starts (after blank lines) with an armour header line. */
bool copa_pgp_is_armored(const void *data, size_t n);

/*
 * Decodes every "-----BEGIN PGP ...-----" block of text (n bytes), appending
 * the binary packets to out. Text between blocks is ignored, as gpg does.
 * Returns the number of blocks decoded (at least 1), or -1 with err set
 * (COPA_E_INPUT naming `what`: no block, bad base64, CRC24 mismatch, missing
 * END line; COPA_E_LIMIT over COPA_ARMOR_MAX).
 */
int copa_pgp_dearmor(const char *text, size_t n, const char *what, struct copa_buf *out,
                     struct copa_err *err);

/* The OpenPGP CRC24 of n bytes (RFC 4880 section 6.1). */
uint32_t copa_pgp_crc24(const void *data, size_t n);

#endif
