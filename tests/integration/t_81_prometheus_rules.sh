#!/usr/bin/env bash
#
# t_81: deploy/prometheus and deploy/grafana hold together. Guards:
# `promtool check config` and `promtool check rules` pass; the alerts fire
# (and stay quiet) as intended under `promtool test rules`; the dashboard
# is valid JSON with the structure Grafana needs, and every PromQL
# expression in it parses; every metric name the dashboard and the rules
# use exists in the /metrics of a running control plane fed by a data
# plane (a renamed metric would otherwise leave an empty panel or an alert
# that can never fire).

. "$(dirname "$0")/lib.sh"
tfwd_tmpdir
require_bin tcpfwd-dataplane tcpfwd-controlplane tfwd-backend tfwd-client
require_cmd curl python3
command -v promtool >/dev/null 2>&1 ||
	skip "promtool not installed (Debian package prometheus)"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROM=$ROOT/deploy/prometheus
DASH=$ROOT/deploy/grafana/tcp-forwarder.json

# ---- promtool -------------------------------------------------------------

assert_ok promtool check config "$PROM/prometheus.yml" >/dev/null
assert_ok promtool check rules "$PROM/tcp-forwarder.rules.yml" >/dev/null
log "promtool check config and check rules: OK"

cp "$PROM/tcp-forwarder.rules.yml" "$TMP/"
cat >"$TMP/rules.test.yml" <<'EOF'
rule_files:
  - tcp-forwarder.rules.yml
evaluation_interval: 15s
tests:
  # A healthy system: nothing fires.
  - interval: 15s
    input_series:
      - series: 'up{job="tcp-forwarder", instance="cp:9099"}'
        values: '1x40'
      - series: 'tcp_forwarder_dataplanes{job="tcp-forwarder", instance="cp:9099"}'
        values: '1x40'
      - series: 'tcp_forwarder_active_set_size{job="tcp-forwarder", instance="cp:9099"}'
        values: '3x40'
      - series: 'tcp_forwarder_active_set_degraded{job="tcp-forwarder", instance="cp:9099"}'
        values: '0x40'
      - series: 'tcp_forwarder_new_connections_total{job="tcp-forwarder", instance="cp:9099"}'
        values: '0+1500x40'
      - series: 'tcp_forwarder_errors_total{job="tcp-forwarder", instance="cp:9099", kind="client_reset"}'
        values: '0+500x40'
      - series: 'tcp_forwarder_errors_total{job="tcp-forwarder", instance="cp:9099", kind="dial_failed"}'
        values: '0+1x40'
      - series: 'tcp_forwarder_errors_total{job="tcp-forwarder", instance="cp:9099", kind="no_backend"}'
        values: '0x40'
      - series: 'tcp_forwarder_pool_hits_total{job="tcp-forwarder", instance="cp:9099", backend="10.0.0.1:80"}'
        values: '0+90x40'
      - series: 'tcp_forwarder_pool_misses_total{job="tcp-forwarder", instance="cp:9099", backend="10.0.0.1:80"}'
        values: '0+10x40'
    promql_expr_test:
      - expr: round(tcp_forwarder:pool_hit_ratio:rate5m, 0.001)
        eval_time: 10m
        exp_samples:
          - labels: '{job="tcp-forwarder", instance="cp:9099"}'
            value: 0.9
    alert_rule_test:
      - {eval_time: 10m, alertname: TcpForwarderControlPlaneDown}
      - {eval_time: 10m, alertname: TcpForwarderDataPlaneNotReporting}
      - {eval_time: 10m, alertname: TcpForwarderActiveSetBelowSize}
      - {eval_time: 10m, alertname: TcpForwarderSelectionDegraded}
      - {eval_time: 10m, alertname: TcpForwarderHighErrorRate}
      - {eval_time: 10m, alertname: TcpForwarderNoBackend}

  # Everything wrong at once.
  - interval: 15s
    input_series:
      - series: 'up{job="tcp-forwarder", instance="cp:9099"}'
        values: '1 1 1 1 0x60'
      - series: 'tcp_forwarder_dataplanes{job="tcp-forwarder", instance="cp:9099"}'
        values: '1 1 1 1 0x60'
      - series: 'tcp_forwarder_active_set_size{job="tcp-forwarder", instance="cp:9099"}'
        values: '3 3 3 3 1x60'
      - series: 'tcp_forwarder_active_set_degraded{job="tcp-forwarder", instance="cp:9099"}'
        values: '0 0 0 0 1x60'
      - series: 'tcp_forwarder_new_connections_total{job="tcp-forwarder", instance="cp:9099"}'
        values: '0+150x64'
      - series: 'tcp_forwarder_errors_total{job="tcp-forwarder", instance="cp:9099", kind="dial_failed"}'
        values: '0+30x64'
      - series: 'tcp_forwarder_errors_total{job="tcp-forwarder", instance="cp:9099", kind="no_backend"}'
        values: '0+3x64'
    # promql_expr_test over ALERTS, so that the annotations' wording is
    # not part of the test
    alert_rule_test:
      # down from 1m on; "for: 1m" makes it fire from 2m on, not before
      - eval_time: 1m45s
        alertname: TcpForwarderControlPlaneDown
    promql_expr_test:
      - expr: ALERTS{alertstate="firing"}
        eval_time: 2m30s
        exp_samples:
          - labels: 'ALERTS{alertname="TcpForwarderControlPlaneDown", alertstate="firing", severity="critical", job="tcp-forwarder", instance="cp:9099"}'
            value: 1
          - labels: 'ALERTS{alertname="TcpForwarderDataPlaneNotReporting", alertstate="firing", severity="critical", job="tcp-forwarder", instance="cp:9099"}'
            value: 1
          - labels: 'ALERTS{alertname="TcpForwarderNoBackend", alertstate="firing", severity="critical", job="tcp-forwarder", instance="cp:9099"}'
            value: 1
      - expr: ALERTS{alertstate="firing"}
        eval_time: 7m
        exp_samples:
          - labels: 'ALERTS{alertname="TcpForwarderControlPlaneDown", alertstate="firing", severity="critical", job="tcp-forwarder", instance="cp:9099"}'
            value: 1
          - labels: 'ALERTS{alertname="TcpForwarderDataPlaneNotReporting", alertstate="firing", severity="critical", job="tcp-forwarder", instance="cp:9099"}'
            value: 1
          - labels: 'ALERTS{alertname="TcpForwarderActiveSetBelowSize", alertstate="firing", severity="warning", job="tcp-forwarder", instance="cp:9099"}'
            value: 1
          - labels: 'ALERTS{alertname="TcpForwarderSelectionDegraded", alertstate="firing", severity="warning", job="tcp-forwarder", instance="cp:9099"}'
            value: 1
          - labels: 'ALERTS{alertname="TcpForwarderNoBackend", alertstate="firing", severity="critical", job="tcp-forwarder", instance="cp:9099"}'
            value: 1
      - expr: ALERTS{alertname="TcpForwarderHighErrorRate"}
        eval_time: 15m
        exp_samples:
          - labels: 'ALERTS{alertname="TcpForwarderHighErrorRate", alertstate="firing", severity="warning", job="tcp-forwarder", instance="cp:9099"}'
            value: 1
      - expr: round(tcp_forwarder:client_error_ratio:rate5m, 0.001)
        eval_time: 15m
        exp_samples:
          - labels: '{job="tcp-forwarder", instance="cp:9099"}'
            value: 0.22
EOF
(cd "$TMP" && promtool test rules rules.test.yml) >"$TMP/promtool.out" 2>&1 ||
	fail "promtool test rules: $(cat "$TMP/promtool.out")"
log "promtool test rules: every alert fires when it should and only then"

# ---- the dashboard --------------------------------------------------------

python3 -m json.tool "$DASH" >/dev/null || fail "$DASH is not valid JSON"
python3 - "$DASH" "$TMP/dash.rules.yml" <<'EOF' || fail "dashboard structure"
import json, re, sys
d = json.load(open(sys.argv[1]))
errs = []
if not 36 <= d.get("schemaVersion", 0) <= 39:
    errs.append("schemaVersion %r" % d.get("schemaVersion"))
if not d.get("uid") or not d.get("title"):
    errs.append("uid and title needed")
tv = {v["name"]: v for v in d["templating"]["list"]}
if tv.get("datasource", {}).get("type") != "datasource" or \
        tv["datasource"].get("query") != "prometheus":
    errs.append("no Prometheus datasource variable")
ids, exprs = set(), []
for p in d["panels"]:
    if p["id"] in ids:
        errs.append("panel id %d twice" % p["id"])
    ids.add(p["id"])
    g = p["gridPos"]
    if g["x"] + g["w"] > 24:
        errs.append("panel %s wider than the grid" % p["title"])
    if p["type"] == "row":
        continue
    if p.get("datasource", {}).get("uid") != "${datasource}":
        errs.append("panel %s does not use $datasource" % p["title"])
    if not p.get("targets"):
        errs.append("panel %s has no query" % p["title"])
    for t in p["targets"]:
        exprs.append((p["title"], t["expr"]))
for v in tv.values():
    if v["type"] == "query":
        exprs.append(("variable " + v["name"], None))
titles = {p["title"] for p in d["panels"]}
for want in ("Active set membership", "Score per backend", "Live connections",
             "Throughput by direction", "Pool hit ratio",
             "Probe latency (all backends)", "Errors by kind", "Data planes",
             "Active set generation", "Active set switches by reason"):
    if want not in titles:
        errs.append("no panel %r" % want)
if errs:
    sys.exit("\n".join(errs))
# Every expression as a recording rule, variables replaced, for promtool.
subst = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h",
         "$job": ".*", "$instance": ".*", "$backend": ".*"}
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    n = 0
    for title, e in exprs:
        if e is None:
            continue
        for k, v in subst.items():
            e = e.replace(k, v)
        if "$" in e:
            sys.exit("unreplaced variable in %s: %s" % (title, e))
        n += 1
        f.write("      - record: dashboard:expr_%d\n        expr: %s\n"
                % (n, json.dumps(e)))
print("%d panels, %d expressions" % (len(d["panels"]), n))
EOF
assert_ok promtool check rules "$TMP/dash.rules.yml" >/dev/null
log "dashboard: valid JSON, structure, every PromQL expression parses"

# ---- every metric name exists in a live /metrics ---------------------------

B1=127.0.0.1:$(free_port)
B2=127.0.0.1:$(free_port)
start_backend b1 echo "$B1"
start_backend b2 echo "$B2"
write_iplist "$TMP/ip_list.txt" "$B1" "$B2" "127.0.0.1:$(free_port)"
ACTIVE_SET_SIZE=2 POOL_TYPE=dynamic write_config "$TMP/config.yaml"
start_controlplane cp "$TMP/config.yaml"
start_dataplane dp "$TMP/config.yaml"
wait_until 20 eval 'admin_get /api/v1/status 2>/dev/null |
	grep -q "\"in_sync\":true"' || fail "data plane not in sync"
assert_ok client rate --connect "$LISTEN" --concurrency 4 --seconds 1 \
	>/dev/null
wait_until 10 eval '[ "$(metric tcp_forwarder_new_connections_total)" != 0 ]' ||
	fail "no connection counted"
admin_get /metrics >"$TMP/metrics.txt" || fail "GET /metrics"
assert_ok promtool check metrics <"$TMP/metrics.txt" >/dev/null

python3 - "$TMP/metrics.txt" "$DASH" "$PROM/tcp-forwarder.rules.yml" <<'EOF' ||
import re, sys
names = set()
for line in open(sys.argv[1]):
    m = re.match(r"# (?:HELP|TYPE) (\S+)", line)
    if m:
        names.add(m.group(1))
    elif line.strip() and not line.startswith("#"):
        names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
missing = {}
for f in sys.argv[2:]:
    for n in set(re.findall(r"\btcp_forwarder_[a-z0-9_]+", open(f).read())):
        if n not in names:
            missing.setdefault(n, []).append(f.rsplit("/", 1)[-1])
for n, fs in sorted(missing.items()):
    print("%s (used by %s) is not in /metrics" % (n, ", ".join(fs)))
sys.exit(1 if missing else 0)
EOF
	fail "metric names above are not exported"
used=$(grep -oh '\btcp_forwarder_[a-z0-9_]*' "$DASH" \
	"$PROM/tcp-forwarder.rules.yml" | sort -u | wc -l)
log "all $used metric names of the dashboard and the rules are in /metrics"

tfwd_stop dp
tfwd_stop cp
assert_eq "${TFWD_STATUS[dp]}" 0 "data plane exit status"
assert_eq "${TFWD_STATUS[cp]}" 0 "control plane exit status"
echo "PASS: prometheus config and rules, alert tests, dashboard, metric names"
