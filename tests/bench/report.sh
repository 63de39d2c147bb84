#!/usr/bin/env bash
# tests/bench/report.sh TSV REPS SETTINGS LOAD0 LOAD1 SECONDS HAPROXY_V NGINX_V
#     [DATAPLANE_ID]
# Turns run.sh's results.tsv (rep, peer, figure, value, errors) into the
# Markdown tables of results.md: absolute medians per peer, then
# tcp-forwarder's ratios against the best HAProxy configuration and nginx,
# with the targets of issue 2. Can be rerun on a kept results.tsv.
set -u -o pipefail
TSV=$1 REPS=$2 SETTINGS=${3:-} LOAD0=${4:-?} LOAD1=${5:-?} SECS=${6:-?}
HV=${7:-?} NV=${8:-?} DPID=${9:-?}
[ -s "$TSV" ] || { echo "report.sh: $TSV is empty" >&2; exit 1; }

awk -F'\t' -v reps="$REPS" -v settings="$SETTINGS" -v load0="$LOAD0" \
    -v load1="$LOAD1" -v secs="$SECS" -v hv="$HV" -v nv="$NV" -v dpid="$DPID" '
function bestof(key, f,   i, b, v) {
	b = "nan"
	for (i = 1; i <= cnt[key]; i++) {
		v = val[key, i]
		if (v == "nan" || v == "") continue
		v += 0
		if (b == "nan" || (hi[f] ? v > b : v < b)) b = v
	}
	return b
}
# the figure of the best repetition (latency: added over the best direct)
function bfig(p, f,   m, d) {
	if (!((p, f) in cnt)) return "nan"
	m = bestof(p SUBSEP f, f)
	if (m == "nan") return "nan"
	if (f ~ /^lat/) {
		if (p == "direct" || !(("direct", f) in cnt)) return "nan"
		d = bestof("direct" SUBSEP f, f)
		return d == "nan" ? "nan" : m - d
	}
	return m
}
function median(key,   n, i, j, t, a) {
	n = 0
	for (i = 1; i <= cnt[key]; i++)
		if (val[key, i] != "nan" && val[key, i] != "")
			a[++n] = val[key, i] + 0
	if (n == 0) return "nan"
	for (i = 2; i <= n; i++) {	# insertion sort
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function fmt(v, f) {
	if (v == "nan" || v == "") return "n/a"
	return sprintf(dec[f], v)
}
# the figure as compared: medians, latency as added over direct
function fig(p, f,   m, d) {
	m = med[p, f]
	if (m == "nan" || m == "") return "nan"
	if (f ~ /^lat/) {
		d = med["direct", f]
		if (p == "direct" || d == "nan" || d == "") return "nan"
		return m - d
	}
	return m
}
function cell(p, f,   v, s) {
	if (!((p, f) in med)) return "-"
	if (f ~ /^lat/ && p == "direct")
		s = fmt(med[p, f], f) " (base)"
	else
		s = fmt(fig(p, f), f)
	if (err[p, f] > 0) s = s " !" err[p, f]
	return s
}
function better(a, b, f) {	# is figure value a better than b for f
	if (b == "nan") return a != "nan"
	if (a == "nan") return 0
	return hi[f] ? a > b : a < b
}
# the better HAProxy configuration for figure f, error-free first
function hbest(f,   a, s, ea, es) {
	a = fig("haproxy-auto", f); s = fig("haproxy-splice", f)
	ea = err["haproxy-auto", f] + 0; es = err["haproxy-splice", f] + 0
	if (!(("haproxy-auto", f) in med)) return "haproxy-splice"
	if (!(("haproxy-splice", f) in med)) return "haproxy-auto"
	if (ea > 0 && es == 0) return "haproxy-splice"
	if (es > 0 && ea == 0) return "haproxy-auto"
	return better(s, a, f) ? "haproxy-splice" : "haproxy-auto"
}
function spread(p, f,   k, i, lo, hi2, v) {
	k = p SUBSEP f
	if (!(k in cnt)) return "-"
	lo = ""; hi2 = ""
	for (i = 1; i <= cnt[k]; i++) {
		v = val[k, i]
		if (v == "nan" || v == "") continue
		v += 0
		if (lo == "" || v < lo) lo = v
		if (hi2 == "" || v > hi2) hi2 = v
	}
	if (lo == "" || lo <= 0) return "n/a"
	return sprintf("%.2fx", hi2 / lo)
}
function ratio(a, b) {
	if (a == "nan" || b == "nan" || b <= 0 || a < 0) return "nan"
	return a / b
}
function rfmt(r) { return r == "nan" ? "n/a" : sprintf("%.2fx", r) }
BEGIN {
	nf = split("up1 up8 down1 down8 cps lat1_p50 lat1_p99 lat0_p50 lat0_p99 rss_conn hold_ok rss_start rss_warm", F, " ")
	ne = split("anon_start anon_warm foreign", E, " ")
	lab["anon_start"] = "Idle RSS after start, anonymous part, MiB"
	lab["anon_warm"] = "Idle RSS after warm-up, anonymous part, MiB"
	lab["foreign"] = "Other processes on the machine during the runs, % of a core"
	lab["up1"] = "Bulk up (client->backend), 1 stream, Gbit/s"
	lab["up8"] = "Bulk up, 8 streams, Gbit/s"
	lab["down1"] = "Bulk down (backend->client), 1 stream, Gbit/s"
	lab["down8"] = "Bulk down, 8 streams, Gbit/s"
	lab["cps"] = "Short connections/s (50 clients, 64 B echo)"
	lab["lat1_p50"] = "Added RTT p50, proxy on the other core, us"
	lab["lat1_p99"] = "Added RTT p99, proxy on the other core, us"
	lab["lat0_p50"] = "Added RTT p50, all on one core, us"
	lab["lat0_p99"] = "Added RTT p99, all on one core, us"
	lab["rss_conn"] = "RSS per idle forwarded connection, KiB"
	lab["hold_ok"] = "Held connections echoing correctly"
	lab["rss_start"] = "Idle RSS after start, MiB"
	lab["rss_warm"] = "Idle RSS after warm-up, MiB"
	for (i = 1; i <= nf; i++) dec[F[i]] = "%.1f"
	dec["up1"] = dec["up8"] = dec["down1"] = dec["down8"] = "%.2f"
	dec["cps"] = dec["hold_ok"] = "%.0f"
	dec["rss_conn"] = "%.2f"; dec["rss_start"] = dec["rss_warm"] = "%.2f"
	dec["anon_start"] = dec["anon_warm"] = "%.2f"; dec["foreign"] = "%.1f"
	hi["up1"] = hi["up8"] = hi["down1"] = hi["down8"] = hi["cps"] = hi["hold_ok"] = 1
	# targets: ratio against each peer (r>= / r<=) or absolute (a<= / a>=)
	tgt["up1"] = tgt["up8"] = tgt["down1"] = tgt["down8"] = "r>=1.15"
	tgt["cps"] = "r>=1.25"
	tgt["lat1_p50"] = tgt["lat1_p99"] = tgt["lat0_p50"] = tgt["lat0_p99"] = "r<=0.8"
	tgt["rss_conn"] = "a<=1"; tgt["rss_start"] = tgt["rss_warm"] = "a<=4"
	np = split("direct tcpfwd haproxy-auto haproxy-splice nginx", P, " ")
	pl["direct"] = "direct"; pl["tcpfwd"] = "tcp-forwarder"
	pl["haproxy-auto"] = "HAProxy splice-auto"
	pl["haproxy-splice"] = "HAProxy splice forced"; pl["nginx"] = "nginx stream"
	ncpu = split("cpu_up1 cpu_up8 cpu_down1 cpu_down8 cpu_cps", C, " ")
}
NF >= 5 {
	k = $2 SUBSEP $3
	cnt[k]++; val[k, cnt[k]] = $4
	err[k] += $5
	if ($4 == "nan") err[k] += 0
	seen[$2] = 1
}
END {
	for (k in cnt) med[k] = median(k)
	n = 0
	for (i = 1; i <= np; i++) if (P[i] in seen) Q[++n] = P[i]
	printf "## tcp-forwarder benchmark: absolute figures (medians of %s)\n\n", reps
	printf "| Figure |"
	for (i = 1; i <= n; i++) printf " %s |", pl[Q[i]]
	printf "\n|---|"
	for (i = 1; i <= n; i++) printf "---:|"
	printf "\n"
	for (j = 1; j <= nf; j++) {
		f = F[j]
		printf "| %s |", lab[f]
		for (i = 1; i <= n; i++) printf " %s |", cell(Q[i], f)
		printf "\n"
	}
	for (j = 1; j <= ne; j++) {
		printf "| %s |", lab[E[j]]
		for (i = 1; i <= n; i++) printf " %s |", cell(Q[i], E[j])
		printf "\n"
	}
	for (j = 1; j <= ncpu; j++) {
		f = C[j]; dec[f] = "%.0f"
		sub(/^cpu_/, "", f)
		dec["core1_" f] = "%.0f"
		if (f == "cps")
			printf "| CPU %% during short connections: proxy process / load core |"
		else
			printf "| CPU %% during bulk %s x%s: proxy process / load core |", \
			    substr(f, 1, length(f) - 1), substr(f, length(f))
		for (i = 1; i <= n; i++)
			printf " %s / %s |", cell(Q[i], C[j]), cell(Q[i], "core1_" f)
		printf "\n"
	}
	printf "\n`!N`: N failed streams, connections or runs over all repetitions (the figure is not trustworthy). Latency rows: added over direct (direct column: its own RTT). CPU rows: the CPU time of the proxy processes (a core = 100) / how busy the load core (client and backends, softirq included) was; a load core near 100 means the figure is capped by the load side, not by the proxy.\n\n"

	printf "## tcp-forwarder against the best peer (targets of issue 2)\n\n"
	printf "| Figure | tcp-forwarder | best HAProxy (config) | vs HAProxy | nginx | vs nginx | target | met | best runs: vs HAProxy / nginx |\n"
	printf "|---|---:|---:|---:|---:|---:|---|---|---:|\n"
	met_n = 0; tot_n = 0
	for (j = 1; j <= nf; j++) {
		f = F[j]
		if (f == "hold_ok" && !(("tcpfwd", f) in med)) continue
		t = fig("tcpfwd", f)
		hb = hbest(f); h = fig(hb, f); x = fig("nginx", f)
		rh = ratio(t, h); rx = ratio(t, x)
		tg = tgt[f]; ok = ""
		if (tg ~ /^r>=/) {
			lim = substr(tg, 4) + 0
			tdesc = ">= " lim "x"
			ok = (rh != "nan" && rx != "nan" && rh >= lim && rx >= lim) ? "met" : "not met"
			if (rh == "nan" && rx == "nan") ok = "n/a"
		} else if (tg ~ /^r<=/) {
			lim = substr(tg, 4) + 0
			tdesc = "<= " lim "x"
			ok = (rh != "nan" && rx != "nan" && rh <= lim && rx <= lim) ? "met" : "not met"
			if (rh == "nan" && rx == "nan") ok = "n/a"
		} else if (tg ~ /^a<=/) {
			lim = substr(tg, 4) + 0
			tdesc = "<= " lim (f == "rss_conn" ? " KiB" : " MiB")
			ok = (t != "nan" && t <= lim) ? "met" : "not met"
		} else if (f == "hold_ok") {
			tdesc = "all held connections echo"
			ok = (err["tcpfwd", f] == 0 && t != "nan") ? "met" : "not met"
		}
		if (err["tcpfwd", f] > 0) ok = "not met (!" err["tcpfwd", f] " errors)"
		else if (ok == "not met" && (("tcpfwd", "core1_" f) in med) && \
		    med["tcpfwd", "core1_" f] >= 95)
			ok = sprintf("not met (load core %.0f%% busy)", med["tcpfwd", "core1_" f])
		if (ok ~ /^met/) met_n++
		tot_n++
		hl = pl[hb]; sub(/^HAProxy /, "", hl)
		bt = bfig("tcpfwd", f); bh = bfig("haproxy-auto", f)
		bs = bfig("haproxy-splice", f)
		if (better(bs, bh, f)) bh = bs
		printf "| %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s / %s |\n", lab[f], \
		    cell("tcpfwd", f), cell(hb, f), hl, rfmt(rh), cell("nginx", f), \
		    rfmt(rx), tdesc, ok, rfmt(ratio(bt, bh)), \
		    rfmt(ratio(bt, bfig("nginx", f)))
	}
	printf "\n%d of %d targets met. Ratios are tcp-forwarder / peer (for latency and memory lower is better). \"load core N%% busy\": the core of the client and backends was saturated, so the figure measures the load side as much as the proxy (see the direct column for the tools\047 ceiling). \"best runs\": the same ratios from each peer\047s best repetition instead of the median; a busy machine only makes runs worse, so these are the robust reading when the other-processes row is high.\n", met_n, tot_n
	printf "\n## Run-to-run spread (max / min of the %s repetitions)\n\n| Figure |", reps
	for (i = 1; i <= n; i++) printf " %s |", pl[Q[i]]
	printf "\n|---|"
	for (i = 1; i <= n; i++) printf "---:|"
	printf "\n"
	for (j = 1; j <= 9; j++) {
		f = F[j]
		printf "| %s |", lab[f]
		for (i = 1; i <= n; i++) printf " %s |", spread(Q[i], f)
		printf "\n"
	}
	printf "\nLatency spread is of the absolute RTT. Spreads well above 1.1x mean the machine was not quiet (see the other-processes row) or the figure is inherently noisy (cross-core wake-ups in a VM).\n"
	printf "\nSettings: %s; HAProxy %s, nginx %s; proxies on core 0, backends and load on core 1; load average before %s, after %s; %s s.\nData plane measured: %s.\n", \
	    settings, hv, nv, load0, load1, secs, dpid
}' "$TSV"
