#!/usr/bin/python3
"""Benchmark driver behind bench/run.sh: wslat against the raw-socket limit and its peers.

Starts both targets on loopback (the embedded `wslat serve` and the npm `ws` echo server),
runs every client through the same cycle against each, measures each client process with
wait4() (CPU time, peak RSS) and /proc/PID/status (RSS while connections are held), and
prints a Markdown table of figures and ratios measured in this one run.

Servers and clients are pinned to different CPUs (server on the first, clients on the second)
and measured in interleaved rounds; every ratio is the median of the per-round ratios, with
its min-max. The per-cycle counts (syscalls from strace, instructions from callgrind,
allocations from bench/count_alloc.cpp) do not depend on the machine's load.
"""
import argparse
import datetime
import json
import os
import platform
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)

# Sizes of each run: (full, quick).
SIZES = {
    "rounds": (5, 3),
    "sequential": (500, 150),
    # 10,000: runs of 3,000 lasted ~0.15 s, shorter than the machine's bursts of other work,
    # and the processes' start-up weighed ~5% of the CPU figure (bench/README.md).
    "concurrent_cycles": (10000, 1000),
    "concurrency_levels": ([8, 32, 128], [32]),
    "hold": (10000, 1000),
    "one_connection_repeats": (7, 3),
}

# The per-cycle counts: each figure is (count(K2) - count(K1)) / (K2 - K1), so what a process
# does once (start-up, exit) cancels out. The same in every mode.
COUNT_CYCLES = (100, 300)
# How often each count is taken (the median is reported, with the min-max): wslat's figures
# move by a few per cent between runs (how many epoll_wait calls a cycle takes depends on
# timing), the raw client's hardly at all.
COUNT_REPEATS = 3

CLIENTS = ["raw", "wslat", "node", "python"]
LABELS = {"raw": "raw socket", "wslat": "wslat", "node": "Node ws", "python": "Python websockets"}


T_START = time.perf_counter()


def log(msg):
    print(f"[bench {time.perf_counter() - T_START:5.1f}s] {msg}", file=sys.stderr, flush=True)


# ---- processes -----------------------------------------------------------------------------


class Measured:
    """One finished client process: its output and what the kernel accounted for it."""

    def __init__(self, stdout, stderr, rc, wall_s, cpu_s, maxrss_kib, rss_samples_kib,
                 watched_rss_kib=None):
        self.stdout, self.stderr, self.rc = stdout, stderr, rc
        self.wall_s, self.cpu_s, self.maxrss_kib = wall_s, cpu_s, maxrss_kib
        self.rss_samples_kib = rss_samples_kib
        self.watched_rss_kib = watched_rss_kib  # another process's RSS at the hold sample

    def json(self):
        start = self.stdout.find("{")
        if start >= 0:  # one document, possibly pretty-printed (wslat), possibly one line
            try:
                return json.JSONDecoder().raw_decode(self.stdout[start:])[0]
            except ValueError:
                pass
        for line in self.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"no JSON on stdout (rc {self.rc}): {self.stderr.strip()[-400:]}")


def vm_rss_kib(pid, field="VmRSS"):
    """A size from /proc/PID/status in KiB (VmRSS now, VmHWM peak of this program image)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# CPU sets the clients and the servers run on (None: not pinned). Set once by main().
PIN = {"client": None, "server": None}


def pinned(role):
    """A preexec_fn that pins the child to its role's CPUs: what `taskset -c LIST` does."""
    cpus = PIN[role]
    return (lambda: os.sched_setaffinity(0, cpus)) if cpus else None


# The same fixed work timed on the clients' CPUs at the start, after every round and at the end:
# how much of its CPU the machine gave this run from moment to moment. Pinning keeps our own
# processes apart, not the machine's other work (other builds, a busy host under a VM), and
# that changes every ratio of a round by as much as it changes the CPU.
CPU_PROBE = ("import time\nt = time.perf_counter()\ns = 0\nfor i in range(2_000_000):\n"
             "    s += i\nprint((time.perf_counter() - t) * 1e3)\n")
PROBES = []  # milliseconds per probe
STEADY_SPREAD = 1.25  # slowest / fastest probe above this: the run says it was not steady


def probe_cpu():
    """Times CPU_PROBE on the clients' CPUs and keeps the result in PROBES."""
    try:
        r = subprocess.run([sys.executable, "-c", CPU_PROBE], capture_output=True, text=True,
                           timeout=60, preexec_fn=pinned("client"))
        PROBES.append(float(r.stdout.strip()))
    except (subprocess.SubprocessError, OSError, ValueError) as e:
        log(f"CPU probe failed: {e}")


def steadiness_lines():
    """The report's sentence on how steady the CPU was over the run (empty with < 2 probes)."""
    if len(PROBES) < 2:
        return []
    lo, hi, med = min(PROBES), max(PROBES), statistics.median(PROBES)
    line = (f"Machine steadiness: a fixed loop on the clients' CPU took {lo:.0f}–{hi:.0f} ms "
            f"(median {med:.0f} ms, {len(PROBES)} probes: at the start, after each round, at "
            f"the end)")
    if hi > lo * STEADY_SPREAD:
        return [line + f". **Not steady**: the CPU this run got varied by {hi / lo:.2f}×, and "
                "every ratio below can move by as much (see each row's min–max); figures to "
                "quote come from a run on a quiet machine.", ""]
    return [line + ": steady.", ""]


def run_child(cmd, timeout_s=120, sample_rss=False, hold=False, env=None, watch_pid=None):
    """Runs cmd (pinned to the client CPUs) to completion and reaps it with wait4(): its own
    CPU time and peak RSS.

    sample_rss: poll VmRSS about every 20 ms while it runs. hold: the client prints one JSON
    line once all its connections are open; sample RSS then (and watch_pid's, the server's),
    and close its stdin to release it.
    """
    start = time.perf_counter()
    deadline = start + timeout_s
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=pinned("client"),
                            env=dict(os.environ, **env) if env else None)
    if not hold:
        proc.stdin.close()
    streams = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    out, err = streams[proc.stdout.fileno()], streams[proc.stderr.fileno()]
    pending, samples, last_sample, killed, hwm = set(streams), [], 0.0, False, 0
    watched = None
    while pending:  # both pipes reach EOF when the child exits
        ready, _, _ = select.select(list(pending), [], [], 0.02)
        for fd in ready:
            data = os.read(fd, 65536)
            if data:
                streams[fd] += data
            else:
                pending.discard(fd)
        now = time.perf_counter()
        if hold and not proc.stdin.closed and b"\n" in out:
            time.sleep(0.3)  # let the last handshakes' buffers be freed before the reading
            rss = vm_rss_kib(proc.pid)
            samples += [rss] if rss else []
            watched = vm_rss_kib(watch_pid) if watch_pid else None
            proc.stdin.close()
        if now - last_sample >= 0.02:
            # wait4's ru_maxrss would include this Python process's RSS from before exec (Linux
            # keeps the high-water mark across exec), so the peak is VmHWM read while it runs.
            hwm = max(hwm, vm_rss_kib(proc.pid, "VmHWM") or 0)
            rss = vm_rss_kib(proc.pid) if sample_rss else None
            samples += [rss] if rss else []
            last_sample = now
        if now > deadline and not killed:
            proc.kill()
            killed = True
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    errtext = err.decode(errors="replace") + (f"\n(killed after {timeout_s} s)" if killed else "")
    return Measured(out.decode(errors="replace"), errtext, proc.returncode, wall,
                    usage.ru_utime + usage.ru_stime, hwm or usage.ru_maxrss, samples, watched)


class Server:
    """A target started on an ephemeral loopback port; reads its 'listening on URL' line."""

    def __init__(self, name, cmd):
        self.name, self.cmd, self.url, self.proc, self.error = name, cmd, None, None, None

    def start(self):
        try:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True,
                                         preexec_fn=pinned("server"))
        except OSError as e:
            self.error = str(e)
            return False
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline() if ready else ""
        m = re.search(r"listening on (ws://\S+)", line)
        if not m:
            self.stop()
            self.error = (line.strip() + " " + self.proc.stderr.read().strip()).strip()[-300:]
            return False
        self.url = m.group(1)
        return True

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- clients -------------------------------------------------------------------------------


class Clients:
    def __init__(self, args):
        self.args = args
        self.scenario_cycle = os.path.join(BENCH, "scenarios", "cycle.json")
        self.scenario_hold = os.path.join(BENCH, "scenarios", "hold.json")

    def peer_cmd(self, client, url, mode_args):
        if client == "raw":
            return [self.args.raw_client, "--url", url] + mode_args
        if client == "node":
            return ["node", os.path.join(BENCH, "node_client.js"), "--url", url] + mode_args
        return ["/usr/bin/python3", os.path.join(BENCH, "py_client.py"), "--url", url] + mode_args

    def wslat_cmd(self, scenario, url, connections, concurrency, threads=None):
        cmd = [self.args.wslat, "run", scenario, "--target", url, "--connections",
               str(connections), "--concurrency", str(concurrency), "--env", "production",
               "--no-save", "--quiet", "--format", "json"]
        if threads:
            cmd += ["--threads", str(threads)]
        return cmd

    def cycles(self, client, url, n, concurrency, threads=None):
        """N cycles, `concurrency` at once. Returns (figures dict, Measured)."""
        if client == "wslat":
            m = run_child(self.wslat_cmd(self.scenario_cycle, url, n, concurrency, threads))
            return wslat_figures(m.json()), m
        mode = ["--sequential", str(n)] if concurrency == 1 else \
            ["--concurrent", str(concurrency), "--cycles", str(n)]
        m = run_child(self.peer_cmd(client, url, mode))
        j = m.json()
        return {"handshake_p50": j["handshake_ms"]["p50"], "handshake_p99": j["handshake_ms"]["p99"],
                "rtt_p50": j["rtt_ms"]["p50"], "rtt_p99": j["rtt_ms"]["p99"],
                "cycles": j["cycles"], "errors": j["errors"],
                "cycles_per_s": j["cycles_per_s"]}, m

    def hold_rss(self, client, url, n, server_pid=None):
        """Resident KiB while n connections are open, how many opened, and (a peer client's
        hold only) the server's resident KiB then."""
        if client == "wslat":
            m = run_child(self.wslat_cmd(self.scenario_hold, url, n, n), timeout_s=90,
                          sample_rss=True)
            j = m.json()
            return max(m.rss_samples_kib or [0]), j.get("connections", {}).get("opened", 0), None
        m = run_child(self.peer_cmd(client, url, ["--hold", str(n)]), timeout_s=90, hold=True,
                      watch_pid=server_pid)
        j = m.json()
        return (m.rss_samples_kib or [0])[0], j.get("open", 0), m.watched_rss_kib


def wslat_figures(j):
    """The same figures from a wslat.result/1 document (docs/result-schema.md)."""
    metrics = j.get("metrics", {})
    conns = j.get("connections", {})
    opened = conns.get("opened", 0)
    done = metrics.get("rtt", {}).get("count", opened)
    seconds = j.get("duration_ms", 0) / 1000
    return {"handshake_p50": metrics.get("handshake", {}).get("p50"),
            "handshake_p99": metrics.get("handshake", {}).get("p99"),
            "rtt_p50": metrics.get("rtt", {}).get("p50"),
            "rtt_p99": metrics.get("rtt", {}).get("p99"),
            "cycles": done, "errors": sum(j.get("errors", {}).values()),
            "cycles_per_s": done / seconds if seconds > 0 else None}


# ---- one target ----------------------------------------------------------------------------


def size(args, key):
    full, quick = SIZES[key]
    return quick if args.quick else full


def rotated(items, k):
    """items rotated by k: round r starts with a different client, so no client always runs
    first (or right after the same neighbour) and slow drifts of the machine even out."""
    k %= len(items)
    return items[k:] + items[:k]


def bench_target(args, clients, server, available):
    """Every figure for every available client against one server.

    Returns (rounds, walls, single, notes): rounds = {client: [figures of round 1, 2, ...]}
    for the sequential and concurrent figures, walls = {client: [one-connection wall ms of
    repeat 1, 2, ...]}, single = {client: {figure: value}} for figures measured once (RSS
    while holding connections).
    """
    url = server.url
    notes = []
    n_rounds = size(args, "rounds")
    rounds = {c: [{} for _ in range(n_rounds)] for c in available}

    # Rounds interleave the clients: within a round every client runs the sequential cycles,
    # then every client runs each concurrency level, so the runs compared in one ratio are
    # seconds apart. A round's ratio compares figures from that round only; the table gives
    # the median of the per-round ratios and their min-max.
    n_seq = size(args, "sequential")
    n_conc = size(args, "concurrent_cycles")
    variants = [(level, None) for level in size(args, "concurrency_levels")]
    client_cpus = len(PIN["client"]) if PIN["client"] else os.cpu_count() or 1
    wslat_variants = variants + ([(level, 2) for level in size(args, "concurrency_levels")]
                                 if client_cpus >= 2 else [])
    for r in range(n_rounds):
        order = rotated(available, r)
        for c in order:
            log(f"{server.name} round {r + 1}/{n_rounds}: {c} sequential x{n_seq}")
            try:
                fig, _ = clients.cycles(c, url, n_seq, 1)
                if fig["errors"]:
                    notes.append(f"{c} sequential (round {r + 1}): {fig['errors']} errors")
                for key, src in (("handshake_p50", "handshake_p50"),
                                 ("handshake_p99", "handshake_p99"),
                                 ("rtt_p50", "rtt_p50"), ("seq_cycles_per_s", "cycles_per_s")):
                    if fig.get(src) is not None:
                        rounds[c][r][key] = fig[src]
            except Exception as e:  # a broken client must not hide the others' figures
                notes.append(f"{c} sequential (round {r + 1}) failed: {e}")
        best = {}
        for i in range(len(wslat_variants)):
            for c in order:
                vs = wslat_variants if c == "wslat" else variants
                if i >= len(vs):
                    continue
                level, threads = vs[i]
                tag = f"C={level}" + (f", {threads} threads" if threads else "")
                log(f"{server.name} round {r + 1}/{n_rounds}: {c} concurrent {tag} x{n_conc}")
                try:
                    fig, m = clients.cycles(c, url, n_conc, level, threads)
                except Exception as e:
                    notes.append(f"{c} concurrent {tag} (round {r + 1}) failed: {e}")
                    continue
                if fig["errors"]:
                    notes.append(f"{c} concurrent {tag} (round {r + 1}): {fig['errors']} errors")
                rec = rounds[c][r]
                rec["peak_rss_kib"] = max(rec.get("peak_rss_kib", 0), m.maxrss_kib)
                if fig["cycles_per_s"]:
                    rec.setdefault("by_level", {})[tag] = fig["cycles_per_s"]
                if fig["cycles_per_s"] and (c not in best or fig["cycles_per_s"] > best[c][0]):
                    cpu_per_k = m.cpu_s / fig["cycles"] * 1000 if fig["cycles"] else None
                    best[c] = (fig["cycles_per_s"], tag, cpu_per_k)
        for c, (cps, tag, cpu) in best.items():
            rounds[c][r].update(best_cycles_per_s=cps, best_at=tag, cpu_per_1000=cpu)
        probe_cpu()

    single = {c: {} for c in available}
    n = size(args, "hold")
    for c in available:
        log(f"{server.name}: {c} holding {n} connections (and 1 for the baseline)")
        try:
            # The server's RSS too, while the raw client (the lightest) holds the connections.
            pid = server.proc.pid if c == "raw" and server.proc else None
            base, _, server_base = clients.hold_rss(c, url, 1, pid)
            rss, opened, server_rss = clients.hold_rss(c, url, n, pid)
            if opened < n:
                notes.append(f"{c} hold: only {opened} of {n} connections opened")
            if opened > 1:
                single[c]["rss_per_conn_kib"] = (rss - base) / (opened - 1)
                if server_base and server_rss:
                    single[c]["server_rss_per_conn_kib"] = (server_rss - server_base) / (opened - 1)
        except Exception as e:
            notes.append(f"{c} hold failed: {e}")

    reps = size(args, "one_connection_repeats")
    walls = {c: [{} for _ in range(reps)] for c in available}
    broken = set()
    for r in range(reps):
        for c in rotated(available, r):
            if c in broken:
                continue
            try:
                if c == "wslat":
                    m = run_child(clients.wslat_cmd(clients.scenario_cycle, url, 1, 1))
                else:
                    m = run_child(clients.peer_cmd(c, url, ["--sequential", "1"]))
                if m.rc in (0, 1):
                    walls[c][r]["one_conn_wall_ms"] = m.wall_s * 1000
            except Exception as e:
                notes.append(f"{c} one-connection run failed: {e}")
                broken.add(c)
    return rounds, walls, single, notes


# ---- per-cycle counts ----------------------------------------------------------------------


def parse_strace_c(path):
    """{syscall: (calls, errors)} and the total calls from an `strace -c` summary."""
    per, total = {}, None
    with open(path) as f:
        for line in f:
            tok = line.split()
            if len(tok) < 5 or not tok[0][0].isdigit():
                continue
            if tok[-1] == "total":
                total = int(tok[3])
                continue
            # % time, seconds, usecs/call, calls, [errors], syscall
            errors = int(tok[4]) if len(tok) == 6 else 0
            per[tok[-1]] = (int(tok[3]), errors)
    if total is None:
        raise RuntimeError(f"no strace summary in {path}")
    return per, total


def count_once(args, clients, client, url, k, tmp):
    """Syscalls, allocations (one run under strace with the counting allocator preloaded) and
    instructions (one run under callgrind) of `client` doing k sequential cycles."""
    if client == "wslat":
        cmd = clients.wslat_cmd(clients.scenario_cycle, url, k, 1)
    else:
        cmd = [args.raw_client, "--url", url, "--sequential", str(k)]

    def check(m, what):
        j = m.json()
        done = wslat_figures(j)["cycles"] if client == "wslat" else j.get("cycles")
        errors = wslat_figures(j)["errors"] if client == "wslat" else j.get("errors")
        if m.rc != 0 or done != k or errors:
            raise RuntimeError(f"{client} x{k} under {what}: exit {m.rc}, {done} cycles, "
                               f"{errors} errors: {m.stderr.strip()[-300:]}")

    out = {}
    strace_out = os.path.join(tmp, f"strace-{client}-{k}.txt")
    alloc_out = os.path.join(tmp, f"alloc-{client}-{k}.txt")
    # -E: the allocator is preloaded into the client only, not into strace itself.
    m = run_child(["strace", "-f", "-c", "-o", strace_out, "-E", f"LD_PRELOAD={args.count_alloc}",
                   "-E", f"BENCH_COUNT_ALLOC_OUT={alloc_out}"] + cmd, timeout_s=180)
    check(m, "strace")
    out["syscall_breakdown"], out["syscalls"] = parse_strace_c(strace_out)
    with open(alloc_out) as f:
        fields = dict(kv.split("=") for kv in f.read().split()[1:])
    out["allocs"], out["frees"], out["alloc_bytes"] = (
        int(fields["allocs"]), int(fields["frees"]), int(fields["bytes"]))

    vg_log = os.path.join(tmp, f"callgrind-{client}-{k}.log")
    # Not counted: the work wslat does per unit of wall time, not per cycle (each worker's
    # 100 ms tick publishes its samples, the coordinator takes them every 250 ms):
    # callgrind slows the run ~50x, so under load those ran 1-3 times per cycle and made
    # the figure swing between ~110 k and ~300 k (bench/README.md).
    m = run_child(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                   "--toggle-collect=*SampleSlot::publish*", "--toggle-collect=*LiveSampler::take*",
                   "--collect-atstart=yes",
                   f"--log-file={vg_log}"] + cmd, timeout_s=600)
    check(m, "callgrind")
    with open(vg_log) as f:
        found = re.search(r"Collected\s*:\s*(\d+)", f.read())
    if not found:
        raise RuntimeError(f"no instruction count in {vg_log}")
    out["instructions"] = int(found.group(1))
    return out


def per_cycle_counts(args, clients, url, problems):
    """{client: {figure: per-cycle value, "spread": {figure: (min, max)}, "breakdown": ...}}
    for raw and wslat: the median over COUNT_REPEATS repetitions, clients interleaved."""
    missing = [t for t in ("strace", "valgrind") if not shutil.which(t)]
    if missing:
        problems.append(f"per-cycle counts skipped: {' and '.join(missing)} not found "
                        f"(apt-get install {' '.join(missing)})")
        return None
    if not os.path.exists(args.count_alloc):
        problems.append(f"per-cycle counts skipped: {args.count_alloc} is not built "
                        f"(cmake --build build --target bench_count_alloc)")
        return None
    k1, k2 = COUNT_CYCLES
    reps = {"raw": [], "wslat": []}
    failed = set()
    with tempfile.TemporaryDirectory(prefix="wslat-bench-") as tmp:
        for rep in range(COUNT_REPEATS):
            for client in rotated(["raw", "wslat"], rep):
                if client in failed:
                    continue
                try:
                    log(f"counts {rep + 1}/{COUNT_REPEATS}: {client} x{k1} and x{k2} "
                        f"under strace and callgrind")
                    a = count_once(args, clients, client, url, k1, tmp)
                    b = count_once(args, clients, client, url, k2, tmp)
                except Exception as e:
                    problems.append(f"per-cycle counts for {client} failed: {e}")
                    failed.add(client)
                    continue
                fig = {key: (b[key] - a[key]) / (k2 - k1) for key, *_ in COUNT_FIGURES
                       if key in a}
                breakdown = {}
                for name in set(a["syscall_breakdown"]) | set(b["syscall_breakdown"]):
                    ca, ea = a["syscall_breakdown"].get(name, (0, 0))
                    cb, eb = b["syscall_breakdown"].get(name, (0, 0))
                    breakdown[name] = ((cb - ca) / (k2 - k1), (eb - ea) / (k2 - k1))
                fig["breakdown"] = breakdown
                # A read tried before the server answered finds nothing (EAGAIN): how often
                # depends on how fast the server is next to the client slowed by strace, not on
                # the client. (The wait that then follows, an epoll_wait, may be one the loop
                # made anyway, so it stays counted.)
                fig["syscalls_settled"] = (fig["syscalls"]
                                           - breakdown.get("recvfrom", (0, 0))[1])
                reps[client].append(fig)
    res = {}
    for client, figs in reps.items():
        if client in failed or not figs:
            continue
        out = {"spread": {}}
        for key, *_ in COUNT_FIGURES:
            xs = [f[key] for f in figs]
            out[key] = statistics.median(xs)
            out["spread"][key] = (min(xs), max(xs))
        names = set().union(*(f["breakdown"] for f in figs))
        out["breakdown"] = {
            name: tuple(statistics.median(f["breakdown"].get(name, (0, 0))[i] for f in figs)
                        for i in (0, 1))
            for name in names}
        res[client] = out
    return res


COUNT_FIGURES = [  # (key, label, format, issue 15's target for wslat or None)
    ("syscalls", "syscalls (`strace -f -c`)", "{:.1f}", 15),
    ("syscalls_settled", "syscalls, less the reads that found nothing yet", "{:.1f}", None),
    ("instructions", "instructions, user space (callgrind `Ir`)", "{:,.0f}", 80_000),
    ("allocs", "allocations (malloc, calloc, memalign, new …)", "{:.1f}", None),
    ("frees", "frees", "{:.1f}", None),
    ("alloc_bytes", "bytes allocated", "{:,.0f}", None),
]


def counts_section(counts, url_name):
    k1, k2 = COUNT_CYCLES
    lines = [f"## Per cycle, deterministic counts (client process, against the {url_name})", "",
             f"One connection at a time (the sequential cycle); each figure is "
             f"(count of {k2} cycles − count of {k1} cycles) / {k2 - k1}, so start-up and exit "
             f"cancel out. Counts of the whole client process, all threads; the median of "
             f"{COUNT_REPEATS} repetitions, min–max in brackets.", "",
             "| per cycle | raw socket | wslat | wslat / raw | target | met |",
             "|---|---|---|---|---|---|"]
    raw, w = counts.get("raw", {}), counts.get("wslat", {})

    def cell(fig, key, fmt):
        if fig.get(key) is None:
            return "—"
        lo, hi = fig["spread"][key]
        text = fmt.format(fig[key])
        if fmt.format(lo) != fmt.format(hi):
            text += f" [{fmt.format(lo)}–{fmt.format(hi)}]"
        return text

    for key, label, fmt, target in COUNT_FIGURES:
        rv, wv = raw.get(key), w.get(key)
        ratio = f"{wv / rv:.2f}×" if rv and wv is not None else "—"
        tgt = f"<= {fmt.format(target)}" if target is not None else "—"
        met = ("✓" if wv <= target else "✗") if target is not None and wv is not None else ""
        lines.append(f"| {label} | {cell(raw, key, fmt)} | {cell(w, key, fmt)} | {ratio} "
                     f"| {tgt} | {met} |")
    names = set(raw.get("breakdown", {})) | set(w.get("breakdown", {}))
    rows = []
    for name in names:
        cells = []
        for fig in (raw, w):
            calls, errors = fig.get("breakdown", {}).get(name, (0.0, 0.0))
            cells.append((calls, errors))
        if max(abs(cells[0][0]), abs(cells[1][0])) >= 0.05:
            rows.append((name, cells))
    if rows:
        rows.sort(key=lambda r: (-r[1][1][0], -r[1][0][0], r[0]))
        lines += ["", "Syscalls per cycle by name (failed calls, e.g. `EAGAIN` or the "
                  "non-blocking connect's `EINPROGRESS`, in parentheses; |calls| < 0.05 "
                  "per cycle left out):", "", "| syscall | raw socket | wslat |", "|---|---|---|"]
        for name, cells in rows:
            text = [f"{c:.2f}" + (f" ({e:.2f} failed)" if abs(e) >= 0.005 else "")
                    for c, e in cells]
            lines.append(f"| `{name}` | {text[0]} | {text[1]} |")
    return "\n".join(lines)


# ---- report --------------------------------------------------------------------------------

# (key, label, format, better, target) — target: (reference client, op, factor) or absolute.
# The targets are issue 15's (2026-11-29); EARLIER_TARGETS are the ones they replaced.
FIGURES = [
    ("handshake_p50", "handshake median (ms)", "{:.3f}", "low", ("raw", "<=", 1.15)),
    ("handshake_p99", "handshake p99 (ms)", "{:.3f}", "low", None),
    ("rtt_p50", "echo RTT median (ms)", "{:.3f}", "low", ("raw", "<=", 1.3)),
    ("seq_cycles_per_s", "sequential cycles/s", "{:.0f}", "high", ("raw", ">=", 0.9)),
    ("best_cycles_per_s", "best concurrent cycles/s", "{:.0f}", "high", ("raw", ">=", 0.95)),
    ("cpu_per_1000", "client CPU-s per 1,000 cycles", "{:.3f}", "low", ("raw", "<=", 1.2)),
    ("peak_rss_kib", "peak RSS (MiB)", "{:.1f}", "low", None),
    ("rss_per_conn_kib", "RSS per open connection (KiB)", "{:.1f}", "low", ("node", "<", 1.0)),
    ("one_conn_wall_ms", "one-connection run, wall (ms)", "{:.1f}", "low", ("abs", "<", 100)),
]


class Summary:
    """The figures of one target: per client the median over rounds (peak RSS: the highest),
    and per (client, reference) the list of per-round ratios."""

    def __init__(self, rounds, walls, single):
        self.per_round = {c: [dict(a, **b) for a, b in zip_longest(rounds[c], walls[c])]
                          for c in rounds}
        self.single = single
        self.value = {}
        for c, recs in self.per_round.items():
            v = dict(single.get(c, {}))
            for key, *_ in FIGURES:
                xs = [rec[key] for rec in recs if rec.get(key) is not None]
                if xs:
                    v[key] = max(xs) if key == "peak_rss_kib" else statistics.median(xs)
            tags = [rec["best_at"] for rec in recs if rec.get("best_at")]
            if tags:  # where the best was reached most often
                v["best_at"] = max(sorted(set(tags)), key=tags.count)
            self.value[c] = v

    def ratios(self, client, ref, key):
        """Per-round ratios client/ref (one ratio if the figure was measured once)."""
        if key in self.single.get(client, {}) or key in self.single.get(ref, {}):
            a, b = self.single.get(client, {}).get(key), self.single.get(ref, {}).get(key)
            return [a / b] if a is not None and b else []
        out = []
        for ra, rb in zip(self.per_round.get(client, []), self.per_round.get(ref, [])):
            a, b = ra.get(key), rb.get(key)
            if a is not None and b:
                out.append(a / b)
        return out


def zip_longest(a, b):
    n = max(len(a), len(b))
    return [(a[i] if i < len(a) else {}, b[i] if i < len(b) else {}) for i in range(n)]


def fmt_value(key, fmt, value):
    if value is None:
        return "—"
    if key == "peak_rss_kib":
        value = value / 1024
    return fmt.format(value)


def spread(ratios):
    if len(ratios) < 2:
        return "—"
    return f"{min(ratios):.2f}–{max(ratios):.2f} ({len(ratios)})"


def target_cell(summary, key, target):
    """(ratio text, spread text, target text, met mark) for wslat on one figure."""
    if target is None:
        rs = summary.ratios("wslat", "raw", key)
        return (f"{statistics.median(rs):.2f}× raw" if rs else "—"), spread(rs), "—", ""
    ref_client, op, factor = target
    w = summary.value.get("wslat", {}).get(key)
    if ref_client == "abs":
        met = w is not None and holds(w, op, factor)
        return "—", "—", f"{op} {factor}", ("✓" if met else "✗") if w is not None else "n/a"
    rs = summary.ratios("wslat", ref_client, key)
    if not rs:
        return "—", "—", f"{op} {factor}× {LABELS[ref_client]}", "n/a"
    ratio = statistics.median(rs)
    target_text = (f"below {LABELS[ref_client]}" if (op, factor) == ("<", 1.0)
                   else f"{op} {factor}× {LABELS[ref_client]}")
    return f"{ratio:.2f}× {LABELS[ref_client]}", spread(rs), target_text, \
        "✓" if holds(ratio, op, factor) else "✗"


def holds(value, op, bound):
    return {"<=": value <= bound, "<": value < bound, ">=": value >= bound}[op]


# What the README promised before issue 15 raised the bar; the README says they still hold.
EARLIER_TARGETS = [
    ("best_cycles_per_s", "best concurrent", ("node", ">=", 1.5)),
    ("cpu_per_1000", "client CPU per 1,000 cycles", ("node", "<=", 0.5)),
    ("rss_per_conn_kib", "RSS per open connection", ("abs", "<=", 32)),
]


def earlier_targets_line(summary):
    parts = []
    for key, label, (ref, op, bound) in EARLIER_TARGETS:
        if ref == "abs":
            w = summary.value.get("wslat", {}).get(key)
            if w is None:
                continue
            parts.append(f"{label} {w:.1f} KiB ({op} {bound}) {'✓' if holds(w, op, bound) else '✗'}")
        else:
            rs = summary.ratios("wslat", ref, key)
            if not rs:
                continue
            r = statistics.median(rs)
            parts.append(f"{label} {r:.2f}× {LABELS[ref]} ({op} {bound}×) "
                         f"{'✓' if holds(r, op, bound) else '✗'}")
    return "Earlier targets (replaced by the ones above): " + "; ".join(parts) + "." if parts else ""


def table(summary, hold_n):
    res = summary.value
    cols = [c for c in CLIENTS if c in res]
    head = ("| figure | " + " | ".join(LABELS[c] for c in cols) +
            " | wslat ratio | min–max (rounds) | target | met |")
    lines = [head, "|" + "---|" * (len(cols) + 5)]
    for key, label, fmt, _, target in FIGURES:
        if key == "rss_per_conn_kib":
            label = f"RSS per open connection at {hold_n:,} (KiB)"
        cells = []
        for c in cols:
            v = res[c].get(key)
            cell = fmt_value(key, fmt, v)
            rs = summary.ratios(c, "raw", key)
            if c != "raw" and v is not None and rs and key not in ("rss_per_conn_kib",):
                cell += f" ({statistics.median(rs):.2f}×)"
            if key == "best_cycles_per_s" and res[c].get("best_at"):
                cell += f" @{res[c]['best_at']}"
            cells.append(cell)
        ratio, spr, tgt, met = target_cell(summary, key, target)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} | {spr} | {tgt} | {met} |")
    return "\n".join(lines)


def levels_table(summary):
    """Concurrent cycles/s of the raw client and wslat at every level, median over the rounds,
    and wslat/raw per round (median) where both ran the level: where each one's best lies."""
    per_round = summary.per_round
    tags = []
    for c in ("raw", "wslat"):
        for rec in per_round.get(c, []):
            tags += [t for t in rec.get("by_level", {}) if t not in tags]
    if not tags or "wslat" not in per_round:
        return []

    def count(v):
        return f"{v:,.0f}" if v is not None else "—"

    def median_at(c, tag):
        xs = [rec["by_level"][tag] for rec in per_round.get(c, []) if tag in rec.get("by_level", {})]
        return statistics.median(xs) if xs else None

    lines = ["Concurrent cycles/s at each level (median over the rounds; the ratio is the median "
             "of the per-round ratios):", "", "| level | raw socket | wslat | wslat / raw |",
             "|---|---|---|---|"]
    for tag in tags:
        raw, ws = median_at("raw", tag), median_at("wslat", tag)
        ratios = [w["by_level"][tag] / r["by_level"][tag]
                  for r, w in zip(per_round.get("raw", []), per_round["wslat"])
                  if tag in r.get("by_level", {}) and tag in w.get("by_level", {})]
        ratio = f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})" \
            if ratios else "—"
        lines.append(f"| {tag} | {count(raw)} | {count(ws)} | {ratio} |")
    return lines + [""]


def versions(args):
    def cmd_out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            return "?"
    ws_version = "?"
    try:
        with open(os.path.join(BENCH, "node_modules", "ws", "package.json")) as f:
            ws_version = json.load(f)["version"]
    except OSError:
        pass
    py_ws = cmd_out(["/usr/bin/python3", "-c", "import websockets; print(websockets.__version__)"])
    commit = cmd_out(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    # The bench's own reports are left out: the second of three runs in a row is still the
    # commit the first one measured.
    dirty = cmd_out(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "--",
                     ".", ":!bench/results-latest.md", ":!bench/results-counts.md"])
    wslat = f"wslat {commit}{'+changes' if dirty else ''} ({args.build_type} build)"
    if args.counts:
        return f"{wslat}, {os.cpu_count()} CPUs, Linux {platform.release()}"
    return (f"{wslat}, "
            f"node {cmd_out(['node', '--version'])} + "
            f"ws {ws_version}, Python {platform.python_version()} + websockets {py_ws}, "
            f"{os.cpu_count()} CPUs, Linux {platform.release()}")


def usage_error(msg):
    print(f"bench.py: {msg}", file=sys.stderr)
    sys.exit(64)  # a usage error, as wslat's own


class ArgParser(argparse.ArgumentParser):
    def error(self, message):
        usage_error(message)


def cpu_list(text, flag):
    cpus = set()
    try:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            cpus.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        usage_error(f"{flag} takes a CPU list like 0 or 0-1 or 0,2 (got '{text}')")
    return cpus


def choose_pinning(args):
    """Fills PIN and returns a sentence for the report."""
    if args.no_pin:
        return "not pinned (--no-pin): servers and clients share all CPUs"
    allowed = sorted(os.sched_getaffinity(0))
    if args.server_cpus or args.client_cpus:
        if not (args.server_cpus and args.client_cpus):
            usage_error("--server-cpus and --client-cpus go together")
        server = cpu_list(args.server_cpus, "--server-cpus")
        client = cpu_list(args.client_cpus, "--client-cpus")
        bad = (server | client) - set(allowed)
        if bad:
            usage_error(f"CPU {sorted(bad)} is not available here (allowed: {allowed})")
    elif len(allowed) >= 2:
        server, client = {allowed[0]}, {allowed[1]}
    else:
        return (f"not pinned: only CPU {allowed[0]} is available, servers and clients share it "
                f"(figures include their contention)")
    PIN["server"], PIN["client"] = server, client
    os.sched_setaffinity(0, server)  # this driver mostly sleeps; keep it off the client's CPU
    shared = " (shared)" if server & client else ""
    return (f"servers on CPU {','.join(map(str, sorted(server)))}, clients on CPU "
            f"{','.join(map(str, sorted(client)))}{shared}")


def main():
    p = ArgParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller runs (under two minutes)")
    p.add_argument("--counts", action="store_true",
                   help="only the per-cycle counts (syscalls, instructions, allocations)")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 5, --quick 3)")
    p.add_argument("--no-pin", action="store_true", help="do not pin servers and clients")
    p.add_argument("--server-cpus", help="CPU list for the servers (default: the first CPU)")
    p.add_argument("--client-cpus", help="CPU list for the clients (default: the second CPU)")
    p.add_argument("--wslat", required=True)
    p.add_argument("--raw-client", required=True)
    p.add_argument("--count-alloc", required=True, help="libbench_count_alloc.so")
    p.add_argument("--build-type", default="?")
    p.add_argument("--out", help="default: bench/results-latest.md "
                   "(--counts: bench/results-counts.md)")
    p.add_argument("--command", default="bench/run.sh")
    args = p.parse_args()
    if args.rounds is not None:
        if args.rounds < 1:
            usage_error("--rounds must be at least 1")
        SIZES["rounds"] = (args.rounds, args.rounds)
    if args.out is None:
        args.out = os.path.join(BENCH, "results-counts.md" if args.counts
                                else "results-latest.md")
    if not args.counts and not os.path.isfile(os.path.join(BENCH, "node_modules", "ws",
                                                           "package.json")):
        print("bench.py: the npm package `ws` is missing from bench/node_modules (the Node "
              "server and client need it): run bench/run.sh, which installs it, or "
              "`npm ci` in bench/", file=sys.stderr)
        sys.exit(3)  # a missing dependency, as bench/run.sh's
    started = time.perf_counter()
    started_at = datetime.datetime.now(datetime.timezone.utc)  # the header's time: the start
    load_at_start = os.getloadavg()[0]
    pinning = choose_pinning(args)
    log(pinning)
    probe_cpu()

    clients = Clients(args)
    server_threads = str(len(PIN["server"]) if PIN["server"] else 2)
    servers = [Server("embedded", [args.wslat, "serve", "--port", "0", "--threads",
                                   server_threads])]
    if not args.counts:
        servers.append(Server("node-ws", ["node", os.path.join(BENCH, "node_server.js"),
                                          "--port", "0"]))
    available = ["raw", "node", "python"]
    problems = []
    sections = []
    counts = None
    try:
        for s in servers:
            if s.start():
                log(f"{s.name} target at {s.url}")
            else:
                problems.append(f"target {s.name} did not start: {s.error}")
        probe = next((s for s in servers if s.url), None)
        wslat_ok = bool(probe) and wslat_run_works(clients, probe.url, problems)
        if wslat_ok:
            available.insert(1, "wslat")
        if probe and wslat_ok:
            counts = per_cycle_counts(args, clients, probe.url, problems)
            counts_target = ("embedded server" if probe.name == "embedded"
                             else "Node `ws` echo server")
        for s in ([] if args.counts else servers):
            if not s.url:
                continue
            title = (f"embedded server (`wslat serve --threads {server_threads}`)"
                     if s.name == "embedded" else "Node `ws` echo server (bench/node_server.js)")
            rounds, walls, single, notes = bench_target(args, clients, s, available)
            sections.append((title, Summary(rounds, walls, single), notes))
    finally:
        for s in servers:
            s.stop()

    smoke = None if args.counts else smoke_wall(args, problems)
    probe_cpu()
    hold_n = size(args, "hold")
    mode = "--counts" if args.counts else "--quick" if args.quick else "full"
    out = [f"# wslat benchmark ({mode})", "",
           f"started {started_at:%Y-%m-%d %H:%M UTC} · "
           f"`{args.command}` · {versions(args)} · {pinning} · "
           f"load average at start {load_at_start:.1f} · "
           f"total {time.perf_counter() - started:.0f} s", ""]
    out += steadiness_lines()
    if sections:
        out += [f"Sequential and concurrent figures: median over {size(args, 'rounds')} "
                f"interleaved rounds; ratios are the median of the per-round ratios to the "
                f"reference in the same round, with their min–max. One-connection wall: "
                f"{size(args, 'one_connection_repeats')} interleaved repeats, likewise.", ""]
    for title, summary, notes in sections:
        out += [f"## Against the {title}", "", table(summary, hold_n), ""]
        out += levels_table(summary)
        server_rss = summary.single.get("raw", {}).get("server_rss_per_conn_kib")
        if server_rss is not None:
            out += [f"The server's own RSS per open connection at {hold_n:,}, while the raw "
                    f"client holds them: {server_rss:.1f} KiB.", ""]
        earlier = earlier_targets_line(summary)
        out += [earlier, ""] if earlier else []
        out += [f"- {n}" for n in notes]
        out += [""] if notes else []
    if smoke is not None:
        out += [f"`wslat run scenarios/smoke.json` (embedded target in-process), whole process "
                f"wall: median {smoke:.1f} ms (target < 100 ms: {'✓' if smoke < 100 else '✗'})",
                ""]
    if counts:
        out += [counts_section(counts, counts_target), ""]
    out += [f"- {pr}" for pr in problems]
    text = "\n".join(out).rstrip() + "\n"
    print(text)
    with open(args.out, "w") as f:
        f.write(text)
    log(f"written to {os.path.relpath(args.out, ROOT)}")
    if args.counts and not (counts and "raw" in counts and "wslat" in counts):
        sys.exit(3)


def wslat_run_works(clients, url, problems):
    try:
        m = run_child(clients.wslat_cmd(clients.scenario_cycle, url, 1, 1), timeout_s=30)
        j = m.json()
        if j.get("schema") != "wslat.result/1" or "handshake" not in j.get("metrics", {}):
            raise RuntimeError(f"unexpected result: {m.stdout.strip()[:200]}")
        return True
    except Exception as e:
        problems.append(f"wslat run is not usable yet, its column is empty: {e}")
        return False


def smoke_wall(args, problems):
    scenario = os.path.join(ROOT, "scenarios", "smoke.json")
    if not os.path.exists(scenario):
        problems.append("scenarios/smoke.json does not exist yet: one-connection smoke not timed")
        return None
    walls = []
    for _ in range(size(args, "one_connection_repeats")):
        m = run_child([args.wslat, "run", scenario, "--no-save", "--quiet"], timeout_s=30)
        if m.rc not in (0, 1):
            problems.append(f"wslat run scenarios/smoke.json exited {m.rc}: "
                            f"{m.stderr.strip()[-200:]}")
            return None
        walls.append(m.wall_s * 1000)
    return statistics.median(walls)


if __name__ == "__main__":
    main()
