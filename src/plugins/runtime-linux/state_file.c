#include "state_file.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json_util.h"
#include "util.h"

int rt_state_write(const char *bundle, const struct rt_state *st, struct ct_error *err)
{
	_cleanup_free_ char *path = xasprintf("%s/state.json", bundle);
	_cleanup_json_ json_t *j = json_pack(
		"{s:s, s:s, s:i, s:i, s:i, s:i, s:b, s:s?, s:s?, s:s?}", "id", st->id, "status",
		st->status, "pid", (int)st->pid, "helperPid", (int)st->helper_pid, "exitCode",
		st->exit_code, "signal", st->signal, "oomKilled", st->oom_killed, "startedAt",
		st->started_at, "finishedAt", st->finished_at, "error", st->error);
	/* A message that is not valid UTF-8 (a path from the image, cut short)
	 * must not lose the whole state. */
	if (!j && st->error) {
		struct rt_state safe = *st;
		safe.error = "the container could not start (the reason was not valid UTF-8; see "
			     "`container system logs`)";
		return rt_state_write(bundle, &safe, err);
	}
	if (!j)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "%s: cannot encode the state", path);
	_cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
	if (!text)
		return ct_error_set(err, CT_ERR_INTERNAL, 0, "%s: cannot encode the state", path);

	return ct_write_file_atomic(path, text, strlen(text), 0644, err);
}
