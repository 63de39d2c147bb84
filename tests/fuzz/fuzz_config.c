/*
 * libFuzzer target for the config loader: any bytes go to
 * config_load_buffer(). Beyond "no crash": success and an empty error
 * list go together, a failed load leaves cfg untouched, every message
 * names the file, and an accepted config holds every check across keys.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Big: static, not on the stack. */
static struct config cfg, sentinel;
static struct config_errors errs;

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_config: %s\n", what);
		config_errors_print(&errs);
		abort();
	}
}

static void
check_string(const char *s, size_t size, const char *what)
{
	check(memchr(s, '\0', size) != NULL, what);
}

static void
check_accepted(const struct config *c)
{
	const struct scoring_conf *s = &c->remotes.scoring;

	check(s->latency.base_latency_ms < s->latency.max_acceptable_latency_ms,
	    "base_latency not below max_acceptable_latency");
	check(s->jitter.base_jitter_ms < s->jitter.max_acceptable_jitter_ms,
	    "base_jitter not below max_acceptable_jitter");
	check(c->pools.strategy.dynamic.min_size <=
	    c->pools.strategy.dynamic.max_size, "min_size above max_size");
	check(s->latency.ewma_alpha > 0 && s->latency.ewma_alpha <= 1,
	    "latency alpha out of range");
	check(c->remotes.default_remote_port != 0, "port 0");
	check(c->remotes.selector.active_set_size >= 1 &&
	    c->remotes.selector.active_set_size <= 256, "active_set_size");
	check(c->metrics.path[0] == '/', "metrics.path");
	check(addr_is_loopback(&c->admin.listen_addr) ||
	    c->admin.token_file[0] != '\0', "admin without token");
	check_string(c->path, sizeof(c->path), "path unterminated");
	check_string(c->logging.output, sizeof(c->logging.output), "output");
	check_string(c->ipc.url, sizeof(c->ipc.url), "ipc.url");
	check_string(c->remotes.provider.file.path,
	    sizeof(c->remotes.provider.file.path), "provider path");
	check_string(c->admin.token_file, sizeof(c->admin.token_file),
	    "token_file");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned i;
	int rc;

	memset(&sentinel, 0x5a, sizeof(sentinel));
	cfg = sentinel;
	rc = config_load_buffer((const char *)data, size, "fuzz.yaml",
	    "/etc/tcpfwd", &cfg, &errs);
	if (rc == 0) {
		check(errs.count == 0, "success with errors");
		check_accepted(&cfg);
		return 0;
	}
	check(rc == -1, "result neither 0 nor -1");
	check(errs.count > 0, "failure without an error");
	check(memcmp(&cfg, &sentinel, sizeof(cfg)) == 0,
	    "cfg changed by a failed load");
	for (i = 0; i < errs.count && i < 32; i++) {
		check_string(errs.msg[i], sizeof(errs.msg[i]), "unterminated");
		check(strncmp(errs.msg[i], "fuzz.yaml", 9) == 0,
		    "message without the file name");
	}
	return 0;
}
