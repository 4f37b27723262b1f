/* --ulimit parsing, defaults and clamping (see rlimits.h). */
#include "rlimits.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
    {"as", RLIMIT_AS},		 {"core", RLIMIT_CORE},		{"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},	 {"fsize", RLIMIT_FSIZE},	{"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},	 {"nproc", RLIMIT_NPROC},	{"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},	 {"rttime", RLIMIT_RTTIME},	{"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

#define KNOWN_TYPES                                                                                \
	"as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, " \
	"rttime, sigpending, stack"

const char *rlimits_name(int resource)
{
	for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++)
		if (rlimit_names[i].resource == resource)
			return rlimit_names[i].name;
	return NULL;
}

int rlimits_resource_from_name(const char *name)
{
	if (strncasecmp(name, "RLIMIT_", 7) == 0)
		name += 7;
	for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++)
		if (strcasecmp(rlimit_names[i].name, name) == 0)
			return rlimit_names[i].resource;
	return -1;
}

/* A limit value: a decimal number, or -1 / "unlimited" for no limit. */
static int parse_value(const char *s, rlim_t *out)
{
	char *end;
	unsigned long long v;

	if (strcasecmp(s, "unlimited") == 0 || strcmp(s, "-1") == 0) {
		*out = RLIM_INFINITY;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v >= (unsigned long long)RLIM_INFINITY)
		return -1;
	*out = (rlim_t)v;
	return 0;
}

static void format_value(rlim_t v, char *buf, size_t size)
{
	if (v == RLIM_INFINITY)
		snprintf(buf, size, "unlimited");
	else
		snprintf(buf, size, "%" PRIu64, (uint64_t)v);
}

int rlimits_parse_ulimit(const char *spec, struct rlimit_setting *out, struct ct_error *err)
{
	_cleanup_free_ char *copy = strdup(spec);
	char *value, *hard;
	int resource;

	if (!copy)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM, "out of memory");
	value = strchr(copy, '=');
	if (!value)
		return ct_error_set(
		    err, CT_ERR_INVALID_ARGUMENT, 0,
		    "--ulimit \"%s\": expected TYPE=SOFT[:HARD], e.g. nofile=1024:2048", spec);
	*value++ = '\0';
	resource = rlimits_resource_from_name(copy);
	if (resource < 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "--ulimit \"%s\": unknown type \"%s\" (known: " KNOWN_TYPES ")",
				    spec, copy);
	hard = strchr(value, ':');
	if (hard)
		*hard++ = '\0';
	if (parse_value(value, &out->soft) < 0 || (hard && parse_value(hard, &out->hard) < 0))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "--ulimit \"%s\": a limit is a non-negative number, -1 or "
				    "\"unlimited\"",
				    spec);
	if (!hard)
		out->hard = out->soft;
	if (out->soft > out->hard) {
		char soft_s[32], hard_s[32];

		format_value(out->soft, soft_s, sizeof(soft_s));
		format_value(out->hard, hard_s, sizeof(hard_s));
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "--ulimit \"%s\": the soft limit (%s) is above the hard limit "
				    "(%s)",
				    spec, soft_s, hard_s);
	}
	out->resource = resource;
	return 0;
}

static bool holds_sys_resource(void)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {0};

	if (syscall(SYS_capget, &header, data) < 0)
		return false;
	return data[CAP_TO_INDEX(CAP_SYS_RESOURCE)].effective & CAP_TO_MASK(CAP_SYS_RESOURCE);
}

int rlimits_host_read(struct rlimits_host *host, struct ct_error *err)
{
	_cleanup_fclose_ FILE *f = NULL;
	unsigned long long nr_open;

	for (int r = 0; r < RLIMITS_MAX; r++)
		if (getrlimit(r, &host->current[r]) < 0)
			return ct_error_errno(err, CT_ERR_INTERNAL,
					      "reading the runtime's %s limit",
					      rlimits_name(r) ? rlimits_name(r) : "resource");
	f = fopen("/proc/sys/fs/nr_open", "re");
	if (!f)
		return ct_error_errno(err, CT_ERR_INTERNAL, "opening /proc/sys/fs/nr_open");
	if (fscanf(f, "%llu", &nr_open) != 1)
		return ct_error_set(err, CT_ERR_INTERNAL, 0,
				    "/proc/sys/fs/nr_open does not hold a number");
	host->nr_open = (rlim_t)nr_open;
	host->can_raise = holds_sys_resource();
	return 0;
}

static struct rlimits_entry *plan_slot(struct rlimits_plan *p, int resource)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->entries[i].resource == resource)
			return &p->entries[i];
	if (p->n >= RLIMITS_MAX)
		return NULL;
	p->entries[p->n] = (struct rlimits_entry){.resource = resource};
	return &p->entries[p->n++];
}

/* The highest hard limit setrlimit will accept from the runtime. */
static rlim_t host_ceiling(const struct rlimits_host *host, int resource, const char **why)
{
	rlim_t ceiling = RLIM_INFINITY;

	*why = NULL;
	if (!host->can_raise) {
		ceiling = host->current[resource].rlim_max;
		*why =
		    "the runtime's own hard limit, which it can't raise without CAP_SYS_RESOURCE";
	}
	if (resource == RLIMIT_NOFILE && host->nr_open < ceiling) {
		ceiling = host->nr_open;
		*why = "fs.nr_open";
	}
	return ceiling;
}

static void clamp_entry(struct rlimits_entry *e, const struct rlimits_host *host, bool requested)
{
	const char *why;
	rlim_t ceiling = host_ceiling(host, e->resource, &why);
	char before[80], soft_s[32], hard_s[32];

	if (e->limit.rlim_max <= ceiling)
		return;
	format_value(e->limit.rlim_cur, soft_s, sizeof(soft_s));
	format_value(e->limit.rlim_max, hard_s, sizeof(hard_s));
	snprintf(before, sizeof(before), "%s:%s", soft_s, hard_s);
	e->limit.rlim_max = ceiling;
	if (e->limit.rlim_cur > ceiling)
		e->limit.rlim_cur = ceiling;
	e->clamped = true;
	format_value(e->limit.rlim_cur, soft_s, sizeof(soft_s));
	format_value(e->limit.rlim_max, hard_s, sizeof(hard_s));
	if (requested)
		log_warn("ulimit %s=%s is above what this host allows; using %s:%s (ceiling: %s)",
			 rlimits_name(e->resource), before, soft_s, hard_s, why);
	else
		log_debug("default ulimit %s=%s clamped to %s:%s by %s", rlimits_name(e->resource),
			  before, soft_s, hard_s, why);
}

int rlimits_prepare(const struct rlimit_setting *requested, size_t n, bool with_defaults,
		    const struct rlimits_host *host, struct rlimits_plan *out, struct ct_error *err)
{
	struct rlimits_host live;
	bool nofile_requested = false;

	*out = (struct rlimits_plan){0};
	if (!host) {
		if (rlimits_host_read(&live, err) < 0)
			return ct_error_prefix(err, "preparing the container's ulimits");
		host = &live;
	}
	for (size_t i = 0; i < n; i++) {
		const struct rlimit_setting *r = &requested[i];
		struct rlimits_entry *e;

		if (r->resource < 0 || r->resource >= RLIMITS_MAX || !rlimits_name(r->resource))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "ulimit: unknown resource %d", r->resource);
		if (r->soft > r->hard) {
			char soft_s[32], hard_s[32];

			format_value(r->soft, soft_s, sizeof(soft_s));
			format_value(r->hard, hard_s, sizeof(hard_s));
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "ulimit %s: the soft limit (%s) is above the hard "
					    "limit (%s)",
					    rlimits_name(r->resource), soft_s, hard_s);
		}
		e = plan_slot(out, r->resource);
		e->limit = (struct rlimit){.rlim_cur = r->soft, .rlim_max = r->hard};
		e->clamped = false;
		if (r->resource == RLIMIT_NOFILE)
			nofile_requested = true;
	}
	for (size_t i = 0; i < out->n; i++)
		clamp_entry(&out->entries[i], host, true);

	/* No default for nproc: RLIMIT_NPROC counts every process of the real uid
	 * on the whole host, not in the container, so a default would depend on
	 * unrelated host processes; --pids-limit (the pids cgroup) bounds a
	 * container. docker sets none either; the other limits are inherited from
	 * the runtime. */
	if (with_defaults && !nofile_requested) {
		struct rlimits_entry *e = plan_slot(out, RLIMIT_NOFILE);

		e->limit = (struct rlimit){.rlim_cur = RLIMITS_DEFAULT_NOFILE,
					   .rlim_max = RLIMITS_DEFAULT_NOFILE};
		clamp_entry(e, host, false);
	}
	return 0;
}

int rlimits_apply(const struct rlimits_plan *p, size_t *failed)
{
	for (size_t i = 0; i < p->n; i++) {
		if (setrlimit(p->entries[i].resource, &p->entries[i].limit) < 0) {
			int e = errno;

			if (failed)
				*failed = i;
			return -e;
		}
	}
	return 0;
}

int rlimits_describe_failure(const struct rlimits_plan *p, size_t failed, int errnum,
			     struct ct_error *err)
{
	const struct rlimits_entry *e;
	char soft_s[32], hard_s[32];

	if (errnum < 0)
		errnum = -errnum;
	if (failed >= p->n)
		return ct_error_set(err, CT_ERR_INTERNAL, errnum, "setting ulimits: %s",
				    strerror(errnum));
	e = &p->entries[failed];
	format_value(e->limit.rlim_cur, soft_s, sizeof(soft_s));
	format_value(e->limit.rlim_max, hard_s, sizeof(hard_s));
	return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, errnum,
			    "setting ulimit %s=%s:%s in the container: %s (the host's limits: "
			    "/proc/sys/fs/nr_open and the runtime's own hard limits; lower it with "
			    "--ulimit)",
			    rlimits_name(e->resource), soft_s, hard_s, strerror(errnum));
}
