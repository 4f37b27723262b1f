#include "users.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Only a regular file: a FIFO planted at /etc/passwd would block the start
 * forever, a device could be anything. */
static FILE *open_regular(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return NULL;
	}
	FILE *f = fdopen(fd, "re");
	if (!f)
		close(fd);
	return f;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Splits one line of /etc/passwd or /etc/group into at most max fields. */
static size_t split(char *line, char **fields, size_t max)
{
	size_t n = 0;

	line[strcspn(line, "\n")] = '\0';
	fields[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == ':') {
			*p = '\0';
			fields[n++] = p + 1;
		}
	return n;
}

int users_resolve(const char *spec, struct resolved_user *out, const char **what)
{
	char user[256], group[256] = "";
	const char *colon = strchr(spec, ':');
	char line[1024];
	bool user_found = false, group_set = false;

	memset(out, 0, sizeof(*out));
	snprintf(out->home, sizeof(out->home), "/");
	if (colon) {
		snprintf(user, sizeof(user), "%.*s", (int)(colon - spec), spec);
		snprintf(group, sizeof(group), "%s", colon + 1);
	} else {
		snprintf(user, sizeof(user), "%s", spec);
	}

	FILE *f = open_regular("/etc/passwd");
	while (f && fgets(line, sizeof(line), f)) {
		char *fields[7];
		if (split(line, fields, 7) < 7)
			continue;
		bool match = all_digits(user) ? strtoul(user, NULL, 10) == strtoul(fields[2], NULL, 10)
					      : strcmp(fields[0], user) == 0;
		if (!match)
			continue;
		out->uid = strtoul(fields[2], NULL, 10);
		out->gid = strtoul(fields[3], NULL, 10);
		snprintf(out->home, sizeof(out->home), "%s", fields[5]);
		user_found = true;
		break;
	}
	if (f)
		fclose(f);
	if (!user_found) {
		if (!all_digits(user)) {
			*what = "user";
			return -ENOENT;
		}
		/* A uid without an entry: allowed, with gid 0 unless given. */
		out->uid = strtoul(user, NULL, 10);
		out->gid = 0;
	}

	if (group[0]) {
		if (all_digits(group)) {
			out->gid = strtoul(group, NULL, 10);
			group_set = true;
		}
	}
	/* Supplementary groups: every group listing the user by name, and the
	 * named group when one was given. */
	const char *name = all_digits(user) ? NULL : user;
	f = open_regular("/etc/group");
	while (f && fgets(line, sizeof(line), f)) {
		char *fields[4];
		if (split(line, fields, 4) < 4)
			continue;
		gid_t gid = strtoul(fields[2], NULL, 10);
		if (group[0] && !group_set && strcmp(fields[0], group) == 0) {
			out->gid = gid;
			group_set = true;
		}
		if (!name)
			continue;
		for (char *m = strtok(fields[3], ","); m; m = strtok(NULL, ","))
			if (strcmp(m, name) == 0 && out->n_groups < USERS_MAX_GROUPS)
				out->groups[out->n_groups++] = gid;
	}
	if (f)
		fclose(f);
	if (group[0] && !group_set) {
		*what = "group";
		return -ENOENT;
	}
	return 0;
}
