#include "oci/manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "oci/digest.h"

/* Docker's buildx stores provenance and SBOM documents in the index as image manifests
 * for platform unknown/unknown, marked with this annotation; they are not runnable. */
#define ATTESTATION_ANNOTATION "vnd.docker.reference.type"
#define ATTESTATION_VALUE      "attestation-manifest"

static int oom(struct ct_error *err)
{
	errno = ENOMEM;
	return ct_error_errno(err, CT_ERR_INTERNAL, "allocating memory");
}

static const char *kind_name(enum oci_manifest_kind kind)
{
	return kind == OCI_MANIFEST_KIND_INDEX ? "index" : "image manifest";
}

static bool is_schema1(const char *media_type)
{
	return oci_media_type_equal(media_type, DOCKER_MEDIA_TYPE_MANIFEST_V1) ||
	       oci_media_type_equal(media_type, DOCKER_MEDIA_TYPE_MANIFEST_V1_SIGNED);
}

static int kind_of_type(const char *media_type, enum oci_manifest_kind *kind)
{
	if (oci_media_type_is_index(media_type))
		*kind = OCI_MANIFEST_KIND_INDEX;
	else if (oci_media_type_is_manifest(media_type))
		*kind = OCI_MANIFEST_KIND_IMAGE;
	else
		return -1;
	return 0;
}

static int unsupported_type(struct ct_error *err, const char *media_type, const char *whose)
{
	if (is_schema1(media_type))
		return ct_error_set(
		    err, CT_ERR_UNSUPPORTED, 0,
		    "%s \"%s\" is Docker's deprecated schema 1, which is not "
		    "supported; push the image again with a current docker or podman",
		    whose, media_type);
	return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
			    "%s \"%s\" is not a manifest or index media type", whose, media_type);
}

static int check_schema_version(json_t *doc, struct ct_error *err)
{
	json_t *version = json_object_get(doc, "schemaVersion");

	if (!version)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "missing required field \"schemaVersion\"");
	if (!json_is_integer(version))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "\"schemaVersion\" must be an integer, got %s",
				    oci_json_type_name(version));
	if (json_integer_value(version) == 1)
		return ct_error_set(
		    err, CT_ERR_UNSUPPORTED, 0,
		    "schemaVersion 1 (Docker's deprecated schema 1) is not "
		    "supported; push the image again with a current docker or podman");
	if (json_integer_value(version) != 2)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "schemaVersion must be 2, got %" JSON_INTEGER_FORMAT,
				    json_integer_value(version));
	return 0;
}

/* Decides what doc is from the type it was fetched as, its own mediaType and its shape,
 * refusing any disagreement between them. *media_type_out gets the document's type. */
static int resolve_kind(json_t *doc, const char *fetched_as, enum oci_manifest_kind *kind_out,
			char **media_type_out, struct ct_error *err)
{
	json_t *declared_json = json_object_get(doc, "mediaType");
	bool has_manifests = json_object_get(doc, "manifests") != NULL;
	bool has_layers = json_object_get(doc, "layers") || json_object_get(doc, "config");
	const char *declared = NULL, *effective;
	enum oci_manifest_kind kind = OCI_MANIFEST_KIND_IMAGE, shape;

	if (fetched_as && kind_of_type(fetched_as, &kind) < 0)
		return unsupported_type(err, fetched_as, "fetched as");
	if (declared_json && !json_is_null(declared_json)) {
		if (!json_is_string(declared_json))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "\"mediaType\" must be a string, got %s",
					    oci_json_type_name(declared_json));
		declared = json_string_value(declared_json);
		if (kind_of_type(declared, &kind) < 0)
			return unsupported_type(err, declared, "mediaType");
	}
	if (check_schema_version(doc, err) < 0)
		return -1;
	if (fetched_as && declared && !oci_media_type_equal(fetched_as, declared))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "fetched as %s but the document's mediaType is %s", fetched_as,
				    declared);
	/* The spec's answer to documents that could be read as either: refuse them. */
	if (has_manifests && has_layers)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "the document has both \"manifests\" (an index) and "
				    "\"layers\" or \"config\" (an image manifest)");
	if (!has_manifests && !has_layers && !declared && !fetched_as)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "the document has no \"mediaType\", \"manifests\" or "
				    "\"layers\": it is neither an index nor an image manifest");

	effective = declared ? declared : fetched_as;
	if (has_manifests || has_layers) {
		shape = has_manifests ? OCI_MANIFEST_KIND_INDEX : OCI_MANIFEST_KIND_IMAGE;
		if (effective && kind != shape)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "%s %s but the document has \"%s\", so it is an %s",
					    declared ? "the document's mediaType is" : "fetched as",
					    effective, has_manifests ? "manifests" : "layers",
					    kind_name(shape));
		kind = shape;
	}
	if (!effective)
		effective = kind == OCI_MANIFEST_KIND_INDEX ? OCI_MEDIA_TYPE_INDEX
							    : OCI_MEDIA_TYPE_MANIFEST;
	if (media_type_out) {
		*media_type_out = oci_media_type_essence(effective);
		if (!*media_type_out)
			return oom(err);
	}
	*kind_out = kind;
	return 0;
}

int oci_manifest_kind(const char *buf, size_t len, const char *media_type,
		      enum oci_manifest_kind *out, struct ct_error *err)
{
	_cleanup_json_ json_t *doc = NULL;

	if (oci_json_load(buf, len, "manifest", &doc, err) < 0)
		return -1;
	if (resolve_kind(doc, media_type, out, NULL, err) < 0)
		return ct_error_prefix(err, "invalid manifest");
	return 0;
}

void oci_manifest_descriptor_free(struct oci_descriptor *desc)
{
	if (!desc)
		return;
	free(desc->media_type);
	free(desc->digest);
	oci_strv_free(desc->urls);
	oci_map_free(&desc->annotations);
	if (desc->platform) {
		oci_platform_free(desc->platform);
		free(desc->platform);
	}
	free(desc->artifact_type);
	*desc = (struct oci_descriptor){0};
}

static bool media_type_well_formed(const char *s)
{
	const char *slash = strchr(s, '/');

	if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/'))
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

static int parse_platform(json_t *obj, struct oci_platform **out, struct ct_error *err)
{
	_cleanup_platform_ struct oci_platform p = {0};
	_cleanup_strv_ char **features = NULL;

	if (!json_is_object(obj))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "\"platform\" must be an object, got %s",
				    oci_json_type_name(obj));
	if (oci_json_get_string(obj, "architecture", true, &p.architecture, err) < 0 ||
	    oci_json_get_string(obj, "os", true, &p.os, err) < 0 ||
	    oci_json_get_string(obj, "variant", false, &p.variant, err) < 0 ||
	    oci_json_get_string(obj, "os.version", false, &p.os_version, err) < 0 ||
	    oci_json_get_strv(obj, "os.features", &features, err) < 0)
		return ct_error_prefix(err, "platform");
	if (!*p.architecture || !*p.os)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "platform: \"architecture\" and \"os\" must not be empty");
	if (oci_platform_normalize(&p, err) < 0)
		return ct_error_prefix(err, "platform");
	*out = malloc(sizeof(**out));
	if (!*out)
		return oom(err);
	**out = p;
	p = (struct oci_platform){0};
	return 0;
}

static int parse_descriptor(json_t *obj, struct oci_descriptor *out, struct ct_error *err)
{
	json_t *platform, *data;

	if (!json_is_object(obj))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "a descriptor must be an object, got %s",
				    oci_json_type_name(obj));
	out->size = -1;
	if (oci_json_get_string(obj, "mediaType", true, &out->media_type, err) < 0 ||
	    oci_json_get_string(obj, "digest", true, &out->digest, err) < 0 ||
	    oci_json_get_int64(obj, "size", true, &out->size, err) < 0 ||
	    oci_json_get_strv(obj, "urls", &out->urls, err) < 0 ||
	    oci_json_get_map(obj, "annotations", &out->annotations, err) < 0 ||
	    oci_json_get_string(obj, "artifactType", false, &out->artifact_type, err) < 0)
		return -1;
	if (!media_type_well_formed(out->media_type))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "\"mediaType\" \"%s\" is not a media type (type/subtype)",
				    out->media_type);
	if (oci_digest_validate(out->digest, err) < 0)
		return -1;
	if (out->size < 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "\"size\" must not be negative, got %" PRId64, out->size);
	data = json_object_get(obj, "data");
	if (data && !json_is_null(data) && !json_is_string(data))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "\"data\" must be a base64 string, got %s",
				    oci_json_type_name(data));
	platform = json_object_get(obj, "platform");
	if (platform && !json_is_null(platform) &&
	    parse_platform(platform, &out->platform, err) < 0)
		return -1;
	return 0;
}

static int parse_subject(json_t *doc, struct oci_descriptor **out, struct ct_error *err)
{
	json_t *subject = json_object_get(doc, "subject");
	struct oci_descriptor *desc;

	if (!subject || json_is_null(subject))
		return 0;
	desc = calloc(1, sizeof(*desc));
	if (!desc)
		return oom(err);
	if (parse_descriptor(subject, desc, err) < 0) {
		oci_manifest_descriptor_free(desc);
		free(desc);
		return ct_error_prefix(err, "subject");
	}
	*out = desc;
	return 0;
}

static json_t *required_array(json_t *doc, const char *key, struct ct_error *err)
{
	json_t *array = json_object_get(doc, key);

	if (!array || json_is_null(array)) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "missing required field \"%s\"", key);
		return NULL;
	}
	if (!json_is_array(array)) {
		ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "\"%s\" must be an array, got %s",
			     key, oci_json_type_name(array));
		return NULL;
	}
	return array;
}

static int parse_manifest(json_t *doc, const char *fetched_as, struct oci_manifest *out,
			  struct ct_error *err)
{
	enum oci_manifest_kind kind;
	json_t *config, *layers, *item;
	size_t i;

	if (resolve_kind(doc, fetched_as, &kind, &out->media_type, err) < 0)
		return -1;
	if (kind != OCI_MANIFEST_KIND_IMAGE)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s is an index, not an image manifest", out->media_type);

	config = json_object_get(doc, "config");
	if (!config || json_is_null(config))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "missing required field \"config\"");
	if (parse_descriptor(config, &out->config, err) < 0)
		return ct_error_prefix(err, "config");
	if (!oci_media_type_is_config(out->config.media_type))
		return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
				    "config media type \"%s\" is not an image config (expected %s "
				    "or %s): this is an artifact, not a container image",
				    out->config.media_type, OCI_MEDIA_TYPE_CONFIG,
				    DOCKER_MEDIA_TYPE_CONFIG);

	layers = required_array(doc, "layers", err);
	if (!layers)
		return -1;
	out->layers = calloc(json_array_size(layers), sizeof(*out->layers));
	if (!out->layers && json_array_size(layers) > 0)
		return oom(err);
	json_array_foreach(layers, i, item)
	{
		struct oci_layer *layer = &out->layers[i];

		out->n_layers = i + 1;
		if (parse_descriptor(item, &layer->desc, err) < 0 ||
		    oci_media_type_layer(layer->desc.media_type, &layer->compression,
					 &layer->nondistributable, err) < 0)
			return ct_error_prefix(err, "layers[%zu]", i);
	}

	if (parse_subject(doc, &out->subject, err) < 0 ||
	    oci_json_get_map(doc, "annotations", &out->annotations, err) < 0)
		return -1;
	return 0;
}

int oci_manifest_parse(const char *buf, size_t len, const char *media_type,
		       struct oci_manifest *out, struct ct_error *err)
{
	_cleanup_manifest_ struct oci_manifest manifest = {0};
	_cleanup_json_ json_t *doc = NULL;

	if (oci_json_load(buf, len, "image manifest", &doc, err) < 0)
		return -1;
	if (parse_manifest(doc, media_type, &manifest, err) < 0)
		return ct_error_prefix(err, "invalid image manifest");
	*out = manifest;
	manifest = (struct oci_manifest){0};
	return 0;
}

void oci_manifest_free(struct oci_manifest *manifest)
{
	if (!manifest)
		return;
	free(manifest->media_type);
	oci_manifest_descriptor_free(&manifest->config);
	for (size_t i = 0; i < manifest->n_layers; i++)
		oci_manifest_descriptor_free(&manifest->layers[i].desc);
	free(manifest->layers);
	if (manifest->subject) {
		oci_manifest_descriptor_free(manifest->subject);
		free(manifest->subject);
	}
	oci_map_free(&manifest->annotations);
	*manifest = (struct oci_manifest){0};
}

static int parse_index(json_t *doc, const char *fetched_as, struct oci_index *out,
		       struct ct_error *err)
{
	enum oci_manifest_kind kind;
	json_t *manifests, *item;
	size_t i;

	if (resolve_kind(doc, fetched_as, &kind, &out->media_type, err) < 0)
		return -1;
	if (kind != OCI_MANIFEST_KIND_INDEX)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "%s is an image manifest, not an index", out->media_type);
	manifests = required_array(doc, "manifests", err);
	if (!manifests)
		return -1;
	out->manifests = calloc(json_array_size(manifests), sizeof(*out->manifests));
	if (!out->manifests && json_array_size(manifests) > 0)
		return oom(err);
	json_array_foreach(manifests, i, item)
	{
		out->n_manifests = i + 1;
		if (parse_descriptor(item, &out->manifests[i], err) < 0)
			return ct_error_prefix(err, "manifests[%zu]", i);
	}
	return oci_json_get_map(doc, "annotations", &out->annotations, err);
}

int oci_manifest_index_parse(const char *buf, size_t len, const char *media_type,
			     struct oci_index *out, struct ct_error *err)
{
	_cleanup_index_ struct oci_index index = {0};
	_cleanup_json_ json_t *doc = NULL;

	if (oci_json_load(buf, len, "index", &doc, err) < 0)
		return -1;
	if (parse_index(doc, media_type, &index, err) < 0)
		return ct_error_prefix(err, "invalid index");
	*out = index;
	index = (struct oci_index){0};
	return 0;
}

void oci_manifest_index_free(struct oci_index *index)
{
	if (!index)
		return;
	free(index->media_type);
	for (size_t i = 0; i < index->n_manifests; i++)
		oci_manifest_descriptor_free(&index->manifests[i]);
	free(index->manifests);
	oci_map_free(&index->annotations);
	*index = (struct oci_index){0};
}

static bool selectable(const struct oci_descriptor *desc)
{
	const char *type = oci_map_get(&desc->annotations, ATTESTATION_ANNOTATION);

	/* Nested indexes are left to the caller: following them needs another fetch. */
	return oci_media_type_is_manifest(desc->media_type) &&
	       !(type && strcmp(type, ATTESTATION_VALUE) == 0);
}

static bool same_string(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Whether a selectable entry before i has the same platform as entry i. */
static bool listed_before(const struct oci_index *index, size_t i)
{
	const struct oci_platform *p = index->manifests[i].platform;

	for (size_t j = 0; j < i; j++) {
		const struct oci_platform *q = index->manifests[j].platform;

		if (selectable(&index->manifests[j]) && q && same_string(p->os, q->os) &&
		    same_string(p->architecture, q->architecture) &&
		    same_string(p->variant, q->variant))
			return true;
	}
	return false;
}

/* "linux/amd64, linux/arm64/v8": the distinct platforms a selector could have chosen. */
static char *available_platforms(const struct oci_index *index)
{
	char *list = NULL;
	size_t size = 0;
	bool empty = true, failed = false;
	FILE *f = open_memstream(&list, &size);

	if (!f)
		return NULL;
	for (size_t i = 0; i < index->n_manifests; i++) {
		const struct oci_descriptor *desc = &index->manifests[i];
		_cleanup_free_ char *name = NULL;

		if (!selectable(desc) || !desc->platform || listed_before(index, i))
			continue;
		name = oci_platform_format(desc->platform);
		if (!name) {
			failed = true;
			break;
		}
		fprintf(f, "%s%s", empty ? "" : ", ", name);
		empty = false;
	}
	if (fclose(f) != 0 || failed) {
		free(list);
		return NULL;
	}
	if (empty) {
		free(list);
		return strdup("none");
	}
	return list;
}

int oci_manifest_index_select(const struct oci_index *index, const struct oci_platform *platform,
			      const struct oci_descriptor **out, struct ct_error *err)
{
	_cleanup_platform_ struct oci_platform host = {0};
	_cleanup_free_ char *wanted = NULL, *available = NULL;
	const struct oci_descriptor *best = NULL, *unlabelled = NULL;
	int best_score = 0;

	if (!platform) {
		if (oci_platform_host(&host, err) < 0)
			return -1;
		platform = &host;
	}
	for (size_t i = 0; i < index->n_manifests; i++) {
		const struct oci_descriptor *desc = &index->manifests[i];
		int score;

		if (!selectable(desc))
			continue;
		if (!desc->platform) {
			if (!unlabelled)
				unlabelled = desc;
			continue;
		}
		score = oci_platform_match_score(platform, desc->platform);
		if (score > best_score) {
			best = desc;
			best_score = score;
		}
	}
	if (!best)
		best = unlabelled;
	if (best) {
		*out = best;
		return 0;
	}

	wanted = oci_platform_format(platform);
	available = available_platforms(index);
	if (!wanted || !available)
		return oom(err);
	return ct_error_set(err, CT_ERR_NOT_FOUND, 0,
			    "no image for platform %s in the index (it has: %s); choose one of "
			    "those with --platform",
			    wanted, available);
}

int oci_manifest_check_config(const struct oci_manifest *manifest,
			      const struct oci_image_config *config, struct ct_error *err)
{
	if (manifest->n_layers != config->n_diff_ids)
		return ct_error_set(
		    err, CT_ERR_INVALID_ARGUMENT, 0,
		    "image config lists %zu layer diff_ids but the manifest has %zu "
		    "layers",
		    config->n_diff_ids, manifest->n_layers);
	return 0;
}
