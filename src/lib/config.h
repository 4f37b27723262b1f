/* Configuration properties (`container system property`). A value comes from,
 * in rising precedence: the built-in default, /etc/container/config.json, the
 * user's ~/.config/container/config.json, and `property set` (kept in state.db by
 * the API server). Both files are flat JSON objects of "key": "value". */
#ifndef CONTAINER_CONFIG_H
#define CONTAINER_CONFIG_H

#include <jansson.h>
#include <stdbool.h>

#include "error.h"

struct ct_property_def {
	const char *key;
	const char *default_value;
	const char *description;
	/* Returns -1 with a message saying what a valid value looks like. */
	int (*validate)(const char *value, struct ct_error *err);
};

const struct ct_property_def *ct_property_defs(size_t *count);
const struct ct_property_def *ct_property_find(const char *key);
/* Checks the key is known and the value valid for it. */
int ct_property_validate(const char *key, const char *value, struct ct_error *err);

/* The two config files, merged (user over system): a JSON object of the
 * properties they set, each {"value": …, "source": path}. Unknown keys and
 * invalid values are reported through warn and left out. */
json_t *ct_config_load_files(void (*warn)(const char *message));

/* The system config file: CONTAINER_SYSTEM_CONFIG or /etc/container/config.json. */
const char *ct_config_system_path(void);
/* The user config file: ~/.config/container/config.json (caller frees). */
char *ct_config_user_path(void);

#endif
