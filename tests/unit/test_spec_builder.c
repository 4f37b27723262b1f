/* Unit tests of src/apiserver/spec_builder.c: the OCI spec built from a create
 * request body, and the bodies it must refuse rather than crash or overflow on
 * (found by tests/fuzz/fuzz_body.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/apiserver/spec_builder.h"
#include "error.h"

/* spec_builder.c's one call into etc_files.c, whose other half needs the state
 * database: the /etc bind mounts are not what these tests look at. */
json_t *etc_files_mounts(const char *bundle, json_t *options);
json_t *etc_files_mounts(const char *bundle, json_t *options)
{
	(void)bundle;
	(void)options;
	return json_array();
}

/* spec_build for body (JSON text) over an image whose Cmd is /bin/sh; NULL with
 * err set when it refuses. */
static json_t *build(const char *body, struct ct_error *err)
{
	json_t *options = json_loads(body, 0, NULL);
	json_t *image =
	    json_pack("{s:{s:[s], s:[s]}}", "config", "Env", "PATH=/bin", "Cmd", "/bin/sh");
	json_t *snapshots = json_pack("[s]", "/var/lib/container/snapshots/a");
	struct spec_inputs in = {
	    .id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    .name = "web",
	    .bundle = "/var/lib/container/containers/0123456789ab",
	    .image_config = image,
	    .snapshots = snapshots,
	    .options = options,
	};

	assert_non_null(options);
	json_t *spec = spec_build(&in, err);
	json_decref(options);
	json_decref(image);
	json_decref(snapshots);
	return spec;
}

static void refused(const char *body, const char *needle)
{
	struct ct_error err = CT_ERROR_INIT;

	assert_null(build(body, &err));
	assert_string_equal(err.code, CT_ERR_INVALID_ARGUMENT);
	if (!strstr(ct_error_message(&err), needle))
		fail_msg("%s: \"%s\" lacks \"%s\"", body, ct_error_message(&err), needle);
	ct_error_clear(&err);
}

/* JSON text written with ' for " (bodies and specs read better without the
 * escapes); a quote inside a string is \' ("\\'" in C). */
static json_t *loads_quoted(const char *text)
{
	char *copy = strdup(text);
	json_error_t jerr;

	for (char *p = copy; *p; p++)
		if (*p == '\'')
			*p = '"';
	json_t *j = json_loads(copy, 0, &jerr);
	if (!j)
		fail_msg("%s: %s", copy, jerr.text);
	free(copy);
	return j;
}

/* The spec for body must be expected, as the code before the strict checks
 * built it (captured from it). */
static void same_spec(const char *body, const char *expected)
{
	struct ct_error err = CT_ERROR_INIT;
	json_t *options = loads_quoted(body), *want = loads_quoted(expected);
	char *text = json_dumps(options, JSON_COMPACT);
	json_t *spec = build(text, &err);

	if (!spec)
		fail_msg("%s: refused: %s", body, ct_error_message(&err));
	if (!json_equal(spec, want)) {
		char *got = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
		fail_msg("%s:\n got  %s\n want %s", body, got, expected);
	}
	json_decref(spec);
	json_decref(want);
	json_decref(options);
	free(text);
}

static void test_spec_limits(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	json_t *spec = build("{\"memory\":268435456,\"cpus\":1.5,\"capDrop\":[\"ALL\"],"
			     "\"capAdd\":[\"net_admin\"]}",
			     &err);

	(void)state;
	assert_non_null(spec);
	json_t *res = json_object_get(json_object_get(spec, "linux"), "resources");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(res, "memory"), "swap")),
	    2 * 268435456LL);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "cpu"), "quota")),
			 150000);
	json_t *caps = json_object_get(
	    json_object_get(json_object_get(spec, "process"), "capabilities"), "bounding");
	assert_int_equal(json_array_size(caps), 1);
	assert_string_equal(json_string_value(json_array_get(caps, 0)), "CAP_NET_ADMIN");
	json_decref(spec);
}

/* fuzz_body: a capability that is not a string reached strcasecmp as NULL (a
 * segfault of the API server on `{"image":"a","capDrop":[1]}`). */
static void test_spec_caps_not_strings(void **state)
{
	(void)state;
	refused("{\"capDrop\":[1]}", "capDrop[0] must be a capability name, not an integer");
	refused("{\"capAdd\":[\"NET_ADMIN\",null]}", "capAdd[1] must be a capability name");
	refused("{\"capAdd\":[{}],\"capDrop\":[\"ALL\"]}", "capAdd[0]");
	refused("{\"capAdd\":[\"NOT_A_CAP\"]}", "unknown capability NOT_A_CAP");
}

/* fuzz_body: memory+swap (twice the limit) and the CPU quota (cpus times the
 * period) overflowed the spec's 64-bit integers. */
static void test_spec_limits_overflow(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	json_t *spec;

	(void)state;
	refused("{\"memory\":9223372036854775807}", "--memory 9223372036854775807");
	refused("{\"memory\":4611686018427387904}", "at most 4611686018427387903 bytes");
	refused("{\"cpus\":1e300}", "--cpus 1e+300");
	refused("{\"cpus\":92233720368547.76}", "--cpus");
	spec = build("{\"memory\":4611686018427387903,\"cpus\":1024}", &err);
	assert_non_null(spec);
	json_decref(spec);
}

/* What `container run` sends with every flag (src/cli/container_run.c), after
 * netattach_check_options and volumes_check_mounts: the spec is the one built
 * before the fields were checked strictly. */
static void test_spec_cli_body_unchanged(void **state)
{
	(void)state;
	same_spec(
	    "{'image':'busybox','name':'web','env':['A=1','PATH=/usr/bin:/bin'],"
	    "'labels':{'team':'web'},'ulimits':[{'type':'RLIMIT_NOFILE','soft':1024,'hard':4096},"
	    "{'type':'RLIMIT_CORE','soft':-1,'hard':-1}],'tmpfs':[{'path':'/scratch',"
	    "'options':'size=1g'},{'path':'/t','options':''}],'capAdd':['NET_ADMIN'],"
	    "'capDrop':['MKNOD'],'maskedPaths':['/proc/x'],'readOnlyPaths':['/proc/y'],"
	    "'mounts':[{'type':'bind','source':'/srv/www','destination':'/www','readOnly':true},"
	    "{'type':'volume','name':'data','source':'/var/lib/container/volumes/data/_data',"
	    "'destination':'/data','readOnly':false,'noCopy':true},{'type':'tmpfs',"
	    "'source':'tmpfs','destination':'/scratch/run','readOnly':false,'options':'size=64m,"
	    "mode=1777'}],'user':'1000:1000','workdir':'/srv','hostname':'web1',"
	    "'memory':268435456,'cpus':1.5,'pidsLimit':100,'shmSize':134217728,"
	    "'entrypoint':['/bin/sh','-c'],'command':['echo hi'],'init':true,'readOnly':true,"
	    "'tty':true,'interactive':true,'rm':true,'stopSignal':'SIGQUIT',"
	    "'seccompUnconfined':true,'networks':['default'],'network':'bridge','ports':[],"
	    "'publishSockets':[{'host':'/tmp/app.sock','container':'/run/app.sock'}],"
	    "'noDns':false,'os':'linux','architecture':'amd64'}",
	    "{'annotations':{'org.container.init':'true','org.container.name':'web',"
	    "'org.container.publishSockets':'[{\\'host\\':\\'/tmp/app.sock\\',"
	    "\\'container\\':\\'/run/app.sock\\'}]',"
	    "'org.container.rootfs.lower':'/var/lib/container/snapshots/a/fs',"
	    "'org.container.rootfs.upper':'/var/lib/container/containers/0123456789ab/upper',"
	    "'org.container.rootfs.work':'/var/lib/container/containers/0123456789ab/work',"
	    "'org.container.seccomp':'unconfined','org.container.stopSignal':'SIGQUIT'},"
	    "'hostname':'web1',"
	    "'linux':{'cgroupsPath':'container/"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',"
	    "'maskedPaths':['/proc/asound','/proc/acpi','/proc/kcore','/proc/keys',"
	    "'/proc/latency_stats','/proc/timer_list','/proc/timer_stats','/proc/sched_debug',"
	    "'/proc/scsi','/sys/firmware','/sys/devices/virtual/powercap','/proc/x'],"
	    "'namespaces':[{'type':'pid'},{'type':'mount'},{'type':'ipc'},{'type':'uts'},"
	    "{'type':'cgroup'},{'type':'network'}],'readonlyPaths':['/proc/bus','/proc/fs',"
	    "'/proc/irq','/proc/sys','/proc/sysrq-trigger','/proc/y'],"
	    "'resources':{'cpu':{'period':100000,'quota':150000},'memory':{'limit':268435456,"
	    "'swap':536870912},'pids':{'limit':100}}},'mounts':[{'destination':'/proc',"
	    "'options':['nosuid','noexec','nodev'],'source':'proc','type':'proc'},"
	    "{'destination':'/dev','options':['nosuid','strictatime','mode=755','size=65536k'],"
	    "'source':'tmpfs','type':'tmpfs'},{'destination':'/dev/pts','options':['nosuid',"
	    "'noexec','newinstance','ptmxmode=0666','mode=0620','gid=5'],'source':'devpts',"
	    "'type':'devpts'},{'destination':'/dev/shm','options':['nosuid','noexec','nodev',"
	    "'mode=1777','size=131072k'],'source':'shm','type':'tmpfs'},"
	    "{'destination':'/dev/mqueue','options':['nosuid','noexec','nodev'],"
	    "'source':'mqueue','type':'mqueue'},{'destination':'/sys','options':['nosuid',"
	    "'noexec','nodev','ro'],'source':'sysfs','type':'sysfs'},{'destination':'/scratch',"
	    "'options':['size=1g'],'source':'tmpfs','type':'tmpfs'},{'destination':'/t',"
	    "'options':['nosuid','nodev','noexec'],'source':'tmpfs','type':'tmpfs'},"
	    "{'destination':'/www','options':['rbind','ro'],'source':'/srv/www','type':'bind'},"
	    "{'destination':'/data','options':['rbind','rw'],"
	    "'source':'/var/lib/container/volumes/data/_data','type':'bind'},"
	    "{'destination':'/scratch/run','options':['nosuid','nodev','noexec','size=64m',"
	    "'mode=1777','rw'],'source':'tmpfs','type':'tmpfs'}],'ociVersion':'1.0.2',"
	    "'process':{'args':['/dev/init','--','/bin/sh','-c','echo hi'],"
	    "'capabilities':{'ambient':[],'bounding':['CAP_CHOWN','CAP_DAC_OVERRIDE',"
	    "'CAP_FSETID','CAP_FOWNER','CAP_NET_RAW','CAP_SETGID','CAP_SETUID','CAP_SETFCAP',"
	    "'CAP_SETPCAP','CAP_NET_BIND_SERVICE','CAP_SYS_CHROOT','CAP_KILL','CAP_AUDIT_WRITE',"
	    "'CAP_NET_ADMIN'],'effective':['CAP_CHOWN','CAP_DAC_OVERRIDE','CAP_FSETID',"
	    "'CAP_FOWNER','CAP_NET_RAW','CAP_SETGID','CAP_SETUID','CAP_SETFCAP','CAP_SETPCAP',"
	    "'CAP_NET_BIND_SERVICE','CAP_SYS_CHROOT','CAP_KILL','CAP_AUDIT_WRITE',"
	    "'CAP_NET_ADMIN'],'inheritable':[],'permitted':['CAP_CHOWN','CAP_DAC_OVERRIDE',"
	    "'CAP_FSETID','CAP_FOWNER','CAP_NET_RAW','CAP_SETGID','CAP_SETUID','CAP_SETFCAP',"
	    "'CAP_SETPCAP','CAP_NET_BIND_SERVICE','CAP_SYS_CHROOT','CAP_KILL','CAP_AUDIT_WRITE',"
	    "'CAP_NET_ADMIN']},'cwd':'/srv','env':['A=1','PATH=/usr/bin:/bin','HOSTNAME=web1'],"
	    "'noNewPrivileges':true,'rlimits':[{'hard':4096,'soft':1024,'type':'RLIMIT_NOFILE'},"
	    "{'hard':-1,'soft':-1,'type':'RLIMIT_CORE'}],'terminal':true,'user':{'gid':1000,"
	    "'uid':1000}},'root':{'path':'/var/lib/container/containers/0123456789ab/rootfs',"
	    "'readonly':true}}");
}

/* `container run busybox`: the empty lists the CLI always sends. */
static void test_spec_minimal_body_unchanged(void **state)
{
	(void)state;
	same_spec(
	    "{'env':[],'labels':{},'ulimits':[],'tmpfs':[],'capAdd':[],'capDrop':[],"
	    "'maskedPaths':[],'readOnlyPaths':[],'mounts':[],'image':'busybox','tty':false,"
	    "'interactive':false,'rm':false,'networks':['default'],'network':'bridge',"
	    "'ports':[],'publishSockets':[]}",
	    "{'annotations':{'org.container.init':'false','org.container.name':'web',"
	    "'org.container.rootfs.lower':'/var/lib/container/snapshots/a/fs',"
	    "'org.container.rootfs.upper':'/var/lib/container/containers/0123456789ab/upper',"
	    "'org.container.rootfs.work':'/var/lib/container/containers/0123456789ab/work',"
	    "'org.container.seccomp':'default'},'hostname':'web',"
	    "'linux':{'cgroupsPath':'container/"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',"
	    "'maskedPaths':['/proc/asound','/proc/acpi','/proc/kcore','/proc/keys',"
	    "'/proc/latency_stats','/proc/timer_list','/proc/timer_stats','/proc/sched_debug',"
	    "'/proc/scsi','/sys/firmware','/sys/devices/virtual/powercap'],"
	    "'namespaces':[{'type':'pid'},{'type':'mount'},{'type':'ipc'},{'type':'uts'},"
	    "{'type':'cgroup'},{'type':'network'}],'readonlyPaths':['/proc/bus','/proc/fs',"
	    "'/proc/irq','/proc/sys','/proc/sysrq-trigger'],'resources':{}},"
	    "'mounts':[{'destination':'/proc','options':['nosuid','noexec','nodev'],"
	    "'source':'proc','type':'proc'},{'destination':'/dev','options':['nosuid',"
	    "'strictatime','mode=755','size=65536k'],'source':'tmpfs','type':'tmpfs'},"
	    "{'destination':'/dev/pts','options':['nosuid','noexec','newinstance',"
	    "'ptmxmode=0666','mode=0620','gid=5'],'source':'devpts','type':'devpts'},"
	    "{'destination':'/dev/shm','options':['nosuid','noexec','nodev','mode=1777',"
	    "'size=65536k'],'source':'shm','type':'tmpfs'},{'destination':'/dev/mqueue',"
	    "'options':['nosuid','noexec','nodev'],'source':'mqueue','type':'mqueue'},"
	    "{'destination':'/sys','options':['nosuid','noexec','nodev','ro'],'source':'sysfs',"
	    "'type':'sysfs'}],'ociVersion':'1.0.2','process':{'args':['/bin/sh'],"
	    "'capabilities':{'ambient':[],'bounding':['CAP_CHOWN','CAP_DAC_OVERRIDE',"
	    "'CAP_FSETID','CAP_FOWNER','CAP_MKNOD','CAP_NET_RAW','CAP_SETGID','CAP_SETUID',"
	    "'CAP_SETFCAP','CAP_SETPCAP','CAP_NET_BIND_SERVICE','CAP_SYS_CHROOT','CAP_KILL',"
	    "'CAP_AUDIT_WRITE'],'effective':['CAP_CHOWN','CAP_DAC_OVERRIDE','CAP_FSETID',"
	    "'CAP_FOWNER','CAP_MKNOD','CAP_NET_RAW','CAP_SETGID','CAP_SETUID','CAP_SETFCAP',"
	    "'CAP_SETPCAP','CAP_NET_BIND_SERVICE','CAP_SYS_CHROOT','CAP_KILL','CAP_AUDIT_WRITE'],"
	    "'inheritable':[],'permitted':['CAP_CHOWN','CAP_DAC_OVERRIDE','CAP_FSETID',"
	    "'CAP_FOWNER','CAP_MKNOD','CAP_NET_RAW','CAP_SETGID','CAP_SETUID','CAP_SETFCAP',"
	    "'CAP_SETPCAP','CAP_NET_BIND_SERVICE','CAP_SYS_CHROOT','CAP_KILL',"
	    "'CAP_AUDIT_WRITE']},'cwd':'/','env':['PATH=/bin','HOSTNAME=web'],"
	    "'noNewPrivileges':true,'rlimits':[],'terminal':false,'user':{'gid':0,'uid':0}},"
	    "'root':{'path':'/var/lib/container/containers/0123456789ab/rootfs',"
	    "'readonly':false}}");
}

static json_t *field(json_t *spec, const char *path)
{
	char *copy = strdup(path), *save = NULL;
	json_t *v = spec;

	for (char *k = strtok_r(copy, ".", &save); k; k = strtok_r(NULL, ".", &save))
		v = json_object_get(v, k);
	free(copy);
	return v;
}

/* The edges of what each field accepts, with the spec they give. */
static void test_spec_accepted_edges(void **state)
{
	struct ct_error err = CT_ERROR_INIT;
	json_t *spec;

	(void)state;
	/* 0 is no limit, as before; a whole number of CPUs may be an integer. */
	spec = build("{\"memory\":0,\"pidsLimit\":0,\"cpus\":0}", &err);
	assert_non_null(spec);
	assert_int_equal(json_object_size(field(spec, "linux.resources")), 0);
	json_decref(spec);
	spec = build("{\"cpus\":2,\"shmSize\":1024,\"pidsLimit\":1}", &err);
	assert_non_null(spec);
	assert_int_equal(json_integer_value(field(spec, "linux.resources.cpu.quota")), 200000);
	assert_int_equal(json_integer_value(field(spec, "linux.resources.pids.limit")), 1);
	assert_string_equal(json_string_value(json_array_get(
				field(json_array_get(field(spec, "mounts"), 3), "options"), 4)),
			    "size=1k");
	json_decref(spec);
	/* -1 is unlimited, for either limit or both. */
	spec = build("{\"ulimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":10,\"hard\":-1},"
		     "{\"type\":\"RLIMIT_CORE\",\"soft\":-1,\"hard\":-1},"
		     "{\"type\":\"RLIMIT_NPROC\",\"soft\":0,\"hard\":0}]}",
		     &err);
	assert_non_null(spec);
	assert_int_equal(json_array_size(field(spec, "process.rlimits")), 3);
	json_decref(spec);
	/* The largest ids; a name (here with a group) goes to the annotation, and
	 * an empty workdir is the image's (here /). */
	spec = build("{\"user\":\"4294967294:4294967294\"}", &err);
	assert_non_null(spec);
	assert_int_equal(json_integer_value(field(spec, "process.user.uid")), 4294967294LL);
	assert_int_equal(json_integer_value(field(spec, "process.user.gid")), 4294967294LL);
	json_decref(spec);
	spec = build("{\"user\":\"app:1000\",\"workdir\":\"\"}", &err);
	assert_non_null(spec);
	assert_string_equal(json_string_value(json_object_get(json_object_get(spec, "annotations"),
							      "org.container.user")),
			    "app:1000");
	assert_string_equal(json_string_value(field(spec, "process.cwd")), "/");
	json_decref(spec);
	/* A 64-character hostname (the kernel's limit); signals by number and
	 * any case; an empty value; an empty entrypoint drops the image's. */
	spec = build(
	    "{\"hostname\":\"a234567890123456789012345678901234567890123456789012345678901234\","
	    "\"stopSignal\":\"usr1\",\"env\":[\"A=\",\"B==\"],\"entrypoint\":[],"
	    "\"command\":[\"true\"]}",
	    &err);
	assert_non_null(spec);
	assert_int_equal(strlen(json_string_value(field(spec, "hostname"))), 64);
	assert_int_equal(spec_stop_signal(spec), 10);
	assert_int_equal(json_array_size(field(spec, "process.args")), 1);
	json_decref(spec);
	spec = build("{\"stopSignal\":\"9\",\"network\":\"host\",\"noDns\":true,\"command\":[]}",
		     &err);
	assert_non_null(spec);
	assert_int_equal(spec_stop_signal(spec), 9);
	assert_int_equal(json_array_size(field(spec, "linux.namespaces")), 5);
	assert_string_equal(json_string_value(json_array_get(field(spec, "process.args"), 0)),
			    "/bin/sh");
	json_decref(spec);
	assert_int_equal(err.message == NULL, 1);
}

/* fuzz_body: a field of the wrong type was dropped (a non-string in command,
 * env or maskedPaths, a tmpfs or ulimit that is not an object) or passed into
 * the spec as it was (hostname, stopSignal). Each is refused, naming the field
 * and what it must be. */
static void test_spec_wrong_types(void **state)
{
	static const struct {
		const char *body, *message;
	} cases[] = {
	    {"[]", "request body must be a JSON object"},
	    /* the process */
	    {"{'entrypoint':'/bin/sh'}", "field \"entrypoint\" must be an array, not a string"},
	    {"{'entrypoint':['sh',1]}",
	     "request body: entrypoint[1] must be a string, not an integer"},
	    {"{'entrypoint':null}", "field \"entrypoint\" must be an array, not null"},
	    {"{'command':'ls'}", "field \"command\" must be an array, not a string"},
	    {"{'command':['ls',null]}", "request body: command[1] must be a string, not null"},
	    {"{'env':{'A':'1'}}", "field \"env\" must be an array, not an object"},
	    {"{'env':[1]}", "request body: env[0] must be NAME=VALUE, not an integer"},
	    {"{'env':['A=1','FOO']}", "request body: env[1] must be NAME=VALUE, not \"FOO\""},
	    {"{'env':['=x']}", "env[0] must be NAME=VALUE, not \"=x\""},
	    {"{'user':1000}", "field \"user\" must be a string, not an integer"},
	    {"{'user':'4294967295'}",
	     "request body: user \"4294967295\": a uid or gid is at most 4294967294"},
	    {"{'user':'1:99999999999999999999999'}", "a uid or gid is at most 4294967294"},
	    {"{'workdir':['/srv']}", "field \"workdir\" must be a string, not an array"},
	    {"{'workdir':'srv'}", "the working directory srv must be an absolute path"},
	    {"{'tty':'yes'}", "field \"tty\" must be a boolean, not a string"},
	    {"{'init':1}", "field \"init\" must be a boolean, not an integer"},
	    {"{'stopSignal':15}", "field \"stopSignal\" must be a string, not an integer"},
	    {"{'stopSignal':'SIGFOO'}",
	     "field \"stopSignal\" must be a signal such as SIGTERM, TERM or 15, not \"SIGFOO\""},
	    {"{'stopSignal':''}", "field \"stopSignal\" must be a signal"},
	    /* --ulimit */
	    {"{'ulimits':{}}", "field \"ulimits\" must be an array, not an object"},
	    {"{'ulimits':['nofile=1']}",
	     "request body: ulimits[0] must be an object {type, soft, hard}, not a string"},
	    {"{'ulimits':[{'type':'RLIMIT_NOFILE','soft':'1024','hard':1}]}",
	     "request body: ulimits[0]: field \"soft\" must be an integer, not a string"},
	    {"{'ulimits':[{'type':'RLIMIT_NOFILE','soft':1}]}",
	     "ulimits[0]: field \"hard\" is missing"},
	    {"{'ulimits':[{'type':7,'soft':1,'hard':1}]}",
	     "ulimits[0]: field \"type\" must be a string, not an integer"},
	    {"{'ulimits':[{'type':'nofile','soft':1,'hard':1}]}",
	     "ulimits[0]: field \"type\" must be a limit such as RLIMIT_NOFILE"},
	    {"{'ulimits':[{'type':'RLIMIT_CORE','soft':1,'hard':1,'max':2}]}",
	     "ulimits[0]: unknown field \"max\""},
	    {"{'ulimits':[{'type':'RLIMIT_CORE','soft':-2,'hard':1}]}",
	     "ulimits[0]: the limits must be 0 or more, or -1 for unlimited, not -2"},
	    {"{'ulimits':[{'type':'RLIMIT_CORE','soft':1,'hard':-5}]}", "not -5"},
	    {"{'ulimits':[{'type':'RLIMIT_CORE','soft':3,'hard':2}]}",
	     "ulimits[0]: the soft limit (3) is above the hard limit (2)"},
	    {"{'ulimits':[{'type':'RLIMIT_CORE','soft':-1,'hard':2}]}",
	     "the soft limit (unlimited) is above the hard limit (2)"},
	    /* resources */
	    {"{'cpus':'2'}", "field \"cpus\" must be a number, not a string"},
	    {"{'cpus':-1}", "field \"cpus\" must be a number of CPUs (0: no limit), not -1"},
	    {"{'cpus':-0.5}", "not -0.5"},
	    {"{'memory':'1g'}", "field \"memory\" must be an integer, not a string"},
	    {"{'memory':1.5e9}", "field \"memory\" must be an integer, not a number"},
	    {"{'memory':-1}", "field \"memory\" must be a number of bytes (0: no limit), not -1"},
	    {"{'pidsLimit':true}", "field \"pidsLimit\" must be an integer, not a boolean"},
	    {"{'pidsLimit':-1}",
	     "field \"pidsLimit\" must be a number of processes (0: no limit), not -1"},
	    {"{'shmSize':'64m'}", "field \"shmSize\" must be an integer, not a string"},
	    {"{'shmSize':0}", "field \"shmSize\" must be a size of at least 1024 bytes (leave it "
			      "out for 64 MiB), not 0"},
	    {"{'shmSize':1023}", "not 1023"},
	    {"{'shmSize':-67108864}", "not -67108864"},
	    /* management */
	    {"{'labels':['a=b']}", "field \"labels\" must be an object, not an array"},
	    {"{'labels':{'a':1}}", "request body: labels.a must be a string, not an integer"},
	    {"{'readOnly':'true'}", "field \"readOnly\" must be a boolean, not a string"},
	    {"{'tmpfs':'/t'}", "field \"tmpfs\" must be an array, not a string"},
	    {"{'tmpfs':['/t']}",
	     "request body: tmpfs[0] must be an object {path, options}, not a string"},
	    {"{'tmpfs':[{'path':1}]}",
	     "request body: tmpfs[0]: field \"path\" must be a string, not an integer"},
	    {"{'tmpfs':[{'options':'size=1m'}]}", "tmpfs[0]: field \"path\" is missing"},
	    {"{'tmpfs':[{'path':'/a'},{'path':'t'}]}",
	     "tmpfs[1]: field \"path\" must be an absolute path in the container, not \"t\""},
	    {"{'tmpfs':[{'path':'/t','options':['size=1m']}]}",
	     "tmpfs[0]: field \"options\" must be a string, not an array"},
	    {"{'tmpfs':[{'path':'/t','size':1}]}", "tmpfs[0]: unknown field \"size\""},
	    {"{'mounts':{}}", "field \"mounts\" must be an array, not an object"},
	    {"{'mounts':[1]}", "request body: mounts[0] must be an object {type, source, "
			       "destination, …}, not an integer"},
	    {"{'mounts':[{'type':'bind','source':'/a','destination':'/b','readOnly':'yes'}]}",
	     "mounts[0]: field \"readOnly\" must be a boolean, not a string"},
	    {"{'mounts':[{'type':'bind','source':'/a'}]}",
	     "mounts[0]: field \"destination\" is missing"},
	    {"{'mounts':[{'type':'bind','source':['/a'],'destination':'/b'}]}",
	     "mounts[0]: field \"source\" must be a string, not an array"},
	    {"{'capAdd':'NET_ADMIN'}", "field \"capAdd\" must be an array, not a string"},
	    {"{'capDrop':{'ALL':true}}", "field \"capDrop\" must be an array, not an object"},
	    {"{'maskedPaths':'/x'}", "field \"maskedPaths\" must be an array, not a string"},
	    {"{'maskedPaths':['/x',2]}",
	     "request body: maskedPaths[1] must be a path, not an integer"},
	    {"{'readOnlyPaths':[false]}",
	     "request body: readOnlyPaths[0] must be a path, not a boolean"},
	    {"{'seccompUnconfined':'unconfined'}",
	     "field \"seccompUnconfined\" must be a boolean, not a string"},
	    /* network */
	    {"{'hostname':42}", "field \"hostname\" must be a string, not an integer"},
	    {"{'hostname':''}", "field \"hostname\" must be 1 to 64 characters, not 0"},
	    {"{'hostname':'a2345678901234567890123456789012345678901234567890123456789012345'}",
	     "must be 1 to 64 characters, not 65"},
	    {"{'hostname':'a b'}",
	     "field \"hostname\" must not contain spaces or control characters"},
	    {"{'hostname':'web\\n10.0.0.1 evil'}", "must not contain spaces or control characters"},
	    {"{'network':1}", "field \"network\" must be a string, not an integer"},
	    {"{'publishSockets':'/a:/b'}",
	     "field \"publishSockets\" must be an array, not a string"},
	    {"{'noDns':'yes'}", "field \"noDns\" must be a boolean, not a string"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *body = loads_quoted(cases[i].body);
		char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		struct ct_error err = CT_ERROR_INIT;

		refused(text, cases[i].message);
		/* spec_check_options refuses it the same way, without an image. */
		assert_int_equal(spec_check_options(body, &err), -1);
		free(text);
		json_decref(body);
		ct_error_clear(&err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spec_limits),
	    cmocka_unit_test(test_spec_caps_not_strings),
	    cmocka_unit_test(test_spec_limits_overflow),
	    cmocka_unit_test(test_spec_cli_body_unchanged),
	    cmocka_unit_test(test_spec_minimal_body_unchanged),
	    cmocka_unit_test(test_spec_accepted_edges),
	    cmocka_unit_test(test_spec_wrong_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
