#include "trash.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "apiserver.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#define TRASH_PREFIX ".removing-"

static void remove_work(void *arg)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	if (ct_remove_tree(arg, &err) < 0)
		log_warn("%s", ct_error_message(&err));
}

static void remove_done(void *arg)
{
	free(arg);
}

static void remove_in_background(struct apiserver *api, char *path)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;

	if (ct_worker_start(api->loop, remove_work, remove_done, path, &err) < 0) {
		log_warn("%s; removing %s in the foreground", ct_error_message(&err), path);
		remove_work(path);
		free(path);
	}
}

int trash_tree(struct apiserver *api, const char *path, struct ct_error *err)
{
	_cleanup_free_ char *copy = xstrdup(path);
	char *slash = strrchr(copy, '/');
	unsigned int r = 0;

	if (!slash)
		return ct_remove_tree(path, err);
	*slash = '\0';
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned int)getpid();
	char *aside = xasprintf("%s/" TRASH_PREFIX "%s-%08x", copy, slash + 1, r);
	if (rename(path, aside) < 0) {
		free(aside);
		if (errno == ENOENT)
			return 0;
		return ct_remove_tree(path, err);
	}
	remove_in_background(api, aside);
	return 0;
}

void trash_boot(struct apiserver *api, const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, TRASH_PREFIX, strlen(TRASH_PREFIX)) == 0) {
			log_info("removing %s/%s, left by an interrupted delete", dir, e->d_name);
			remove_in_background(api, xasprintf("%s/%s", dir, e->d_name));
		}
}
