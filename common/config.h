/*
 * The configuration both daemons read from one YAML file: the seed's whole
 * schema plus SPEC section 3's keys. Plain data: the loader fills it, reload
 * builds a new one beside the old and swaps it in whole. The key table,
 * with every default, is in config.c.
 */
#ifndef TCPFWD_CONFIG_H
#define TCPFWD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define CONFIG_PATH_MAX 1024
#define CONFIG_URL_MAX 256

enum lb_algorithm {
	LB_LEAST_CONNECTIONS = 0,
	LB_ROUND_ROBIN,
	LB_RANDOM,
};

enum pool_strategy {
	POOL_STRATEGY_STATIC = 0,
	POOL_STRATEGY_DYNAMIC,
	POOL_STRATEGY_NONE,
};

enum provider_type {
	PROVIDER_FILE = 0,
};

struct server_conf {
	struct addr listen_addr;
	uint32_t backlog;
	uint64_t keepalive_ms; /* TCP keepalive idle time; 0 = off */
};

struct logging_conf {
	int level;  /* enum log_level */
	int format; /* enum log_format */
	char output[CONFIG_PATH_MAX];
};

struct metrics_conf {
	bool enabled;
	struct addr listen_addr;
	char path[128];
	uint32_t max_backend_series;
};

struct provider_conf {
	int type; /* enum provider_type */
	struct {
		char path[CONFIG_PATH_MAX];
		bool watch;
	} file;
	uint32_t max_tracked;
};

struct probing_conf {
	uint64_t interval_ms;
	uint64_t timeout_ms;
	uint32_t probe_candidate_count;
	struct {
		bool enabled;
		uint32_t max_concurrency;
		uint64_t timeout_ms;
	} initial;
};

struct scoring_conf {
	struct {
		double latency;
		double jitter;
		double success_rate;
	} weights;
	struct {
		double max_score;
		double ewma_alpha;
		uint64_t base_latency_ms;
		uint64_t max_acceptable_latency_ms;
	} latency;
	struct {
		double max_score;
		double ewma_alpha;
		uint64_t base_jitter_ms;
		uint64_t max_acceptable_jitter_ms;
	} jitter;
	struct {
		double max_score;
		double ewma_alpha;
	} success_rate;
	struct {
		double base_penalty;
		double exponent_factor;
		double max_penalty;
		double recovery_per_check;
	} failure_penalty;
	struct {
		double max_bonus;
		uint32_t checks_per_point;
	} historical_bonus;
};

struct selector_conf {
	uint64_t evaluation_interval_ms;
	uint32_t active_set_size;
	double min_score_threshold;
	struct {
		uint64_t debounce_interval_ms;
		double score_improvement_threshold;
	} switching;
};

struct remotes_conf {
	uint16_t default_remote_port;
	struct provider_conf provider;
	struct probing_conf probing;
	struct scoring_conf scoring;
	struct selector_conf selector;
};

struct pools_conf {
	int algorithm; /* enum lb_algorithm */
	struct {
		uint64_t dial_timeout_ms;
		uint64_t idle_timeout_ms;
		uint64_t drain_timeout_ms;
	} common;
	struct {
		int type; /* enum pool_strategy */
		struct {
			uint32_t size_per_remote;
		} static_;
		struct {
			uint32_t min_size;
			uint32_t max_size;
			struct {
				uint64_t interval_ms;
				double target_buffer_ratio;
				uint32_t scale_up_increment;
				uint32_t scale_down_increment;
			} scaling;
		} dynamic;
	} strategy;
};

struct ipc_conf {
	char url[CONFIG_URL_MAX];
};

struct dataplane_conf {
	uint32_t workers; /* 0 = auto: one per core */
	uint32_t max_connections;
	char state_file[CONFIG_PATH_MAX];
	uint64_t pipe_size; /* bytes per splice pipe */
};

struct controlplane_conf {
	char state_file[CONFIG_PATH_MAX];
};

/* Admission limits of the data plane; 0 = no limit. */
struct limits_conf {
	uint32_t per_source_max_connections; /* concurrent, per client IP */
	uint32_t per_source_rate;            /* new connections/s per IP */
	uint32_t per_source_burst;           /* bucket size; 0 = rate */
	uint32_t per_source_tracked;         /* client IPs remembered */
	uint32_t per_backend_max_connections;
};

struct admin_conf {
	struct addr listen_addr;
	char token_file[CONFIG_PATH_MAX];
};

struct config {
	char path[CONFIG_PATH_MAX]; /* the file it was read from */
	struct server_conf server;
	struct logging_conf logging;
	struct metrics_conf metrics;
	struct remotes_conf remotes;
	struct pools_conf pools;
	struct ipc_conf ipc;
	struct dataplane_conf dataplane;
	struct controlplane_conf controlplane;
	struct admin_conf admin;
	struct limits_conf limits;
};

/* Every problem found in one load, each "file:line:col: key: message". */
struct config_errors {
	unsigned count;
	char msg[32][320];
};

/* Fills cfg with every default. */
void config_defaults(struct config *cfg);

/*
 * Reads and validates the YAML file at path into cfg. Relative paths inside
 * it (state files, IP list, log file, token file) are resolved against the
 * file's folder. Returns 0; or -1 with every error collected in errs (at
 * most 32, the rest counted) and cfg untouched.
 */
int config_load(const char *path, struct config *cfg,
    struct config_errors *errs);

/* Same over a buffer; name is used in messages and dir for relative paths.
 */
int config_load_buffer(const char *text, size_t len, const char *name,
    const char *dir, struct config *cfg, struct config_errors *errs);

/* Prints every error to stderr, one a line. */
void config_errors_print(const struct config_errors *errs);

#endif
