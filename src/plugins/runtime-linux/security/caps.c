/* Capability sets for the container process (see caps.h for the order of the
 * APPLY steps relative to setuid). */
#include "caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

static const char *const cap_names[CAPS_LAST_KNOWN + 1] = {
    [CAP_CHOWN] = "CAP_CHOWN",
    [CAP_DAC_OVERRIDE] = "CAP_DAC_OVERRIDE",
    [CAP_DAC_READ_SEARCH] = "CAP_DAC_READ_SEARCH",
    [CAP_FOWNER] = "CAP_FOWNER",
    [CAP_FSETID] = "CAP_FSETID",
    [CAP_KILL] = "CAP_KILL",
    [CAP_SETGID] = "CAP_SETGID",
    [CAP_SETUID] = "CAP_SETUID",
    [CAP_SETPCAP] = "CAP_SETPCAP",
    [CAP_LINUX_IMMUTABLE] = "CAP_LINUX_IMMUTABLE",
    [CAP_NET_BIND_SERVICE] = "CAP_NET_BIND_SERVICE",
    [CAP_NET_BROADCAST] = "CAP_NET_BROADCAST",
    [CAP_NET_ADMIN] = "CAP_NET_ADMIN",
    [CAP_NET_RAW] = "CAP_NET_RAW",
    [CAP_IPC_LOCK] = "CAP_IPC_LOCK",
    [CAP_IPC_OWNER] = "CAP_IPC_OWNER",
    [CAP_SYS_MODULE] = "CAP_SYS_MODULE",
    [CAP_SYS_RAWIO] = "CAP_SYS_RAWIO",
    [CAP_SYS_CHROOT] = "CAP_SYS_CHROOT",
    [CAP_SYS_PTRACE] = "CAP_SYS_PTRACE",
    [CAP_SYS_PACCT] = "CAP_SYS_PACCT",
    [CAP_SYS_ADMIN] = "CAP_SYS_ADMIN",
    [CAP_SYS_BOOT] = "CAP_SYS_BOOT",
    [CAP_SYS_NICE] = "CAP_SYS_NICE",
    [CAP_SYS_RESOURCE] = "CAP_SYS_RESOURCE",
    [CAP_SYS_TIME] = "CAP_SYS_TIME",
    [CAP_SYS_TTY_CONFIG] = "CAP_SYS_TTY_CONFIG",
    [CAP_MKNOD] = "CAP_MKNOD",
    [CAP_LEASE] = "CAP_LEASE",
    [CAP_AUDIT_WRITE] = "CAP_AUDIT_WRITE",
    [CAP_AUDIT_CONTROL] = "CAP_AUDIT_CONTROL",
    [CAP_SETFCAP] = "CAP_SETFCAP",
    [CAP_MAC_OVERRIDE] = "CAP_MAC_OVERRIDE",
    [CAP_MAC_ADMIN] = "CAP_MAC_ADMIN",
    [CAP_SYSLOG] = "CAP_SYSLOG",
    [CAP_WAKE_ALARM] = "CAP_WAKE_ALARM",
    [CAP_BLOCK_SUSPEND] = "CAP_BLOCK_SUSPEND",
    [CAP_AUDIT_READ] = "CAP_AUDIT_READ",
    [CAP_PERFMON] = "CAP_PERFMON",
    [CAP_BPF] = "CAP_BPF",
    [CAP_CHECKPOINT_RESTORE] = "CAP_CHECKPOINT_RESTORE",
};

_Static_assert(CAP_CHECKPOINT_RESTORE == CAPS_LAST_KNOWN, "the name table ends at CAPS_LAST_KNOWN");

static uint64_t mask_upto(int last_cap)
{
	if (last_cap >= 63)
		return UINT64_MAX;
	if (last_cap < 0)
		return 0;
	return (UINT64_C(1) << (last_cap + 1)) - 1;
}

const char *caps_name(int cap)
{
	if (cap < 0 || cap > CAPS_LAST_KNOWN)
		return NULL;
	return cap_names[cap];
}

static int lookup_name(const char *name)
{
	const char *bare = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;

	if (!*bare)
		return -1;
	for (int cap = 0; cap <= CAPS_LAST_KNOWN; cap++)
		if (strcasecmp(cap_names[cap] + 4, bare) == 0)
			return cap;
	return -1;
}

int caps_parse_name(const char *name, int *cap, struct ct_error *err)
{
	int found = lookup_name(name);

	if (found < 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "unknown capability \"%s\" (expected a name such as NET_ADMIN "
				    "or CAP_NET_ADMIN; see capabilities(7))",
				    name);
	*cap = found;
	return 0;
}

/* One --cap-add or --cap-drop list: its capabilities and whether it says ALL. */
static int parse_list(const char *const *names, size_t n, const char *flag, uint64_t *mask,
		      bool *all, struct ct_error *err)
{
	*mask = 0;
	*all = false;
	for (size_t i = 0; i < n; i++) {
		int cap;

		if (strcasecmp(names[i], "ALL") == 0) {
			*all = true;
			continue;
		}
		if (caps_parse_name(names[i], &cap, err) < 0)
			return ct_error_prefix(err, "%s", flag);
		*mask |= CAPS_BIT(cap);
	}
	return 0;
}

int caps_compute(const struct caps_request *req, uint64_t available, uint64_t *out,
		 struct ct_error *err)
{
	uint64_t add, drop, caps, missing;
	bool add_all, drop_all;

	if (req->privileged) {
		*out = available;
		return 0;
	}
	if (parse_list(req->add, req->n_add, "--cap-add", &add, &add_all, err) < 0 ||
	    parse_list(req->drop, req->n_drop, "--cap-drop", &drop, &drop_all, err) < 0)
		return -1;

	missing = add & ~available;
	if (missing) {
		_cleanup_free_ char *names = caps_to_string(missing);

		return ct_error_set(
		    err, CT_ERR_INVALID_ARGUMENT, 0,
		    "--cap-add: %s not available: the runtime does not hold it "
		    "(the host's kernel or the runtime's own bounding set lacks it)",
		    names);
	}

	if (add_all) {
		caps = available & ~drop;
	} else if (drop_all) {
		caps = add;
	} else {
		uint64_t defaults = CAPS_DOCKER_DEFAULT & ~drop;

		if (defaults & ~available) {
			_cleanup_free_ char *names = caps_to_string(defaults & ~available);

			log_warn("default capabilities %s are not available to the runtime; the "
				 "container runs without them",
				 names);
		}
		caps = (defaults & available) | add;
	}
	*out = caps;
	return 0;
}

static int read_last_cap(int *last_cap, struct ct_error *err)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int value;

	if (!f)
		return ct_error_errno(err, CT_ERR_INTERNAL,
				      "opening /proc/sys/kernel/cap_last_cap");
	if (fscanf(f, "%d", &value) != 1 || value < 0 || value > 63)
		return ct_error_set(
		    err, CT_ERR_INTERNAL, 0,
		    "/proc/sys/kernel/cap_last_cap does not hold a capability number");
	*last_cap = value;
	return 0;
}

int caps_host_read(struct caps_host *host, struct ct_error *err)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {0};
	uint64_t permitted, bounding = 0;
	int last_cap = 0;

	if (read_last_cap(&last_cap, err) < 0)
		return -1;
	if (syscall(SYS_capget, &header, data) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "reading the runtime's capabilities");
	permitted = (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
	for (int cap = 0; cap <= last_cap; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			bounding |= CAPS_BIT(cap);
	host->last_cap = last_cap;
	host->available = permitted & bounding & mask_upto(last_cap);
	return 0;
}

int caps_prepare(uint64_t caps, uid_t uid, const struct caps_options *opts,
		 const struct caps_host *host, struct caps_plan *out, struct ct_error *err)
{
	struct caps_host live;
	bool keep = opts && opts->nonroot_keeps_caps;

	if (!host) {
		if (caps_host_read(&live, err) < 0)
			return ct_error_prefix(err, "preparing the container's capabilities");
		host = &live;
	}
	if (caps & ~mask_upto(host->last_cap)) {
		_cleanup_free_ char *names = caps_to_string(caps & ~mask_upto(host->last_cap));

		/* runc does the same: a capability the kernel predates can't be held. */
		log_warn("capabilities %s are unknown to this kernel (cap_last_cap %d); left out",
			 names, host->last_cap);
		caps &= mask_upto(host->last_cap);
	}

	*out = (struct caps_plan){
	    .bounding = caps,
	    .clear_ambient = true,
	    .last_cap = host->last_cap,
	};
	if (uid == 0) {
		out->effective = out->permitted = caps;
	} else if (keep) {
		/* Only the ambient set carries capabilities across execve for a
		 * non-root process without file capabilities; raising it needs the
		 * capability in the permitted and inheritable sets. */
		out->effective = out->permitted = out->inheritable = out->ambient = caps;
		out->keep_caps = true;
	}
	return 0;
}

int caps_prepare_exact(uint64_t bounding, uint64_t effective, uint64_t permitted,
		       uint64_t inheritable, uint64_t ambient, const struct caps_host *host,
		       struct caps_plan *out, struct ct_error *err)
{
	struct caps_host live;
	uint64_t known;

	if (!host) {
		if (caps_host_read(&live, err) < 0)
			return ct_error_prefix(err, "preparing the container's capabilities");
		host = &live;
	}
	if (ambient & ~(permitted & inheritable)) {
		_cleanup_free_ char *names = caps_to_string(ambient & ~(permitted & inheritable));

		return ct_error_set(
		    err, CT_ERR_INVALID_ARGUMENT, 0,
		    "ambient capabilities %s are not both permitted and inheritable", names);
	}
	known = mask_upto(host->last_cap);
	*out = (struct caps_plan){
	    .bounding = bounding & known,
	    .effective = effective & known,
	    .permitted = permitted & known,
	    .inheritable = inheritable & known,
	    .ambient = ambient & known,
	    .clear_ambient = true,
	    /* Harmless for root; for another uid the only way to keep a permitted set. */
	    .keep_caps = (permitted & known) != 0,
	    .last_cap = host->last_cap,
	};
	return 0;
}

int caps_mask_from_names(const char *const *names, size_t n, uint64_t *out, struct ct_error *err)
{
	uint64_t mask = 0;

	for (size_t i = 0; i < n; i++) {
		int cap;

		if (caps_parse_name(names[i], &cap, err) < 0)
			return -1;
		mask |= CAPS_BIT(cap);
	}
	*out = mask;
	return 0;
}

int caps_apply_bounding(const struct caps_plan *p)
{
	for (int cap = 0; cap <= p->last_cap && cap < 64; cap++) {
		if (p->bounding & CAPS_BIT(cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	}
	return 0;
}

int caps_apply_keep_across_setuid(const struct caps_plan *p)
{
	if (!p->keep_caps)
		return 0;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

int caps_apply_final(const struct caps_plan *p)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {
	    {
		.effective = (uint32_t)p->effective,
		.permitted = (uint32_t)p->permitted,
		.inheritable = (uint32_t)p->inheritable,
	    },
	    {
		.effective = (uint32_t)(p->effective >> 32),
		.permitted = (uint32_t)(p->permitted >> 32),
		.inheritable = (uint32_t)(p->inheritable >> 32),
	    },
	};

	if (syscall(SYS_capset, &header, data) < 0)
		return -errno;
	if (p->keep_caps && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return -errno;
	/* EINVAL: a kernel before 4.3 has no ambient set, so nothing to clear. */
	if (p->clear_ambient && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return -errno;
	for (int cap = 0; cap <= p->last_cap && cap < 64; cap++)
		if ((p->ambient & CAPS_BIT(cap)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return -errno;
	return 0;
}

int caps_apply_identity(const struct caps_plan *p, uid_t uid, gid_t gid, const gid_t *groups,
			size_t n_groups, const char **failed_step)
{
	const char *unused;
	int rc;

	if (!failed_step)
		failed_step = &unused;
	*failed_step = "dropping capabilities from the bounding set";
	if ((rc = caps_apply_bounding(p)) < 0)
		return rc;
	*failed_step = "keeping capabilities across setuid (PR_SET_KEEPCAPS)";
	if ((rc = caps_apply_keep_across_setuid(p)) < 0)
		return rc;
	*failed_step = "setting the supplementary groups";
	if (setgroups(n_groups, groups) < 0)
		return -errno;
	*failed_step = "setting the group id";
	if (setresgid(gid, gid, gid) < 0)
		return -errno;
	*failed_step = "setting the user id";
	if (setresuid(uid, uid, uid) < 0)
		return -errno;
	*failed_step = "setting the capability sets";
	if ((rc = caps_apply_final(p)) < 0)
		return rc;
	*failed_step = NULL;
	return 0;
}

int caps_set_no_new_privs(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

json_t *caps_to_json(uint64_t mask)
{
	json_t *list = json_array();

	if (!list)
		return NULL;
	for (int cap = 0; cap < 64; cap++) {
		char unnamed[16];
		const char *name;

		if (!(mask & CAPS_BIT(cap)))
			continue;
		name = caps_name(cap);
		if (!name) {
			snprintf(unnamed, sizeof(unnamed), "CAP_%d", cap);
			name = unnamed;
		}
		if (json_array_append_new(list, json_string(name)) < 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

char *caps_to_string(uint64_t mask)
{
	char buf[64 * 24] = "";
	size_t used = 0;

	for (int cap = 0; cap < 64; cap++) {
		const char *name = caps_name(cap);
		int n;

		if (!(mask & CAPS_BIT(cap)))
			continue;
		n = name ? snprintf(buf + used, sizeof(buf) - used, "%s%s", used ? "," : "", name)
			 : snprintf(buf + used, sizeof(buf) - used, "%sCAP_%d", used ? "," : "",
				    cap);
		if (n < 0 || (size_t)n >= sizeof(buf) - used)
			break;
		used += (size_t)n;
	}
	return xstrdup(buf);
}
