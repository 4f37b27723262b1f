/* Frames on the wire (DESIGN.md "The protocol"): a 4-byte big-endian length, then
 * that many bytes of one JSON object. File descriptors ride along with the first
 * byte of a frame as SCM_RIGHTS, so they arrive with the frame they belong to.
 *
 * The reader never reads past the end of the current frame: descriptors attached
 * to the next frame stay queued in the socket until that frame is read. */
#ifndef CONTAINER_FRAME_H
#define CONTAINER_FRAME_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define CT_FRAME_HEADER_SIZE 4
/* Large enough for any manifest or container list; small enough that a hostile
 * length prefix can't make us allocate much. */
#define CT_FRAME_MAX_DEFAULT (4u * 1024 * 1024)
#define CT_FRAME_MAX_FDS     16

/* Serialises msg to header + compact JSON. */
int ct_frame_encode(json_t *msg, size_t max, char **buf, size_t *len, struct ct_error *err);

/* Sends a whole frame on a blocking socket (EAGAIN is waited out with poll). */
int ct_frame_send(int fd, json_t *msg, const int *fds, size_t nfds, struct ct_error *err);

/* Sends from an already encoded buffer, starting at *off; fds go with byte 0.
 * Returns 1 when complete, 0 when the socket would block, -1 on error. */
int ct_frame_send_some(int fd, const char *buf, size_t len, size_t *off, const int *fds,
		       size_t nfds, struct ct_error *err);

struct ct_frame_reader {
	size_t max;
	uint8_t header[CT_FRAME_HEADER_SIZE];
	size_t header_have;
	char *body;
	/* body_cap grows with what arrives: a length prefix alone, however large,
	 * costs no memory (a peer that promises 4 MiB and stalls holds 64 KiB). */
	size_t body_len, body_have, body_cap;
	int fds[CT_FRAME_MAX_FDS];
	size_t nfds;
};

enum ct_frame_status {
	CT_FRAME_AGAIN = 0, /* need more bytes; wait for the fd to be readable */
	CT_FRAME_READY = 1, /* a whole frame is buffered: call ct_frame_take */
	CT_FRAME_EOF = 2,   /* peer closed cleanly between frames */
};

void ct_frame_reader_init(struct ct_frame_reader *r, size_t max);
/* Frees the buffer and closes any received descriptors not taken. */
void ct_frame_reader_reset(struct ct_frame_reader *r);

/* Reads what is available of the current frame. Returns an enum ct_frame_status
 * or -1 with err set: an oversized or zero length, a peer that closed mid-frame,
 * too many descriptors, or a read error. After -1 the stream is out of step and
 * the connection must be closed. */
int ct_frame_read(struct ct_frame_reader *r, int fd, struct ct_error *err);

/* Parses the buffered frame. On success *msg is a JSON object and the received
 * descriptors are moved to fds/nfds (fds must hold CT_FRAME_MAX_FDS). On a body
 * that is not a JSON object returns -1 with a protocol error; the stream stays in
 * step, so the connection may continue. The reader is reset either way. */
int ct_frame_take(struct ct_frame_reader *r, json_t **msg, int *fds, size_t *nfds,
		  struct ct_error *err);

/* Blocking receive of one frame with a timeout in ms (-1: none). EOF is reported
 * as an error of code "unavailable". */
int ct_frame_recv(int fd, size_t max, int timeout_ms, json_t **msg, int *fds, size_t *nfds,
		  struct ct_error *err);

void ct_close_fds(int *fds, size_t nfds);

#endif
