/* container-core-images: the images plugin (a core service loaded at boot). It
 * owns the content store and snapshots and answers the image.* routes. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "images.h"
#include "job.h"
#include "log.h"
#include "util.h"

int main(int argc, char **argv)
{
	_cleanup_error_ struct ct_error err = CT_ERROR_INIT;
	struct ct_service svc;
	struct images im = {.svc = &svc};
	_cleanup_free_ char *db_path = NULL;
	int rc = 1;

	if (ct_service_init(&svc, "container-core-images", argc, argv, &err) < 0) {
		fprintf(stderr, "container-core-images: %s\n", ct_error_message(&err));
		goto out;
	}
	db_path = ct_paths_state_db(&svc.paths);
	if (store_open(&im.store, svc.paths.app_root, &err) < 0 ||
	    image_db_open(db_path, &im.db, &err) < 0) {
		log_error("%s", ct_error_message(&err));
		goto out;
	}
	pthread_rwlock_init(&im.gc_lock, NULL);
	pthread_mutex_init(&im.ref_lock, NULL);
	/* A pull killed half-way left files in ingest/ and a .tmp snapshot: nothing
	 * refers to them, so they go before we serve. */
	store_clean_partial(&im.store);
	images_register_routes(&im);
	registry_register_routes(&im);
	push_register_routes(&im);
	archive_register_routes(&im);
	if (ct_service_run(&svc, &err) < 0)
		log_error("%s", ct_error_message(&err));
	else
		rc = 0;
	/* A pull or push still running uses the store and the database: give it
	 * a moment to end, and when it doesn't, leave without closing them (what
	 * it leaves in ingest/ is cleaned at the next start). */
	size_t running = job_shutdown(5000);
	if (running > 0) {
		log_warn("exiting with %zu image jobs still running; their partial files "
			 "are removed at the next start",
			 running);
		_exit(rc);
	}
	pthread_rwlock_destroy(&im.gc_lock);
	pthread_mutex_destroy(&im.ref_lock);
out:
	image_db_close(im.db);
	if (im.store.root)
		store_close(&im.store);
	ct_service_fini(&svc);
	return rc;
}
