/* Logging with levels. Every program writes lines
 *   2026-11-27T22:51:18.123Z info container-apiserver[123]: message
 * to one log file under the log root (opened O_APPEND, so lines from the API
 * server and its plugins interleave whole), and to stderr when --debug is given
 * or no log file is open. */
#ifndef CONTAINER_LOG_H
#define CONTAINER_LOG_H

#include <stdbool.h>

enum ct_log_level {
	CT_LOG_ERROR = 0,
	CT_LOG_WARN,
	CT_LOG_INFO,
	CT_LOG_DEBUG,
};

/* component: the program name shown in each line. */
void ct_log_init(const char *component, enum ct_log_level level, bool to_stderr);
/* Opens (creating) the log file; returns -1 with errno on failure. */
int ct_log_open_file(const char *path);
/* The fd of the log file or -1: plugins' stdout/stderr are pointed at it. */
int ct_log_file_fd(void);
void ct_log_set_level(enum ct_log_level level);
enum ct_log_level ct_log_get_level(void);
const char *ct_log_level_name(enum ct_log_level level);

void ct_log(enum ct_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) ct_log(CT_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  ct_log(CT_LOG_WARN, __VA_ARGS__)
#define log_info(...)  ct_log(CT_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (ct_log_get_level() >= CT_LOG_DEBUG)                                            \
			ct_log(CT_LOG_DEBUG, __VA_ARGS__);                                         \
	} while (0)

#endif
