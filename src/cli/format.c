#include "format.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void format_size(int64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	double v = bytes;
	size_t u = 0;

	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%lld B", (long long)bytes);
	else
		snprintf(buf, size, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, units[u]);
}

void format_ago(const char *rfc3339, char *buf, size_t size)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!rfc3339 || !strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, size, "%s", "");
		return;
	}
	long long secs = (long long)(time(NULL) - timegm(&tm));
	static const struct {
		long long secs;
		const char *name;
	} steps[] = {{365 * 86400LL, "year"}, {30 * 86400LL, "month"}, {7 * 86400LL, "week"},
		     {86400, "day"},	      {3600, "hour"},	       {60, "minute"}};
	if (secs < 60) {
		snprintf(buf, size, "%s", secs < 2 ? "just now" : "seconds ago");
		return;
	}
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (secs >= steps[i].secs) {
			long long n = secs / steps[i].secs;
			snprintf(buf, size, "%lld %s%s ago", n, steps[i].name, n == 1 ? "" : "s");
			return;
		}
}
