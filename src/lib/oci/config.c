#include "oci/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "oci/digest.h"
#include "oci/media.h"

static int oom(struct ct_error *err)
{
	errno = ENOMEM;
	return ct_error_errno(err, CT_ERR_INTERNAL, "allocating memory");
}

static int parse_exec_config(json_t *obj, struct oci_exec_config *out, struct ct_error *err)
{
	if (oci_json_get_string(obj, "User", false, &out->user, err) < 0 ||
	    oci_json_get_strv(obj, "Env", &out->env, err) < 0 ||
	    oci_json_get_strv(obj, "Entrypoint", &out->entrypoint, err) < 0 ||
	    oci_json_get_strv(obj, "Cmd", &out->cmd, err) < 0 ||
	    oci_json_get_string(obj, "WorkingDir", false, &out->working_dir, err) < 0 ||
	    oci_json_get_map(obj, "Labels", &out->labels, err) < 0 ||
	    oci_json_get_string(obj, "StopSignal", false, &out->stop_signal, err) < 0 ||
	    oci_json_get_keys(obj, "ExposedPorts", &out->exposed_ports, err) < 0 ||
	    oci_json_get_keys(obj, "Volumes", &out->volumes, err) < 0)
		return -1;
	return 0;
}

static int parse_rootfs(json_t *doc, struct oci_image_config *out, struct ct_error *err)
{
	_cleanup_free_ char *type = NULL;
	json_t *rootfs = json_object_get(doc, "rootfs");

	if (!rootfs || json_is_null(rootfs))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "missing required field \"rootfs\"");
	if (!json_is_object(rootfs))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "\"rootfs\" must be an object, got %s",
				    oci_json_type_name(rootfs));
	if (oci_json_get_string(rootfs, "type", true, &type, err) < 0)
		return ct_error_prefix(err, "rootfs");
	if (strcmp(type, "layers") != 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "rootfs: \"type\" must be \"layers\", got \"%s\"", type);
	if (!json_is_array(json_object_get(rootfs, "diff_ids")))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "rootfs: \"diff_ids\" must be an array of digests, got %s",
				    json_object_get(rootfs, "diff_ids")
					? oci_json_type_name(json_object_get(rootfs, "diff_ids"))
					: "nothing");
	if (oci_json_get_strv(rootfs, "diff_ids", &out->diff_ids, err) < 0)
		return ct_error_prefix(err, "rootfs");
	out->n_diff_ids = oci_strv_length(out->diff_ids);
	for (size_t i = 0; i < out->n_diff_ids; i++)
		if (oci_digest_validate(out->diff_ids[i], err) < 0)
			return ct_error_prefix(err, "rootfs: diff_ids[%zu]", i);
	return 0;
}

static int parse_history(json_t *doc, struct oci_image_config *out, struct ct_error *err)
{
	json_t *history = json_object_get(doc, "history"), *item;
	size_t i;

	if (!history || json_is_null(history))
		return 0;
	if (!json_is_array(history))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "\"history\" must be an array, got %s",
				    oci_json_type_name(history));
	out->history = calloc(json_array_size(history), sizeof(*out->history));
	if (!out->history && json_array_size(history) > 0)
		return oom(err);
	json_array_foreach(history, i, item)
	{
		struct oci_history *h = &out->history[i];

		out->n_history = i + 1;
		if (!json_is_object(item))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "history[%zu] must be an object, got %s", i,
					    oci_json_type_name(item));
		if (oci_json_get_string(item, "created", false, &h->created, err) < 0 ||
		    oci_json_get_string(item, "created_by", false, &h->created_by, err) < 0 ||
		    oci_json_get_string(item, "author", false, &h->author, err) < 0 ||
		    oci_json_get_string(item, "comment", false, &h->comment, err) < 0 ||
		    oci_json_get_bool(item, "empty_layer", &h->empty_layer, err) < 0)
			return ct_error_prefix(err, "history[%zu]", i);
	}
	return 0;
}

static int parse_config(json_t *doc, struct oci_image_config *out, struct ct_error *err)
{
	json_t *exec;

	if (oci_json_get_string(doc, "architecture", true, &out->architecture, err) < 0 ||
	    oci_json_get_string(doc, "os", true, &out->os, err) < 0 ||
	    oci_json_get_string(doc, "variant", false, &out->variant, err) < 0 ||
	    oci_json_get_string(doc, "os.version", false, &out->os_version, err) < 0 ||
	    oci_json_get_string(doc, "created", false, &out->created, err) < 0 ||
	    oci_json_get_string(doc, "author", false, &out->author, err) < 0)
		return -1;
	if (!*out->architecture || !*out->os)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "\"architecture\" and \"os\" must not be empty");

	exec = json_object_get(doc, "config");
	if (exec && !json_is_null(exec)) {
		if (!json_is_object(exec))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "\"config\" must be an object, got %s",
					    oci_json_type_name(exec));
		if (parse_exec_config(exec, &out->config, err) < 0)
			return ct_error_prefix(err, "config");
	}
	if (parse_rootfs(doc, out, err) < 0 || parse_history(doc, out, err) < 0)
		return -1;
	return 0;
}

int oci_config_parse(const char *buf, size_t len, const char *media_type,
		     struct oci_image_config *out, struct ct_error *err)
{
	_cleanup_config_ struct oci_image_config config = {0};

	if (media_type && !oci_media_type_is_config(media_type))
		return ct_error_set(
		    err, CT_ERR_INVALID_ARGUMENT, 0,
		    "invalid image config: media type \"%s\" is not an image config "
		    "type (expected %s or %s)",
		    media_type, OCI_MEDIA_TYPE_CONFIG, DOCKER_MEDIA_TYPE_CONFIG);
	if (oci_json_load(buf, len, "image config", &config.json, err) < 0)
		return -1;
	if (parse_config(config.json, &config, err) < 0)
		return ct_error_prefix(err, "invalid image config");
	*out = config;
	config = (struct oci_image_config){0};
	return 0;
}

void oci_config_free(struct oci_image_config *config)
{
	struct oci_exec_config *exec;

	if (!config)
		return;
	exec = &config->config;
	free(config->architecture);
	free(config->os);
	free(config->variant);
	free(config->os_version);
	free(config->created);
	free(config->author);
	free(exec->user);
	oci_strv_free(exec->env);
	oci_strv_free(exec->entrypoint);
	oci_strv_free(exec->cmd);
	free(exec->working_dir);
	oci_map_free(&exec->labels);
	free(exec->stop_signal);
	oci_strv_free(exec->exposed_ports);
	oci_strv_free(exec->volumes);
	oci_strv_free(config->diff_ids);
	for (size_t i = 0; i < config->n_history; i++) {
		free(config->history[i].created);
		free(config->history[i].created_by);
		free(config->history[i].author);
		free(config->history[i].comment);
	}
	free(config->history);
	json_decref(config->json);
	*config = (struct oci_image_config){0};
}

int oci_config_platform(const struct oci_image_config *config, struct oci_platform *out,
			struct ct_error *err)
{
	struct oci_platform p = {
	    .os = config->os,
	    .architecture = config->architecture,
	    .variant = config->variant,
	    .os_version = config->os_version,
	};
	_cleanup_platform_ struct oci_platform copy = {0};

	if (oci_platform_copy(&copy, &p, err) < 0 || oci_platform_normalize(&copy, err) < 0)
		return -1;
	*out = copy;
	copy = (struct oci_platform){0};
	return 0;
}
