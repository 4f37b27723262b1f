#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"
#include "util.h"

int progress_parse_mode(const char *value, enum progress_mode *out)
{
	if (strcmp(value, "auto") == 0)
		*out = PROGRESS_AUTO;
	else if (strcmp(value, "plain") == 0)
		*out = PROGRESS_PLAIN;
	else if (strcmp(value, "none") == 0)
		*out = PROGRESS_NONE;
	else
		return cli_reportf("--progress must be auto, plain or none, not \"%s\"", value);
	return 0;
}

void progress_init(struct progress *p, enum progress_mode mode, const char *verb)
{
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	p->tty = mode == PROGRESS_AUTO && isatty(STDERR_FILENO);
	p->last_status = json_object();
	p->started_ms = ct_now_monotonic_ms();
	p->verb = verb;
}

static void bar(char *buf, size_t width, int64_t cur, int64_t total)
{
	size_t filled = total > 0 ? (size_t)((double)cur / total * width) : 0;

	if (filled > width)
		filled = width;
	for (size_t i = 0; i < width; i++)
		buf[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
	buf[width] = '\0';
}

static void draw_tty(struct progress *p, json_t *frame)
{
	json_t *layers = json_object_get(frame, "layers"), *l;
	size_t i;
	double secs = (ct_now_monotonic_ms() - p->started_ms) / 1000.0;

	/* Move back over what we drew last time. */
	if (p->lines_drawn > 0)
		fprintf(stderr, "\033[%dA", p->lines_drawn);
	p->lines_drawn = 0;
	json_array_foreach (layers, i, l) {
		const char *digest = json_string_value(json_object_get(l, "digest"));
		const char *status = json_string_value(json_object_get(l, "status"));
		int64_t cur = json_integer_value(json_object_get(l, "current"));
		int64_t size = json_integer_value(json_object_get(l, "size"));
		char b[32], c[16], s[16];
		bar(b, 24, cur, size);
		format_size(cur, c, sizeof(c));
		format_size(size, s, sizeof(s));
		fprintf(stderr, "\033[2K%.19s  %-11s [%s] %9s / %-9s\n", digest ? digest : "",
			status ? status : "", b, c, s);
		p->lines_drawn++;
	}
	int64_t cur = json_integer_value(json_object_get(frame, "current"));
	int64_t total = json_integer_value(json_object_get(frame, "total"));
	char c[16], t[16], rate[16];
	format_size(cur, c, sizeof(c));
	format_size(total, t, sizeof(t));
	format_size(secs > 0 ? (int64_t)(cur / secs) : 0, rate, sizeof(rate));
	fprintf(stderr, "\033[2K%s %s: %s / %s (%s/s)\n", p->verb,
		json_string_value(json_object_get(frame, "reference")) ?: "", c, t, rate);
	p->lines_drawn++;
	fflush(stderr);
}

static void draw_plain(struct progress *p, json_t *frame)
{
	json_t *layers = json_object_get(frame, "layers"), *l;
	size_t i;

	json_array_foreach (layers, i, l) {
		const char *digest = json_string_value(json_object_get(l, "digest"));
		const char *status = json_string_value(json_object_get(l, "status"));
		if (!digest || !status)
			continue;
		const char *before = json_string_value(json_object_get(p->last_status, digest));
		if (before && strcmp(before, status) == 0)
			continue;
		json_object_set_new(p->last_status, digest, json_string(status));
		if (strcmp(status, "waiting") == 0)
			continue;
		char s[16];
		format_size(json_integer_value(json_object_get(l, "size")), s, sizeof(s));
		fprintf(stderr, "%.19s: %s (%s)\n", digest, status, s);
	}
}

int progress_update(json_t *frame, void *data)
{
	struct progress *p = data;

	if (p->mode == PROGRESS_NONE)
		return 0;
	if (!json_object_get(frame, "layers")) {
		const char *status = json_string_value(json_object_get(frame, "status"));
		if (status && !p->tty)
			fprintf(stderr, "%s\n", status);
		return 0;
	}
	if (p->tty)
		draw_tty(p, frame);
	else
		draw_plain(p, frame);
	return 0;
}

void progress_finish(struct progress *p)
{
	json_decref(p->last_status);
	p->last_status = NULL;
}
