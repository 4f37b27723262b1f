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
	_cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);

	return ct_write_file_atomic(path, text, strlen(text), 0644, err);
}
