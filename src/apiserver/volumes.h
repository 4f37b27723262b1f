/* Volumes: the `volume.*` routes, and what containers need of them.
 *
 * A volume is a row in state.db (volume_db.h) and a folder
 * <app root>/volumes/<name>/ whose _data is what containers see. With
 * --opt size=SIZE, _data is an ext4 file system in disk.img on a loop device
 * (volume_disk.c), mounted at create, at API server start and before a
 * container using it starts. A new volume's first container fills it with the
 * image's content at the mount point (volume_fill.c); the file `populated`
 * beside _data records that this happened, so it happens once.
 *
 * A container's mounts are kept in its options ("mounts") as
 *   {type: bind|volume|tmpfs, source, destination, readOnly, name?, noCopy?, options?}
 * where a volume's source is its _data folder and name the volume's name. */
#ifndef CONTAINER_VOLUMES_H
#define CONTAINER_VOLUMES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "apiserver.h"
#include "error.h"

/* container.create: checks options' "mounts" and normalises them in place:
 * destinations cleaned and unique, bind sources absolute and existing, volume
 * names valid, an anonymous volume named anon-<uuid>. Creates nothing. */
int volumes_check_mounts(struct apiserver *api, json_t *options, struct ct_error *err);
/* container.create, once the container can be made: creates the volumes its
 * mounts name that don't exist yet. On failure nothing it made is left. */
int volumes_ensure(struct apiserver *api, json_t *options, struct ct_error *err);
/* container.start: mounts the sized volumes and fills new ones from the image
 * (whose layers the bundle's config.json lists) on a worker thread, then calls
 * done with NULL or what failed (at once when there is nothing to fill). */
typedef void (*volumes_ready_fn)(const struct ct_error *err, void *data);
void volumes_prepare_start(struct apiserver *api, const char *bundle, json_t *options,
			   volumes_ready_fn done, void *data);
/* After a container is deleted (with -v, or run with --rm), or its creation
 * failed: deletes its anonymous volumes that no other container uses. */
void volumes_remove_anonymous(struct apiserver *api, json_t *options);

/* volume_disk.c: sized volumes in <voldir>/disk.img mounted on <voldir>/_data. */
int volume_disk_create(const char *voldir, int64_t size, struct ct_error *err);
/* Mounts it unless it is mounted already. */
int volume_disk_mount(const char *voldir, struct ct_error *err);
/* Unmounts it when mounted; the loop device goes with it (AUTOCLEAR). */
int volume_disk_unmount(const char *voldir, struct ct_error *err);

/* volume_fill.c: copies the folder at destination of the image whose layers
 * lower lists (colon-separated, top first) into the folder data. */
int volume_fill(const char *lower, const char *destination, int data, struct ct_error *err);
int volume_dir_is_empty(int dirfd, bool *empty, struct ct_error *err);

#endif
