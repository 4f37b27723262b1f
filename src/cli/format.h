/* Human-readable figures for listings, as docker prints them. */
#ifndef CONTAINER_CLI_FORMAT_H
#define CONTAINER_CLI_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* "1.2 MB", "45.6 kB", "512 B" (powers of 1000). */
void format_size(int64_t bytes, char *buf, size_t size);
/* "3 minutes ago" from an RFC 3339 time; "" when it can't be parsed. */
void format_ago(const char *rfc3339, char *buf, size_t size);

#endif
