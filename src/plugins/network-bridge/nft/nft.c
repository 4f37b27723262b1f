/* The nftables rules of container-network-bridge (see nft.h for the layout).
 *
 * Changes are written as nft text commands and run through libnftables, one buffer
 * per change, which libnftables commits as one kernel transaction. Every value put
 * into a command is checked first (names by character set, addresses re-printed by
 * inet_ntop, ports as numbers), so nothing a caller passes can inject syntax. The
 * current state is read back as JSON (`list table`), never remembered. */
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "json_util.h"
#include "log.h"
#include "util.h"

#define TABLE NFT_TABLE_FAMILY " " NFT_TABLE_NAME

/* Linux interface names: IFNAMSIZ - 1. */
#define BRIDGE_NAME_MAX 15
/* "net-" name "-dnat" */
#define CHAIN_NAME_SIZE (NFT_NETWORK_NAME_MAX + 16)

/* The comment of a published port's rule; at most 123 bytes with two IPv6
 * addresses and port ranges, under nft's limit of 128. */
#define PORT_COMMENT_PREFIX "publish "

/* The per-network chains, in the order they are created. */
static const char *const network_chain_suffixes[] = {"dnat", "post", "fwd"};

/* A growing command buffer; aborts on out-of-memory like xasprintf. */
struct strbuf {
	char *data;
	size_t len;
	size_t cap;
};

static void strbuf_release(struct strbuf *sb)
{
	free(sb->data);
}

#define _cleanup_strbuf_ __attribute__((cleanup(strbuf_release)))

static __attribute__((format(printf, 2, 3))) void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	if (sb->len + (size_t)n + 1 > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 512;

		while (cap < sb->len + (size_t)n + 1)
			cap *= 2;
		sb->data = realloc(sb->data, cap);
		if (!sb->data)
			abort();
		sb->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(sb->data + sb->len, sb->cap - sb->len, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

static void cleanup_nft_ctxp(struct nft_ctx **ctx)
{
	if (*ctx)
		nft_ctx_free(*ctx);
}

#define _cleanup_nft_ctx_ __attribute__((cleanup(cleanup_nft_ctxp)))

/* Turns nft's error output into one line with a code that tells the caller what
 * kind of failure it was. nft prints one or more
 *   [netlink: ]Error: <what>
 *   <the command>
 *   <carets under the culprit>
 * of which the last says best what failed ("Could not process rule: Operation not
 * permitted" after "cache initialization failed: ..."). */
static int report_nft_error(const char *buf, struct ct_error *err)
{
	static const struct {
		const char *text;
		const char *code;
		int errnum;
		const char *hint;
	} kinds[] = {
	    {"Operation not permitted", CT_ERR_PERMISSION_DENIED, EPERM,
	     " (changing nftables needs root or CAP_NET_ADMIN)"},
	    {"No such file or directory", CT_ERR_NOT_FOUND, ENOENT, ""},
	    {"File exists", CT_ERR_EXISTS, EEXIST, ""},
	    {"Device or resource busy", CT_ERR_CONFLICT, EBUSY, ""},
	    {"not supported", CT_ERR_UNSUPPORTED, EOPNOTSUPP,
	     " (the kernel lacks an nftables feature: nat, masquerade, fib or ct)"},
	};
	const char *code = CT_ERR_INTERNAL, *hint = "";
	int errnum = 0, what_len = 0, command_len = 0;
	const char *what = NULL, *command = NULL;

	if (!buf || !*buf)
		return ct_error_set(err, CT_ERR_INTERNAL, 0,
				    "nft: the command failed without a message");
	for (const char *line = buf; *line;) {
		const char *end = strchrnul(line, '\n');
		const char *e = memmem(line, (size_t)(end - line), "Error: ", strlen("Error: "));

		if (e) {
			what = e + strlen("Error: ");
			what_len = (int)(end - what);
			command = NULL;
		} else if (what && !command && end > line && !strchr("^ ", line[0])) {
			command = line;
			command_len = (int)(end - line);
		}
		line = *end ? end + 1 : end;
	}
	if (!what) {
		what = buf;
		what_len = (int)strcspn(buf, "\n");
	}
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (memmem(what, (size_t)what_len, kinds[i].text, strlen(kinds[i].text))) {
			code = kinds[i].code;
			errnum = kinds[i].errnum;
			hint = kinds[i].hint;
			break;
		}
	}
	if (command)
		return ct_error_set(err, code, errnum, "nft: %.*s%s, in \"%.*s\"", what_len, what,
				    hint, command_len, command);
	return ct_error_set(err, code, errnum, "nft: %.*s%s", what_len, what, hint);
}

/* Runs a buffer of nft commands as one transaction. With output, what nft prints
 * (the listing, or the echo of what was added) is returned in *output. */
static int nft_exec(const char *cmds, unsigned int output_flags, char **output,
		    struct ct_error *err)
{
	_cleanup_nft_ctx_ struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);

	if (!ctx)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM,
				    "nft: can't create a libnftables context");
	nft_ctx_output_set_flags(ctx, output_flags);
	if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0)
		return ct_error_set(err, CT_ERR_INTERNAL, ENOMEM,
				    "nft: can't buffer libnftables output");
	log_debug("nft: running:\n%s", cmds);
	if (nft_run_cmd_from_buffer(ctx, cmds) != 0)
		return report_nft_error(nft_ctx_get_error_buffer(ctx), err);
	if (output)
		*output = xstrdup(nft_ctx_get_output_buffer(ctx));
	return 0;
}

/* Input checks */

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

int nft_check_network_name(const char *name, struct ct_error *err)
{
	bool valid;
	size_t len;

	if (!name || !*name)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "missing network name");
	len = strlen(name);
	if (len > NFT_NETWORK_NAME_MAX)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "network name \"%.16s…\" is too long (%zu bytes, at most %d)",
				    name, len, NFT_NETWORK_NAME_MAX);
	/* The name goes into chain names and comments, unquoted: allow only what nft
	 * reads as part of one word. */
	valid = is_name_char(name[0]) && name[0] != '_' && name[0] != '.' && name[0] != '-';
	for (size_t i = 1; i < len && valid; i++)
		valid = is_name_char(name[i]);
	if (!valid)
		return ct_error_set(
		    err, CT_ERR_INVALID_ARGUMENT, 0,
		    "invalid network name \"%s\": use letters, digits, '_', '.' and "
		    "'-', starting with a letter or digit",
		    name);
	return 0;
}

int nft_check_bridge_name(const char *bridge, struct ct_error *err)
{
	size_t len;

	if (!bridge || !*bridge)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "missing bridge name");
	len = strlen(bridge);
	if (len > BRIDGE_NAME_MAX)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "bridge name \"%s\" is too long (%zu bytes, at most %d)",
				    bridge, len, BRIDGE_NAME_MAX);
	if (strcmp(bridge, ".") == 0 || strcmp(bridge, "..") == 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "invalid bridge name \"%s\"",
				    bridge);
	for (size_t i = 0; i < len; i++) {
		if (!is_name_char(bridge[i]))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "invalid bridge name \"%s\": use letters, digits, '_', "
					    "'.' and '-'",
					    bridge);
	}
	return 0;
}

/* Parses an address of either family into its canonical text form. */
static int parse_ip(const char *text, int *family, char canon[INET6_ADDRSTRLEN])
{
	unsigned char addr[sizeof(struct in6_addr)];

	if (!text)
		return -1;
	if (inet_pton(AF_INET, text, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, text, addr) == 1)
		*family = AF_INET6;
	else
		return -1;
	if (!inet_ntop(*family, addr, canon, INET6_ADDRSTRLEN))
		return -1;
	return 0;
}

/* canon receives "address/prefix" in canonical form. */
static int parse_cidr(const char *cidr, int *family, char canon[INET6_ADDRSTRLEN + 4],
		      struct ct_error *err)
{
	unsigned char addr[sizeof(struct in6_addr)];
	char text[INET6_ADDRSTRLEN];
	const char *slash;
	char *end;
	unsigned long prefix;
	int max_prefix;
	size_t bytes;

	if (!cidr || !*cidr)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "missing subnet");
	slash = strchr(cidr, '/');
	if (!slash || (size_t)(slash - cidr) >= sizeof(text))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid subnet \"%s\": expected ADDRESS/PREFIX, such as "
				    "10.88.0.0/24 or fd00:88::/64",
				    cidr);
	memcpy(text, cidr, (size_t)(slash - cidr));
	text[slash - cidr] = '\0';
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family = AF_INET;
		max_prefix = 32;
	} else if (inet_pton(AF_INET6, text, addr) == 1) {
		*family = AF_INET6;
		max_prefix = 128;
	} else {
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid subnet \"%s\": \"%s\" is not an IPv4 or IPv6 address",
				    cidr, text);
	}
	errno = 0;
	if (slash[1] < '0' || slash[1] > '9')
		prefix = ULONG_MAX;
	else
		prefix = strtoul(slash + 1, &end, 10);
	if (prefix == ULONG_MAX || errno || *end || prefix < 1 ||
	    prefix > (unsigned long)max_prefix)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid subnet \"%s\": the prefix length must be 1 to %d",
				    cidr, max_prefix);
	/* A subnet with host bits set is most likely a typo for an address. */
	bytes = *family == AF_INET ? 4 : 16;
	for (size_t bit = prefix; bit < bytes * 8; bit++) {
		if (addr[bit / 8] & (0x80 >> (bit % 8))) {
			for (size_t b = prefix; b < bytes * 8; b++)
				addr[b / 8] &= (unsigned char)~(0x80 >> (b % 8));
			inet_ntop(*family, addr, text, sizeof(text));
			return ct_error_set(
			    err, CT_ERR_INVALID_ARGUMENT, 0,
			    "invalid subnet \"%s\": host bits are set (did you mean "
			    "%s/%lu?)",
			    cidr, text, prefix);
		}
	}
	inet_ntop(*family, addr, text, sizeof(text));
	snprintf(canon, INET6_ADDRSTRLEN + 4, "%s/%u", text, (unsigned int)(unsigned char)prefix);
	return 0;
}

int nft_parse_cidr(const char *cidr, int *family, struct ct_error *err)
{
	char canon[INET6_ADDRSTRLEN + 4];

	return parse_cidr(cidr, family, canon, err);
}

static void chain_name(char buf[CHAIN_NAME_SIZE], const char *network, const char *suffix)
{
	snprintf(buf, CHAIN_NAME_SIZE, "net-%s-%s", network, suffix);
}

/* Reading the table back */

/* The JSON listing of our table: *root owns it, *items is its "nftables" array.
 * A missing table gives *root == NULL and success. */
static int list_table(json_t **root, json_t **items, struct ct_error *err)
{
	_cleanup_free_ char *out = NULL;
	_cleanup_error_ struct ct_error list_err = CT_ERROR_INIT;
	json_error_t jerr;
	json_t *doc;

	*root = NULL;
	*items = NULL;
	if (nft_exec("list table " TABLE "\n", NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE, &out,
		     &list_err) < 0) {
		if (ct_error_is(&list_err, CT_ERR_NOT_FOUND))
			return 0;
		ct_error_move(err, &list_err);
		return ct_error_prefix(err, "listing table %s", TABLE);
	}
	doc = json_loads(out, 0, &jerr);
	if (!doc)
		return ct_error_set(err, CT_ERR_INTERNAL, 0,
				    "listing table %s: nft printed invalid JSON: %s (line %d)",
				    TABLE, jerr.text, jerr.line);
	*items = json_object_get(doc, "nftables");
	if (!json_is_array(*items)) {
		json_decref(doc);
		*items = NULL;
		return ct_error_set(err, CT_ERR_INTERNAL, 0,
				    "listing table %s: nft's JSON has no \"nftables\" array",
				    TABLE);
	}
	*root = doc;
	return 0;
}

/* The object of one listing entry if it is of that kind ("rule", "chain", "set"). */
static json_t *entry_of(json_t *entry, const char *kind)
{
	json_t *obj = json_object_get(entry, kind);

	return json_is_object(obj) ? obj : NULL;
}

static const char *string_field(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

static bool chain_exists(json_t *items, const char *chain)
{
	size_t i;

	for (i = 0; i < json_array_size(items); i++) {
		json_t *entry = json_array_get(items, i);
		json_t *obj = entry_of(entry, "chain");

		if (obj && strcmp(string_field(obj, "name"), chain) == 0)
			return true;
	}
	return false;
}

static bool is_base_chain(const char *chain)
{
	return strcmp(chain, "prerouting") == 0 || strcmp(chain, "output") == 0 ||
	       strcmp(chain, "postrouting") == 0 || strcmp(chain, "forward") == 0;
}

/* The elements of the set of our bridges, or NULL. */
static json_t *bridges_set_elements(json_t *items)
{
	size_t i;

	for (i = 0; i < json_array_size(items); i++) {
		json_t *entry = json_array_get(items, i);
		json_t *obj = entry_of(entry, "set");

		if (obj && strcmp(string_field(obj, "name"), "bridges") == 0)
			return json_object_get(obj, "elem");
	}
	return NULL;
}

/* An element of the bridges set: a bare string, or {"elem": {"val", "comment"}}. */
static void element_parts(json_t *elem, const char **value, const char **comment)
{
	json_t *inner = json_object_get(elem, "elem");

	if (json_is_string(elem)) {
		*value = json_string_value(elem);
		*comment = "";
	} else if (json_is_object(inner)) {
		*value = string_field(inner, "val");
		*comment = string_field(inner, "comment");
	} else {
		*value = "";
		*comment = "";
	}
}

/* Appends to sb the commands that remove everything of the network: its jump rules,
 * its bridge and its chains. Returns how many objects were found. */
static size_t network_removal(json_t *items, const char *name, struct strbuf *sb)
{
	_cleanup_free_ char *owner = xasprintf("net %s", name);
	size_t found = 0, i;
	json_t *elems;

	for (i = 0; i < json_array_size(items); i++) {
		json_t *entry = json_array_get(items, i);
		json_t *rule = entry_of(entry, "rule");
		const char *chain;

		if (!rule)
			continue;
		chain = string_field(rule, "chain");
		if (is_base_chain(chain) && strcmp(string_field(rule, "comment"), owner) == 0) {
			sb_printf(sb, "delete rule %s %s handle %" JSON_INTEGER_FORMAT "\n", TABLE,
				  chain, json_integer_value(json_object_get(rule, "handle")));
			found++;
		}
	}
	elems = bridges_set_elements(items);
	for (i = 0; i < json_array_size(elems); i++) {
		json_t *entry = json_array_get(elems, i);
		const char *value, *comment;

		element_parts(entry, &value, &comment);
		if (strcmp(comment, owner) == 0) {
			sb_printf(sb, "delete element %s bridges { \"%s\" }\n", TABLE, value);
			found++;
		}
	}
	for (i = 0; i < ARRAY_SIZE(network_chain_suffixes); i++) {
		char chain[CHAIN_NAME_SIZE];

		chain_name(chain, name, network_chain_suffixes[i]);
		if (chain_exists(items, chain)) {
			sb_printf(sb, "flush chain %s %s\ndelete chain %s %s\n", TABLE, chain,
				  TABLE, chain);
			found++;
		}
	}
	return found;
}

/* The table, the set of our bridges and the base chains; `add` keeps what exists,
 * so this prefix makes any batch work on a fresh or a populated table. */
static void table_preamble(struct strbuf *sb)
{
	sb_printf(sb, "add table " TABLE "\n"
		      "add set " TABLE " bridges { type ifname; }\n"
		      "add chain " TABLE " prerouting "
		      "{ type nat hook prerouting priority dstnat; policy accept; }\n"
		      /* dstnat names -100 only for prerouting in this nft version */
		      "add chain " TABLE
		      " output { type nat hook output priority -100; policy accept; }\n"
		      "add chain " TABLE " postrouting "
		      "{ type nat hook postrouting priority srcnat; policy accept; }\n"
		      "add chain " TABLE " forward "
		      "{ type filter hook forward priority filter; policy accept; }\n");
}

int nft_init(struct ct_error *err)
{
	_cleanup_strbuf_ struct strbuf sb = {0};

	table_preamble(&sb);
	if (nft_exec(sb.data, 0, NULL, err) < 0)
		return ct_error_prefix(err, "creating nftables table %s", TABLE);
	return 0;
}

int nft_teardown(struct ct_error *err)
{
	/* Adding first makes the delete succeed whether or not the table existed, in one
	 * transaction (this nft has no "destroy"). */
	if (nft_exec("add table " TABLE "\ndelete table " TABLE "\n", 0, NULL, err) < 0)
		return ct_error_prefix(err, "deleting nftables table %s", TABLE);
	return 0;
}

/* Networks */

static void network_rules(struct strbuf *sb, const char *name, const char *bridge,
			  char (*subnets)[INET6_ADDRSTRLEN + 4], const int *families,
			  size_t n_subnets, bool internal)
{
	char dnat[CHAIN_NAME_SIZE], post[CHAIN_NAME_SIZE], fwd[CHAIN_NAME_SIZE];
	bool any_ipv4 = false;

	chain_name(dnat, name, "dnat");
	chain_name(post, name, "post");
	chain_name(fwd, name, "fwd");

	sb_printf(sb, "add element %s bridges { \"%s\" comment \"net %s\" }\n", TABLE, bridge,
		  name);
	sb_printf(sb, "add chain %s %s\n", TABLE, fwd);
	sb_printf(sb, "add rule %s forward jump %s comment \"net %s\"\n", TABLE, fwd, name);
	if (internal) {
		/* No route out and none in. The containers still reach each other over the
		 * bridge: the forward hook sees that traffic only with br_netfilter, and
		 * then with the bridge as both interfaces. */
		sb_printf(sb, "add rule %s %s iifname \"%s\" oifname != \"%s\" drop\n", TABLE, fwd,
			  bridge, bridge);
		sb_printf(sb, "add rule %s %s oifname \"%s\" iifname != \"%s\" drop\n", TABLE, fwd,
			  bridge, bridge);
		return;
	}

	/* Isolation: nothing from this bridge to another of ours, except connections a
	 * published port's DNAT sent there (they are what publishing is for). Each
	 * network's own rule covers its direction, so two networks block both ways.
	 * Traffic within the bridge (seen here only with br_netfilter) has the bridge on
	 * both sides and passes. */
	sb_printf(sb,
		  "add rule %s %s iifname \"%s\" oifname != \"%s\" oifname @bridges "
		  "ct status & dnat == 0 drop\n",
		  TABLE, fwd, bridge, bridge);

	sb_printf(sb, "add chain %s %s\n", TABLE, dnat);
	sb_printf(sb, "add rule %s prerouting fib daddr type local jump %s comment \"net %s\"\n",
		  TABLE, dnat, name);
	sb_printf(sb, "add rule %s output fib daddr type local jump %s comment \"net %s\"\n", TABLE,
		  dnat, name);

	sb_printf(sb, "add chain %s %s\n", TABLE, post);
	sb_printf(sb, "add rule %s postrouting jump %s comment \"net %s\"\n", TABLE, post, name);
	for (size_t i = 0; i < n_subnets; i++) {
		const char *ip = families[i] == AF_INET ? "ip" : "ip6";

		any_ipv4 |= families[i] == AF_INET;
		sb_printf(sb, "add rule %s %s %s saddr %s oifname != \"%s\" masquerade\n", TABLE,
			  post, ip, subnets[i], bridge);
		/* Hairpin: a container reaching a published port of its own network must see
		 * the answer come from the address it called, so hide its address. Not the
		 * host's own connections from the gateway address (a local source): they
		 * need no rewriting, and NAT on every packet of a download cost some 5% of
		 * the throughput through a published port. (Not "iifname": with
		 * br_netfilter a hairpinned frame comes in on the bridge port.) */
		sb_printf(sb,
			  "add rule %s %s %s saddr %s oifname \"%s\" fib saddr type != local "
			  "ct status dnat masquerade\n",
			  TABLE, post, ip, subnets[i], bridge);
	}
	/* The host calling a published port on 127.0.0.1: the container can't answer
	 * 127.0.0.1 (route_localnet lets the packet out, not the answer back). IPv6 has
	 * no route_localnet, so ::1 is never DNAT'ed. */
	if (any_ipv4)
		sb_printf(sb, "add rule %s %s oifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n",
			  TABLE, post, bridge);
}

int nft_network_add(const char *name, const char *bridge, const char *const *subnets, bool internal,
		    struct ct_error *err)
{
	_cleanup_strbuf_ struct strbuf sb = {0};
	_cleanup_free_ char(*canon)[INET6_ADDRSTRLEN + 4] = NULL;
	_cleanup_free_ int *families = NULL;
	_cleanup_free_ char *owner = NULL;
	_cleanup_json_ json_t *root = NULL;
	json_t *items, *elems;
	size_t n = 0, i;

	if (nft_check_network_name(name, err) < 0 || nft_check_bridge_name(bridge, err) < 0)
		return ct_error_prefix(err, "adding network rules");
	while (subnets && subnets[n])
		n++;
	if (n == 0 && !internal)
		return ct_error_set(
		    err, CT_ERR_INVALID_ARGUMENT, 0,
		    "adding rules of network %s: a network with a route out needs at "
		    "least one subnet to masquerade",
		    name);
	canon = xcalloc(n ? n : 1, sizeof(*canon));
	families = xcalloc(n ? n : 1, sizeof(*families));
	for (i = 0; i < n; i++) {
		if (parse_cidr(subnets[i], &families[i], canon[i], err) < 0)
			return ct_error_prefix(err, "adding rules of network %s", name);
	}

	if (list_table(&root, &items, err) < 0)
		return ct_error_prefix(err, "adding rules of network %s", name);
	table_preamble(&sb);
	if (root) {
		owner = xasprintf("net %s", name);
		elems = bridges_set_elements(items);
		for (i = 0; i < json_array_size(elems); i++) {
			json_t *elem = json_array_get(elems, i);
			const char *value, *comment;

			element_parts(elem, &value, &comment);
			if (strcmp(value, bridge) == 0 && strcmp(comment, owner) != 0)
				return ct_error_set(err, CT_ERR_CONFLICT, 0,
						    "adding rules of network %s: bridge %s already "
						    "belongs to %s in table %s",
						    name, bridge,
						    *comment ? comment : "another network", TABLE);
		}
		/* Re-adding replaces, in the same transaction as the new rules. */
		if (network_removal(items, name, &sb) > 0)
			log_debug("nft: replacing the rules of network %s", name);
	}
	network_rules(&sb, name, bridge, canon, families, n, internal);
	if (nft_exec(sb.data, 0, NULL, err) < 0)
		return ct_error_prefix(err, "adding rules of network %s (bridge %s)", name, bridge);
	return 0;
}

int nft_network_remove(const char *name, struct ct_error *err)
{
	_cleanup_strbuf_ struct strbuf sb = {0};
	_cleanup_json_ json_t *root = NULL;
	json_t *items;

	if (nft_check_network_name(name, err) < 0)
		return ct_error_prefix(err, "removing network rules");
	if (list_table(&root, &items, err) < 0)
		return ct_error_prefix(err, "removing rules of network %s", name);
	if (!root || network_removal(items, name, &sb) == 0)
		return ct_error_set(
		    err, CT_ERR_NOT_FOUND, ENOENT,
		    "removing rules of network %s: the network has no rules in table %s", name,
		    TABLE);
	if (nft_exec(sb.data, 0, NULL, err) < 0)
		return ct_error_prefix(err, "removing rules of network %s", name);
	return 0;
}

int nft_network_exists(const char *name, struct ct_error *err)
{
	_cleanup_strbuf_ struct strbuf sb = {0};
	_cleanup_json_ json_t *root = NULL;
	json_t *items;

	if (nft_check_network_name(name, err) < 0)
		return -1;
	if (list_table(&root, &items, err) < 0)
		return ct_error_prefix(err, "looking up rules of network %s", name);
	/* It exists if removing it would delete anything. */
	return root && network_removal(items, name, &sb) > 0 ? 1 : 0;
}

/* Published ports
 *
 * Each port is one rule in net-<network>-dnat whose comment describes it, so the
 * ports can be listed back without decoding nft's expressions:
 *   publish tcp *:8080-8082 -> 10.88.0.2:80-82
 *   publish udp [fd00::1]:53 -> [fd00:88::2]:5353                                  */

static int check_port(unsigned int port, unsigned int count, const char *what, struct ct_error *err)
{
	if (port < 1 || port > 65535)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid %s port %u: it must be 1 to 65535", what, port);
	if (port + count - 1 > 65535)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid %s port range %u-%u: it ends past 65535", what, port,
				    port + count - 1);
	return 0;
}

/* "10.0.0.1:80", "[fd00::1]:80-82", "*:80" (ip NULL or "" = any) */
static void format_endpoint(char *buf, size_t size, int family, const char *ip, unsigned int port,
			    unsigned int count)
{
	char ports[16];

	if (count > 1)
		snprintf(ports, sizeof(ports), "%u-%u", port, port + count - 1);
	else
		snprintf(ports, sizeof(ports), "%u", port);
	if (!ip || !*ip)
		snprintf(buf, size, "*:%s", ports);
	else if (family == AF_INET6)
		snprintf(buf, size, "[%s]:%s", ip, ports);
	else
		snprintf(buf, size, "%s:%s", ip, ports);
}

static int parse_endpoint(const char *text, char ip[INET6_ADDRSTRLEN], unsigned int *port,
			  unsigned int *count)
{
	const char *colon = strrchr(text, ':');
	char addr[INET6_ADDRSTRLEN + 2];
	unsigned int first, last;
	size_t len;
	int family, consumed = 0;

	if (!colon)
		return -1;
	len = (size_t)(colon - text);
	if (len == 0 || len >= sizeof(addr))
		return -1;
	memcpy(addr, text, len);
	addr[len] = '\0';
	if (strcmp(addr, "*") == 0) {
		ip[0] = '\0';
	} else if (addr[0] == '[' && addr[len - 1] == ']') {
		addr[len - 1] = '\0';
		if (parse_ip(addr + 1, &family, ip) < 0 || family != AF_INET6)
			return -1;
	} else if (parse_ip(addr, &family, ip) < 0 || family != AF_INET) {
		return -1;
	}
	if (sscanf(colon + 1, "%u-%u%n", &first, &last, &consumed) == 2 && !colon[1 + consumed]) {
		if (last < first)
			return -1;
	} else if (sscanf(colon + 1, "%u%n", &first, &consumed) == 1 && !colon[1 + consumed]) {
		last = first;
	} else {
		return -1;
	}
	if (first < 1 || last > 65535)
		return -1;
	*port = first;
	*count = last - first + 1;
	return 0;
}

/* Fills p from a rule of a dnat chain; -1 if it is not a port of ours. */
static int port_from_rule(json_t *rule, const char *network, struct nft_port *p)
{
	const char *comment = string_field(rule, "comment");
	char proto[8], host[INET6_ADDRSTRLEN + 16], container[INET6_ADDRSTRLEN + 16];
	unsigned int container_count;
	int consumed = 0;

	if (!ct_str_has_prefix(comment, PORT_COMMENT_PREFIX))
		return -1;
	if (sscanf(comment + strlen(PORT_COMMENT_PREFIX), "%7s %61s -> %61s%n", proto, host,
		   container, &consumed) != 3 ||
	    comment[strlen(PORT_COMMENT_PREFIX) + (size_t)consumed] != '\0')
		return -1;
	if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
		return -1;
	memset(p, 0, sizeof(*p));
	if (parse_endpoint(host, p->host_ip, &p->host_port, &p->count) < 0 ||
	    parse_endpoint(container, p->container_ip, &p->container_port, &container_count) < 0 ||
	    !p->container_ip[0] || container_count != p->count)
		return -1;
	memcpy(p->proto, proto, sizeof(p->proto)); /* "tcp" or "udp" */
	snprintf(p->network, sizeof(p->network), "%s", network);
	p->handle = (uint64_t)json_integer_value(json_object_get(rule, "handle"));
	return 0;
}

/* The network a chain name "net-<name>-dnat" belongs to, or NULL. */
static bool dnat_chain_network(const char *chain, char network[NFT_NETWORK_NAME_MAX + 1])
{
	size_t len = strlen(chain);

	if (!ct_str_has_prefix(chain, "net-") || len < strlen("net-x-dnat") ||
	    strcmp(chain + len - strlen("-dnat"), "-dnat") != 0)
		return false;
	len -= strlen("net-") + strlen("-dnat");
	if (len > NFT_NETWORK_NAME_MAX)
		return false;
	memcpy(network, chain + strlen("net-"), len);
	network[len] = '\0';
	return true;
}

static int collect_ports(json_t *items, const char *network, struct nft_port **ports, size_t *n)
{
	_cleanup_free_ struct nft_port *list = NULL;
	size_t count = 0, i;

	for (i = 0; i < json_array_size(items); i++) {
		json_t *entry = json_array_get(items, i);
		json_t *rule = entry_of(entry, "rule");
		char owner[NFT_NETWORK_NAME_MAX + 1];
		struct nft_port p;

		if (!rule || !dnat_chain_network(string_field(rule, "chain"), owner))
			continue;
		if (network && strcmp(owner, network) != 0)
			continue;
		if (port_from_rule(rule, owner, &p) < 0) {
			log_warn("nft: ignoring a rule of chain %s that is not a published port "
				 "of ours (handle %" JSON_INTEGER_FORMAT ")",
				 string_field(rule, "chain"),
				 json_integer_value(json_object_get(rule, "handle")));
			continue;
		}
		list = realloc(list, (count + 1) * sizeof(*list));
		if (!list)
			abort();
		list[count++] = p;
	}
	*ports = move_ptr(list);
	*n = count;
	return 0;
}

int nft_port_list(const char *network, struct nft_port **ports, size_t *n, struct ct_error *err)
{
	_cleanup_json_ json_t *root = NULL;
	json_t *items;

	*ports = NULL;
	*n = 0;
	if (network && nft_check_network_name(network, err) < 0)
		return ct_error_prefix(err, "listing published ports");
	if (list_table(&root, &items, err) < 0)
		return ct_error_prefix(err, "listing published ports");
	if (!root)
		return 0;
	return collect_ports(items, network, ports, n);
}

static int family_of(const char *ip)
{
	int family = AF_UNSPEC;
	char canon[INET6_ADDRSTRLEN];

	if (parse_ip(ip, &family, canon) < 0)
		return AF_UNSPEC;
	return family;
}

/* The checked, canonical form of a port spec. */
struct port_request {
	const char *proto;
	int family;
	char host_ip[INET6_ADDRSTRLEN]; /* "" = any */
	char container_ip[INET6_ADDRSTRLEN];
	unsigned int host_port, container_port, count;
};

static int check_port_spec(const struct nft_port_spec *spec, struct port_request *req,
			   struct ct_error *err)
{
	int host_family;

	if (nft_check_network_name(spec->network, err) < 0)
		return -1;
	if (!spec->proto || (strcmp(spec->proto, "tcp") != 0 && strcmp(spec->proto, "udp") != 0))
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "unknown protocol \"%s\": use tcp or udp",
				    spec->proto ? spec->proto : "(none)");
	req->proto = spec->proto;
	if (!spec->container_ip || !*spec->container_ip)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0, "missing container address");
	if (parse_ip(spec->container_ip, &req->family, req->container_ip) < 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid container address \"%s\": expected an IPv4 or IPv6 "
				    "address",
				    spec->container_ip);
	req->host_ip[0] = '\0';
	if (spec->host_ip && *spec->host_ip) {
		if (parse_ip(spec->host_ip, &host_family, req->host_ip) < 0)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "invalid host address \"%s\": expected an IPv4 or IPv6 "
					    "address",
					    spec->host_ip);
		if (host_family != req->family)
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "host address %s and container address %s are of "
					    "different families",
					    req->host_ip, req->container_ip);
		if (strcmp(req->host_ip, "0.0.0.0") == 0 || strcmp(req->host_ip, "::") == 0)
			req->host_ip[0] = '\0';
		else if (strcmp(req->host_ip, "::1") == 0)
			return ct_error_set(err, CT_ERR_UNSUPPORTED, 0,
					    "publishing on ::1: the kernel does not route IPv6 "
					    "loopback traffic to another interface, so it can't be "
					    "DNAT'ed; publish on 127.0.0.1 or use a proxy");
	}
	req->count = spec->count ? spec->count : 1;
	if (req->count > 65535)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "invalid port range of %u ports", req->count);
	if (check_port(spec->host_port, req->count, "host", err) < 0 ||
	    check_port(spec->container_port, req->count, "container", err) < 0)
		return -1;
	req->host_port = spec->host_port;
	req->container_port = spec->container_port;
	return 0;
}

/* Another published port that takes (part of) the same host ports, or NULL. */
static const struct nft_port *find_conflict(const struct nft_port *ports, size_t n,
					    const struct port_request *req)
{
	for (size_t i = 0; i < n; i++) {
		const struct nft_port *p = &ports[i];

		if (strcmp(p->proto, req->proto) != 0 || family_of(p->container_ip) != req->family)
			continue;
		if (p->host_port + p->count <= req->host_port ||
		    req->host_port + req->count <= p->host_port)
			continue;
		if (!p->host_ip[0] || !req->host_ip[0] || strcmp(p->host_ip, req->host_ip) == 0)
			return p;
	}
	return NULL;
}

/* The handle nft echoes back for the rule just added. */
static int echoed_handle(const char *out, uint64_t *handle, struct ct_error *err)
{
	_cleanup_json_ json_t *doc = NULL;
	json_t *list;
	size_t i;

	doc = json_loads(out ? out : "", 0, NULL);
	list = json_object_get(doc, "nftables");
	for (i = 0; i < json_array_size(list); i++) {
		json_t *entry = json_array_get(list, i);
		json_t *rule = json_object_get(json_object_get(entry, "add"), "rule");
		json_int_t h = json_integer_value(json_object_get(rule, "handle"));

		if (h > 0) {
			*handle = (uint64_t)h;
			return 0;
		}
	}
	return ct_error_set(err, CT_ERR_INTERNAL, 0,
			    "nft added the rule but did not report its handle");
}

int nft_port_add(const struct nft_port_spec *spec, uint64_t *handle, struct ct_error *err)
{
	_cleanup_strbuf_ struct strbuf sb = {0};
	_cleanup_json_ json_t *root = NULL;
	_cleanup_free_ struct nft_port *ports = NULL;
	_cleanup_free_ char *out = NULL;
	char dnat[CHAIN_NAME_SIZE], fwd[CHAIN_NAME_SIZE];
	char host[INET6_ADDRSTRLEN + 16], container[INET6_ADDRSTRLEN + 16];
	const char *ip;
	const struct nft_port *taken;
	struct port_request req;
	json_t *items;
	size_t n;

	if (check_port_spec(spec, &req, err) < 0)
		return ct_error_prefix(err, "publishing a port");
	format_endpoint(host, sizeof(host), req.family, req.host_ip, req.host_port, req.count);
	format_endpoint(container, sizeof(container), req.family, req.container_ip,
			req.container_port, req.count);

	if (list_table(&root, &items, err) < 0)
		return ct_error_prefix(err, "publishing %s %s on network %s", req.proto, host,
				       spec->network);
	chain_name(dnat, spec->network, "dnat");
	chain_name(fwd, spec->network, "fwd");
	if (!root || !chain_exists(items, dnat)) {
		if (root && chain_exists(items, fwd))
			return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
					    "publishing %s %s on network %s: the network is "
					    "internal, it has no route in or out",
					    req.proto, host, spec->network);
		return ct_error_set(err, CT_ERR_NOT_FOUND, ENOENT,
				    "publishing %s %s on network %s: the network has no rules in "
				    "table %s (add the network first)",
				    req.proto, host, spec->network, TABLE);
	}
	collect_ports(items, NULL, &ports, &n);
	taken = find_conflict(ports, n, &req);
	if (taken) {
		char other[INET6_ADDRSTRLEN + 16];

		format_endpoint(other, sizeof(other), family_of(taken->container_ip),
				taken->host_ip, taken->host_port, taken->count);
		return ct_error_set(err, CT_ERR_CONFLICT, EADDRINUSE,
				    "publishing %s %s on network %s: %s %s is already published by "
				    "network %s (to %s port %u)",
				    req.proto, host, spec->network, taken->proto, other,
				    taken->network, taken->container_ip, taken->container_port);
	}

	/* The dnat chain is reached from prerouting and output for local destinations
	 * only, so a rule without a host address takes the port on every address of the
	 * host, and never traffic merely routed through it. */
	ip = req.family == AF_INET ? "ip" : "ip6";
	sb_printf(&sb, "add rule %s %s ", TABLE, dnat);
	if (req.host_ip[0])
		sb_printf(&sb, "%s daddr %s ", ip, req.host_ip);
	else if (req.family == AF_INET)
		sb_printf(&sb, "meta nfproto ipv4 ");
	else /* ::1 can't be DNAT'ed (see check_port_spec): leave it to a proxy */
		sb_printf(&sb, "ip6 daddr != ::1 ");
	if (req.count == 1)
		sb_printf(&sb, "%s dport %u ", req.proto, req.host_port);
	else
		sb_printf(&sb, "%s dport %u-%u ", req.proto, req.host_port,
			  req.host_port + req.count - 1);
	sb_printf(&sb, req.family == AF_INET ? "dnat ip to %s" : "dnat ip6 to [%s]",
		  req.container_ip);
	if (req.count == 1) {
		sb_printf(&sb, ":%u", req.container_port);
	} else if (req.host_port != req.container_port) {
		/* nft maps a range onto a range only through an explicit map. */
		sb_printf(&sb, " : %s dport map { ", req.proto);
		for (unsigned int i = 0; i < req.count; i++)
			sb_printf(&sb, "%s%u : %u", i ? ", " : "", req.host_port + i,
				  req.container_port + i);
		sb_printf(&sb, " }");
	}
	/* else: the same ports on both sides, DNAT keeps the port */
	sb_printf(&sb, " comment \"" PORT_COMMENT_PREFIX "%s %s -> %s\"\n", req.proto, host,
		  container);

	if (nft_exec(sb.data, NFT_CTX_OUTPUT_ECHO | NFT_CTX_OUTPUT_HANDLE | NFT_CTX_OUTPUT_JSON,
		     &out, err) < 0 ||
	    echoed_handle(out, handle, err) < 0)
		return ct_error_prefix(err, "publishing %s %s on network %s", req.proto, host,
				       spec->network);
	log_debug("nft: published %s %s -> %s on network %s (rule handle %" PRIu64 ")", req.proto,
		  host, container, spec->network, *handle);
	return 0;
}

int nft_port_remove(const char *network, uint64_t handle, struct ct_error *err)
{
	_cleanup_free_ char *cmd = NULL;
	char dnat[CHAIN_NAME_SIZE];

	if (nft_check_network_name(network, err) < 0)
		return ct_error_prefix(err, "removing a published port");
	if (handle == 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "removing a published port of network %s: rule handle 0 is not "
				    "valid",
				    network);
	chain_name(dnat, network, "dnat");
	cmd = xasprintf("delete rule %s %s handle %" PRIu64 "\n", TABLE, dnat, handle);
	if (nft_exec(cmd, 0, NULL, err) < 0)
		return ct_error_prefix(
		    err, "removing the published port with rule handle %" PRIu64 " of network %s",
		    handle, network);
	return 0;
}

int nft_port_remove_container(const char *network, const char *container_ip, size_t *removed,
			      struct ct_error *err)
{
	_cleanup_strbuf_ struct strbuf sb = {0};
	_cleanup_free_ struct nft_port *ports = NULL;
	char canon[INET6_ADDRSTRLEN], dnat[CHAIN_NAME_SIZE];
	size_t n, count = 0;
	int family;

	if (removed)
		*removed = 0;
	if (nft_check_network_name(network, err) < 0)
		return ct_error_prefix(err, "removing published ports");
	if (parse_ip(container_ip, &family, canon) < 0)
		return ct_error_set(err, CT_ERR_INVALID_ARGUMENT, 0,
				    "removing published ports: invalid container address \"%s\"",
				    container_ip ? container_ip : "(none)");
	if (nft_port_list(network, &ports, &n, err) < 0)
		return ct_error_prefix(err, "removing published ports of %s", canon);
	chain_name(dnat, network, "dnat");
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ports[i].container_ip, canon) != 0)
			continue;
		sb_printf(&sb, "delete rule %s %s handle %" PRIu64 "\n", TABLE, dnat,
			  ports[i].handle);
		count++;
	}
	if (count && nft_exec(sb.data, 0, NULL, err) < 0)
		return ct_error_prefix(err, "removing published ports of %s on network %s", canon,
				       network);
	if (removed)
		*removed = count;
	return 0;
}

int nft_table_dump(bool json, char **out, struct ct_error *err)
{
	*out = NULL;
	if (nft_exec("list table " TABLE "\n",
		     json ? NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE : 0, out, err) < 0)
		return ct_error_prefix(err, "listing table %s", TABLE);
	return 0;
}
