/* Link stubs for fuzz_body: network_attach.c and volumes.c hold the request-body
 * checks fuzz_body calls, next to code that needs a running API server (the state
 * database, plugins, the event loop). These stand in for what that code calls, so the
 * files link without the rest of the server; none is reached from the checks, and
 * one that is aborts with its name (a check that began to touch server state).
 * No header is included: only the names matter to the linker. When those files
 * start to call something new, the build of fuzz_body fails with "undefined
 * reference to `…'": add a STUB line for it. */
#include <stdio.h>
#include <stdlib.h>

#define STUB(name)                                                                                 \
	void name(void);                                                                           \
	void name(void)                                                                            \
	{                                                                                          \
		fprintf(stderr,                                                                    \
			"fuzz_body: %s called: a request-body check reached server "               \
			"state; give it a stub in fuzz_body.c\n",                                  \
			#name);                                                                    \
		abort();                                                                           \
	}

STUB(alloc_db_delete)
STUB(alloc_db_insert)
STUB(alloc_db_list)
STUB(alloc_db_set_ports)
STUB(apiserver_property)
STUB(async_call)
STUB(container_db_list)
STUB(containers_exited)
STUB(container_records_free)
STUB(ct_close_fds)
STUB(ct_loop_unwatch)
STUB(ct_loop_watch)
STUB(ct_request_body)
STUB(ct_request_fail)
STUB(ct_request_reply)
STUB(ct_server_route)
STUB(ct_worker_start)
STUB(network_db_list)
STUB(networks_plugin)
STUB(plugin_instance_socket)
STUB(plugin_instance_state)
STUB(supervisor_find)
STUB(trash_boot)
STUB(trash_tree)
STUB(volume_db_delete)
STUB(volume_db_get)
STUB(volume_db_insert)
STUB(volume_db_list)
STUB(volume_dir_is_empty)
STUB(volume_disk_create)
STUB(volume_disk_mount)
STUB(volume_disk_unmount)
STUB(volume_fill)
