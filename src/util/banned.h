/*
 * banned.h: functions copa refuses to call (force-included into every
 * translation unit by meson.build). Each one has an unbounded or silent failure
 * mode; use copa_buf, snprintf, copa_blob_to_u64/strtoull with checks instead.
 *
 * The system headers that declare them are included first so their include
 * guards make later #includes no-ops; after that, any use is a compile error.
 */
#ifndef COPA_BANNED_H
#define COPA_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BANNED(func) sorry_##func##_is_banned_in_copa

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef atoll
#define atoll(x) BANNED(atoll)
#undef gets
#define gets(x) BANNED(gets)

#endif
