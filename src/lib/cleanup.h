/* Scope-bound cleanup helpers (after LXC's and crun's): a variable declared with
 * one of these is released when it leaves scope, so error paths can simply return. */
#ifndef CONTAINER_CLEANUP_H
#define CONTAINER_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}

static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void cleanup_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void cleanup_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static inline void cleanup_strvp(char ***v)
{
	if (*v) {
		for (char **p = *v; *p; p++)
			free(*p);
		free(*v);
	}
}

#define _cleanup_free_	   __attribute__((cleanup(cleanup_freep)))
#define _cleanup_close_	   __attribute__((cleanup(cleanup_closep)))
#define _cleanup_fclose_   __attribute__((cleanup(cleanup_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(cleanup_closedirp)))
#define _cleanup_strv_	   __attribute__((cleanup(cleanup_strvp)))

/* Hand ownership out of a cleanup-managed variable: returns the value and resets
 * the source so its cleanup does nothing. */
#define move_ptr(p)                                                                                \
	({                                                                                         \
		__typeof__(p) moved_ = (p);                                                        \
		(p) = NULL;                                                                        \
		moved_;                                                                            \
	})

#define move_fd(fd)                                                                                \
	({                                                                                         \
		int moved_ = (fd);                                                                 \
		(fd) = -1;                                                                         \
		moved_;                                                                            \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
