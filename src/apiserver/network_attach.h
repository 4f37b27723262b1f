/* A container's place on its networks, from start to exit.
 *
 * Before the runtime helper starts, the API server makes the container's network
 * namespace (an empty one, from a short-lived thread), takes an address on each
 * network the container asked for, and has each network's plugin plumb a veth
 * into that namespace (bridge.attach, the namespace's fd passed along). The
 * helper then joins the namespace (--netns-fd) instead of making its own, so the
 * process sees eth0 up from its first instruction, and no pause between clone
 * and exec is needed.
 *
 * Nothing but the container holds the namespace afterwards: when the container
 * dies the kernel removes its veths. What the kernel can't know (the address in
 * state.db, port rules, DNS names) is released when the helper's pidfd says it
 * has exited, at delete, and at boot for containers that stopped meanwhile. */
#ifndef CONTAINER_NETWORK_ATTACH_H
#define CONTAINER_NETWORK_ATTACH_H

#include <jansson.h>
#include <sys/types.h>

#include "apiserver.h"
#include "error.h"

/* Checks and normalises the network part of a create request, in place:
 * "networks" (default ["default"]; "none" and "host" only alone; each must
 * exist), "publish" strings parsed into "ports" objects, the DNS options'
 * types. */
int netattach_check_options(struct apiserver *api, json_t *options, struct ct_error *err);

/* True when the container has a network namespace of its own with networks to
 * attach (not none, not host). */
bool netattach_wanted(json_t *options);

/* netns_fd is the caller's to close; -1 with e set on failure (then nothing
 * is left attached). */
typedef void (*netattach_done_fn)(int netns_fd, const struct ct_error *e, void *data);
void netattach_start(struct apiserver *api, const char *id, const char *name, json_t *options,
		     netattach_done_fn done, void *data);

/* Releases whatever the container holds on its networks. Idempotent. */
void netattach_release(struct apiserver *api, const char *id);
/* Releases when the helper process exits. */
void netattach_watch(struct apiserver *api, const char *id, pid_t helper_pid);
/* At boot: watch the helpers of running containers, release the others. */
void netattach_boot(struct apiserver *api, bool (*running)(struct apiserver *api, const char *id,
							   pid_t *helper));

/* {"networks": [{network, address ("10.89.0.2/24"), gateway, mac, interface}],
 *  "ports": [{proto, hostIp, hostPort, containerPort, count}]}, from state.db. */
json_t *netattach_describe(struct apiserver *api, const char *id);

#endif
