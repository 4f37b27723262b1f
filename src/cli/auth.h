/* Registry credentials on the CLI's side: ~/.config/container/auth.json (0600,
 * docker's config.json format), read also from ~/.docker/config.json and from
 * CONTAINER_REGISTRY_HOST/USER/TOKEN. The CLI sends them with each request
 * that needs them, so the images plugin never reads a user's home. */
#ifndef CONTAINER_CLI_AUTH_H
#define CONTAINER_CLI_AUTH_H

#include <jansson.h>

#include "error.h"

/* {"username", "password"} for host, or NULL when none is stored. */
json_t *auth_lookup(const char *host);
int auth_store(const char *host, const char *username, const char *password, struct ct_error *err);
/* Returns 1 when removed, 0 when there was nothing for host. */
int auth_remove(const char *host, struct ct_error *err);
/* {"host": "username", …} from our own file. */
json_t *auth_list(struct ct_error *err);
char *auth_file_path(void);

#endif
