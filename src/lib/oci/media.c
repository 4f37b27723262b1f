#include "oci/media.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"

/* The essence of a media type: the part before any ';', without surrounding space. */
static void essence(const char *s, const char **start, size_t *len)
{
	const char *end;

	while (*s && isspace((unsigned char)*s))
		s++;
	end = s + strcspn(s, ";");
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*start = s;
	*len = (size_t)(end - s);
}

char *oci_media_type_essence(const char *media_type)
{
	const char *start;
	size_t len;

	essence(media_type, &start, &len);
	return strndup(start, len);
}

bool oci_media_type_equal(const char *a, const char *b)
{
	const char *sa, *sb;
	size_t la, lb;

	if (!a || !b)
		return false;
	essence(a, &sa, &la);
	essence(b, &sb, &lb);
	/* RFC 6838: type and subtype names are case-insensitive. */
	return la == lb && strncasecmp(sa, sb, la) == 0;
}

bool oci_media_type_is_index(const char *media_type)
{
	return oci_media_type_equal(media_type, OCI_MEDIA_TYPE_INDEX) ||
	       oci_media_type_equal(media_type, DOCKER_MEDIA_TYPE_MANIFEST_LIST);
}

bool oci_media_type_is_manifest(const char *media_type)
{
	return oci_media_type_equal(media_type, OCI_MEDIA_TYPE_MANIFEST) ||
	       oci_media_type_equal(media_type, DOCKER_MEDIA_TYPE_MANIFEST);
}

bool oci_media_type_is_config(const char *media_type)
{
	return oci_media_type_equal(media_type, OCI_MEDIA_TYPE_CONFIG) ||
	       oci_media_type_equal(media_type, DOCKER_MEDIA_TYPE_CONFIG);
}

int oci_media_type_layer(const char *media_type, enum oci_compression *compression,
			 bool *nondistributable, struct ct_error *err)
{
	static const struct {
		const char *media_type;
		enum oci_compression compression;
		bool nondistributable;
	} layers[] = {
	    {OCI_MEDIA_TYPE_LAYER, OCI_COMPRESSION_NONE, false},
	    {OCI_MEDIA_TYPE_LAYER_GZIP, OCI_COMPRESSION_GZIP, false},
	    {OCI_MEDIA_TYPE_LAYER_ZSTD, OCI_COMPRESSION_ZSTD, false},
	    {OCI_MEDIA_TYPE_LAYER_ND, OCI_COMPRESSION_NONE, true},
	    {OCI_MEDIA_TYPE_LAYER_ND_GZIP, OCI_COMPRESSION_GZIP, true},
	    {OCI_MEDIA_TYPE_LAYER_ND_ZSTD, OCI_COMPRESSION_ZSTD, true},
	    {DOCKER_MEDIA_TYPE_LAYER, OCI_COMPRESSION_NONE, false},
	    {DOCKER_MEDIA_TYPE_LAYER_GZIP, OCI_COMPRESSION_GZIP, false},
	    {DOCKER_MEDIA_TYPE_FOREIGN_LAYER_GZIP, OCI_COMPRESSION_GZIP, true},
	};

	for (size_t i = 0; i < ARRAY_SIZE(layers); i++) {
		if (!oci_media_type_equal(media_type, layers[i].media_type))
			continue;
		if (compression)
			*compression = layers[i].compression;
		if (nondistributable)
			*nondistributable = layers[i].nondistributable;
		return 0;
	}
	return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
			    "unsupported layer media type \"%s\" (supported: tar, tar+gzip and "
			    "tar+zstd layers of the OCI and Docker image formats)",
			    media_type ? media_type : "");
}

const char *oci_compression_name(enum oci_compression compression)
{
	switch (compression) {
	case OCI_COMPRESSION_NONE:
		return "none";
	case OCI_COMPRESSION_GZIP:
		return "gzip";
	case OCI_COMPRESSION_ZSTD:
		return "zstd";
	}
	return "unknown";
}
