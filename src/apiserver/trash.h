/* Removing a folder tree without stalling the event loop: the tree is renamed
 * aside at once (so its name is free and nothing lists it) and removed on a
 * worker thread. A tree an API server crash left aside is removed at the next
 * boot. */
#ifndef CONTAINER_APISERVER_TRASH_H
#define CONTAINER_APISERVER_TRASH_H

#include "error.h"

struct apiserver;

/* Renames path to .removing-<name>-<random> beside it and removes that in the
 * background; when the rename fails, removes path here and now. */
int trash_tree(struct apiserver *api, const char *path, struct ct_error *err);

/* At boot: removes what an earlier run left aside under dir. */
void trash_boot(struct apiserver *api, const char *dir);

#endif
