/* Published ports: parsing, the host-port reservation, and the DNAT rule.
 *
 * A port is reserved by binding a socket to it (TCP: bound, never listening) and holding
 * it as long as the attachment lives. That is how a port already used by a host process,
 * or by another container on any network, is found before a rule would silently steal its
 * traffic; and a host program that starts later gets EADDRINUSE instead of a port whose
 * packets go elsewhere. No SO_REUSEADDR: with it two bound-but-idle TCP sockets could
 * share a port. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "json_util.h"
#include "log.h"
#include "netbridge.h"
#include "nft.h"
#include "util.h"

/* One socket per port of a range: keep a range to what a descriptor limit allows. */
#define NB_PORT_RANGE_MAX 1024

void nb_port_describe(const struct nb_port *p, char *buf, size_t size)
{
	const char *ip = p->host_ip[0] ? p->host_ip : "0.0.0.0";

	if (p->count > 1)
		snprintf(buf, size, "%u-%u/%s on %s", p->host_port, p->host_port + p->count - 1,
			 p->proto, ip);
	else
		snprintf(buf, size, "%u/%s on %s", p->host_port, p->proto, ip);
}

static int parse_port_number(json_t *obj, const char *key, bool required, int64_t min, int64_t max,
			     int64_t *value, size_t index, struct ct_error *err)
{
	_cleanup_free_ char *what = xasprintf("ports[%zu]", index);

	if (ct_json_get_int(obj, key, required, value, what, err) < 0)
		return -1;
	if (*value < min || *value > max)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "ports[%zu].%s %lld: expected %lld to %lld", index, key,
				    (long long)*value, (long long)min, (long long)max);
	return 0;
}

static int parse_port(json_t *obj, size_t index, bool with_handle, struct nb_port *p,
		      struct ct_error *err)
{
	_cleanup_free_ char *what = xasprintf("ports[%zu]", index);
	const char *proto = NULL, *host_ip = "";
	int64_t host_port = 0, container_port = 0, count = 1, handle = 0;
	struct in_addr ignored;

	if (!json_is_object(obj))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "ports[%zu]: expected an object, got %s", index,
				    ct_json_type_name(obj));
	if (ct_json_get_string(obj, "proto", true, &proto, what, err) < 0 ||
	    ct_json_get_string(obj, "hostIp", false, &host_ip, what, err) < 0 ||
	    parse_port_number(obj, "hostPort", false, 0, 65535, &host_port, index, err) < 0 ||
	    parse_port_number(obj, "containerPort", true, 1, 65535, &container_port, index, err) <
		0 ||
	    parse_port_number(obj, "count", false, 1, NB_PORT_RANGE_MAX, &count, index, err) < 0)
		return -1;
	if (with_handle &&
	    parse_port_number(obj, "handle", false, 0, INT64_MAX, &handle, index, err) < 0)
		return -1;
	if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "ports[%zu].proto \"%s\": expected \"tcp\" or \"udp\"", index,
				    proto);
	if (host_ip[0] && inet_pton(AF_INET, host_ip, &ignored) != 1)
		return ct_error_set(
		    err, CT_ERR_INVALID_ARGUMENT, 0,
		    "ports[%zu].hostIp \"%s\": expected an IPv4 address, or \"\" for "
		    "every address of the host",
		    index, host_ip);
	if (host_port == 0 && count != 1)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "ports[%zu]: a range of %lld ports needs a host port to start "
				    "from (hostPort 0 chooses one free port)",
				    index, (long long)count);
	if (host_port + count - 1 > 65535 || container_port + count - 1 > 65535)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "ports[%zu]: a range of %lld ports from %lld (host) and %lld "
				    "(container) goes past port 65535",
				    index, (long long)count, (long long)host_port,
				    (long long)container_port);
	snprintf(p->proto, sizeof(p->proto), "%s", proto);
	snprintf(p->host_ip, sizeof(p->host_ip), "%s", host_ip);
	p->host_port = (unsigned int)host_port;
	p->container_port = (unsigned int)container_port;
	p->count = (unsigned int)count;
	p->handle = (uint64_t)handle;
	return 0;
}

int nb_ports_parse(json_t *array, struct nb_port **out, size_t *n, bool with_handles,
		   struct ct_error *err)
{
	size_t count = array ? json_array_size(array) : 0;
	struct nb_port *ports = xcalloc(count ? count : 1, sizeof(*ports));

	for (size_t i = 0; i < count; i++)
		if (parse_port(json_array_get(array, i), i, with_handles, &ports[i], err) < 0) {
			free(ports);
			return -1;
		}
	*out = ports;
	*n = count;
	return 0;
}

void nb_port_release(struct nb_port *p)
{
	for (size_t i = 0; i < p->n_fds; i++)
		close(p->fds[i]);
	free(p->fds);
	p->fds = NULL;
	p->n_fds = 0;
}

void nb_ports_free(struct nb_port *ports, size_t n)
{
	for (size_t i = 0; ports && i < n; i++)
		nb_port_release(&ports[i]);
	free(ports);
}

static int bind_port(const struct nb_port *p, unsigned int port, unsigned int *bound,
		     struct ct_error *err)
{
	bool tcp = strcmp(p->proto, "tcp") == 0;
	_cleanup_close_ int fd =
	    socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t len = sizeof(sin);
	const char *ip = p->host_ip[0] ? p->host_ip : "0.0.0.0";

	if (fd < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL,
				      "creating a socket to reserve port %u/%s", port, p->proto);
	inet_pton(AF_INET, ip, &sin.sin_addr);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		if (errno == EADDRINUSE)
			return ct_error_set(err, CT_ERR_CONFLICT, errno,
					    "port %u/%s on %s is already in use by another program "
					    "or container; choose another host port or omit it to "
					    "get a free one",
					    port, p->proto, ip);
		if (errno == EADDRNOTAVAIL)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, errno,
					    "publishing port %u/%s on %s: %s is not an address of "
					    "this host; use one of its addresses or \"\" for all",
					    port, p->proto, ip, ip);
		if (errno == EACCES)
			return ct_error_errno(err, CT_ERR_PERMISSION_DENIED,
					      "reserving port %u/%s on %s (ports below 1024 need "
					      "CAP_NET_BIND_SERVICE)",
					      port, p->proto, ip);
		return ct_error_errno(err, CT_ERR_INTERNAL, "reserving port %u/%s on %s", port,
				      p->proto, ip);
	}
	if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return ct_error_errno(err, CT_ERR_INTERNAL, "reading the port reserved on %s", ip);
	*bound = ntohs(sin.sin_port);
	return move_fd(fd);
}

int nb_port_reserve(struct nb_port *p, struct ct_error *err)
{
	nb_port_release(p);
	p->fds = xcalloc(p->count, sizeof(int));
	for (unsigned int i = 0; i < p->count; i++) {
		unsigned int bound = 0;
		int fd = bind_port(p, p->host_port ? p->host_port + i : 0, &bound, err);

		if (fd < 0) {
			nb_port_release(p);
			return -1;
		}
		p->fds[p->n_fds++] = fd;
		if (p->host_port == 0)
			p->host_port = bound;
	}
	return 0;
}

int nb_port_publish(struct netbridge *nb, struct nb_port *p, const char *container_ip,
		    struct ct_error *err)
{
	struct nft_port_spec spec = {
	    .network = nb->network,
	    .proto = p->proto,
	    .host_ip = p->host_ip,
	    .host_port = p->host_port,
	    .container_ip = container_ip,
	    .container_port = p->container_port,
	    .count = p->count,
	};
	char what[96];

	if (nft_port_add(&spec, &p->handle, err) < 0) {
		nb_port_describe(p, what, sizeof(what));
		return ct_error_prefix(err, "publishing port %s to %s:%u", what, container_ip,
				       p->container_port);
	}
	return 0;
}

int nb_port_unpublish(struct netbridge *nb, struct nb_port *p, struct ct_error *err)
{
	char what[96];

	if (p->handle == 0)
		return 0;
	if (nft_port_remove(nb->network, p->handle, err) < 0) {
		if (!ct_error_is(err, CT_ERR_NOT_FOUND)) {
			nb_port_describe(p, what, sizeof(what));
			return ct_error_prefix(err, "removing the rule of port %s", what);
		}
		ct_error_clear(err);
	}
	p->handle = 0;
	return 0;
}

json_t *nb_port_json(const struct nb_port *p, bool with_handle)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I}", "proto", p->proto, "hostIp", p->host_ip,
			      "hostPort", (json_int_t)p->host_port, "containerPort",
			      (json_int_t)p->container_port, "count", (json_int_t)p->count);

	if (with_handle)
		json_object_set_new(j, "handle", json_integer((json_int_t)p->handle));
	return j;
}
