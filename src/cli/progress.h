/* Progress of pulls and pushes: on a terminal, one bar per layer redrawn in
 * place plus a total; otherwise a plain line when a layer changes state;
 * nothing with --progress none. */
#ifndef CONTAINER_CLI_PROGRESS_H
#define CONTAINER_CLI_PROGRESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum progress_mode {
	PROGRESS_AUTO,
	PROGRESS_PLAIN,
	PROGRESS_NONE,
};

struct progress {
	enum progress_mode mode;
	bool tty;
	int lines_drawn;
	json_t *last_status; /* digest -> status, for plain mode */
	uint64_t started_ms;
	const char *verb; /* "Pulling", "Pushing" */
};

int progress_parse_mode(const char *value, enum progress_mode *out);
void progress_init(struct progress *p, enum progress_mode mode, const char *verb);
/* ct_progress_fn: draws one progress frame. */
int progress_update(json_t *frame, void *data);
void progress_finish(struct progress *p);

#endif
