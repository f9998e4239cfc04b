#!/usr/bin/python3
"""Benchmark driver behind bench/run.sh: wslat against the raw-socket limit and its peers.

Starts both targets on loopback (the embedded `wslat serve` and the npm `ws` echo server),
runs every client through the same cycle against each, measures each client process with
wait4() (CPU time, peak RSS) and /proc/PID/status (RSS while connections are held), and
prints a Markdown table of figures and ratios measured in this one run.
"""
import argparse
import datetime
import json
import os
import platform
import re
import select
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)

# Sizes of each run: (full, quick).
SIZES = {
    "sequential": (500, 150),
    "concurrent_cycles": (6000, 2000),
    "concurrency_levels": ([8, 32, 128], [32]),
    "hold": (10000, 1000),
    "one_connection_repeats": (7, 3),
    "sequential_repeats": (5, 3),
}

CLIENTS = ["raw", "wslat", "node", "python"]
LABELS = {"raw": "raw socket", "wslat": "wslat", "node": "Node ws", "python": "Python websockets"}


T_START = time.perf_counter()


def log(msg):
    print(f"[bench {time.perf_counter() - T_START:5.1f}s] {msg}", file=sys.stderr, flush=True)


# ---- processes -----------------------------------------------------------------------------


class Measured:
    """One finished client process: its output and what the kernel accounted for it."""

    def __init__(self, stdout, stderr, rc, wall_s, cpu_s, maxrss_kib, rss_samples_kib):
        self.stdout, self.stderr, self.rc = stdout, stderr, rc
        self.wall_s, self.cpu_s, self.maxrss_kib = wall_s, cpu_s, maxrss_kib
        self.rss_samples_kib = rss_samples_kib

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


def run_child(cmd, timeout_s=120, sample_rss=False, hold=False):
    """Runs cmd to completion and reaps it with wait4(): its own CPU time and peak RSS.

    sample_rss: poll VmRSS about every 20 ms while it runs. hold: the client prints one JSON
    line once all its connections are open; sample RSS then, and close its stdin to release it.
    """
    start = time.perf_counter()
    deadline = start + timeout_s
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    if not hold:
        proc.stdin.close()
    streams = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    out, err = streams[proc.stdout.fileno()], streams[proc.stderr.fileno()]
    pending, samples, last_sample, killed, hwm = set(streams), [], 0.0, False, 0
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
                    usage.ru_utime + usage.ru_stime, hwm or usage.ru_maxrss, samples)


class Server:
    """A target started on an ephemeral loopback port; reads its 'listening on URL' line."""

    def __init__(self, name, cmd):
        self.name, self.cmd, self.url, self.proc, self.error = name, cmd, None, None, None

    def start(self):
        try:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
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

    def hold_rss(self, client, url, n):
        """Resident KiB while n connections are open, and how many opened."""
        if client == "wslat":
            m = run_child(self.wslat_cmd(self.scenario_hold, url, n, n), timeout_s=90,
                          sample_rss=True)
            j = m.json()
            return max(m.rss_samples_kib or [0]), j.get("connections", {}).get("opened", 0)
        m = run_child(self.peer_cmd(client, url, ["--hold", str(n)]), timeout_s=90, hold=True)
        j = m.json()
        return (m.rss_samples_kib or [0])[0], j.get("open", 0)


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


def bench_target(args, clients, server, available):
    """All figures for every available client against one server: {client: {figure: value}}."""
    url = server.url
    res = {c: {} for c in available}
    notes = []

    # Sequential figures are the most sensitive to other load on the machine (a busy 2-core
    # machine moved single runs by 10x): short rounds taken round-robin over the clients, and
    # the median of each figure over the rounds.
    n = size(args, "sequential")
    runs = {c: [] for c in available}
    for rep in range(size(args, "sequential_repeats")):
        for c in available:
            log(f"{server.name}: {c} sequential x{n} (round {rep + 1})")
            try:
                fig, _ = clients.cycles(c, url, n, 1)
                runs[c].append(fig)
                if fig["errors"]:
                    notes.append(f"{c} sequential: {fig['errors']} errors")
            except Exception as e:  # a broken client must not hide the others' figures
                notes.append(f"{c} sequential failed: {e}")
    for c, figs in runs.items():
        for key, src in (("handshake_p50", "handshake_p50"), ("handshake_p99", "handshake_p99"),
                         ("rtt_p50", "rtt_p50"), ("seq_cycles_per_s", "cycles_per_s")):
            values = [f[src] for f in figs if f.get(src) is not None]
            if values:
                res[c][key] = statistics.median(values)

    n = size(args, "concurrent_cycles")
    for c in available:
        best = None
        variants = [(level, None) for level in size(args, "concurrency_levels")]
        if c == "wslat":
            variants += [(level, 2) for level in size(args, "concurrency_levels")]
        for level, threads in variants:
            tag = f"C={level}" + (f", {threads} threads" if threads else "")
            log(f"{server.name}: {c} concurrent {tag} x{n}")
            try:
                fig, m = clients.cycles(c, url, n, level, threads)
            except Exception as e:
                notes.append(f"{c} concurrent {tag} failed: {e}")
                continue
            if fig["errors"]:
                notes.append(f"{c} concurrent {tag}: {fig['errors']} errors")
            res[c]["peak_rss_kib"] = max(res[c].get("peak_rss_kib", 0), m.maxrss_kib)
            if fig["cycles_per_s"] and (best is None or fig["cycles_per_s"] > best[0]):
                cpu_per_k = m.cpu_s / fig["cycles"] * 1000 if fig["cycles"] else None
                best = (fig["cycles_per_s"], tag, cpu_per_k)
        if best:
            res[c]["best_cycles_per_s"], res[c]["best_at"], res[c]["cpu_per_1000"] = best

    n = size(args, "hold")
    for c in available:
        log(f"{server.name}: {c} holding {n} connections (and 1 for the baseline)")
        try:
            base, _ = clients.hold_rss(c, url, 1)
            rss, opened = clients.hold_rss(c, url, n)
            if opened < n:
                notes.append(f"{c} hold: only {opened} of {n} connections opened")
            if opened > 1:
                res[c]["rss_per_conn_kib"] = (rss - base) / (opened - 1)
                res[c]["hold_open"] = opened
        except Exception as e:
            notes.append(f"{c} hold failed: {e}")

    reps = size(args, "one_connection_repeats")
    for c in available:
        walls = []
        for _ in range(reps):
            try:
                if c == "wslat":
                    m = run_child(clients.wslat_cmd(clients.scenario_cycle, url, 1, 1))
                else:
                    m = run_child(clients.peer_cmd(c, url, ["--sequential", "1"]))
                if m.rc in (0, 1):
                    walls.append(m.wall_s * 1000)
            except Exception as e:
                notes.append(f"{c} one-connection run failed: {e}")
                break
        if walls:
            res[c]["one_conn_wall_ms"] = statistics.median(walls)
    return res, notes


# ---- report --------------------------------------------------------------------------------

# (key, label, format, better, target) — target: (reference client, op, factor) or absolute.
FIGURES = [
    ("handshake_p50", "handshake median (ms)", "{:.3f}", "low", ("raw", "<=", 1.15)),
    ("handshake_p99", "handshake p99 (ms)", "{:.3f}", "low", None),
    ("rtt_p50", "echo RTT median (ms)", "{:.3f}", "low", ("raw", "<=", 1.3)),
    ("seq_cycles_per_s", "sequential cycles/s", "{:.0f}", "high", ("raw", ">=", 0.9)),
    ("best_cycles_per_s", "best concurrent cycles/s", "{:.0f}", "high", ("node", ">=", 1.5)),
    ("cpu_per_1000", "client CPU-s per 1,000 cycles", "{:.3f}", "low", ("node", "<=", 0.5)),
    ("peak_rss_kib", "peak RSS (MiB)", "{:.1f}", "low", None),
    ("rss_per_conn_kib", "RSS per open connection (KiB)", "{:.1f}", "low", ("abs", "<=", 32)),
    ("one_conn_wall_ms", "one-connection run, wall (ms)", "{:.1f}", "low", ("abs", "<", 100)),
]


def fmt_value(key, fmt, value):
    if value is None:
        return "—"
    if key == "peak_rss_kib":
        value = value / 1024
    return fmt.format(value)


def target_cell(res, key, target):
    """(ratio text, target text, met mark) for wslat on one figure."""
    if target is None:
        ref = res.get("raw", {}).get(key)
        w = res.get("wslat", {}).get(key)
        return (f"{w / ref:.2f}× raw" if w and ref else "—"), "—", ""
    ref_client, op, factor = target
    w = res.get("wslat", {}).get(key)
    if ref_client == "abs":
        met = w is not None and (w <= factor if op == "<=" else w < factor)
        return "—", f"{op} {factor}", ("✓" if met else "✗") if w is not None else "n/a"
    ref = res.get(ref_client, {}).get(key)
    if w is None or not ref:
        return "—", f"{op} {factor}× {LABELS[ref_client]}", "n/a"
    ratio = w / ref
    met = ratio <= factor if op == "<=" else ratio >= factor
    return f"{ratio:.2f}× {LABELS[ref_client]}", f"{op} {factor}× {LABELS[ref_client]}", \
        "✓" if met else "✗"


def table(res, hold_n):
    cols = [c for c in CLIENTS if c in res]
    head = "| figure | " + " | ".join(LABELS[c] for c in cols) + " | wslat ratio | target | met |"
    lines = [head, "|" + "---|" * (len(cols) + 4)]
    for key, label, fmt, _, target in FIGURES:
        if key == "rss_per_conn_kib":
            label = f"RSS per open connection at {hold_n:,} (KiB)"
        cells = []
        for c in cols:
            v = res[c].get(key)
            cell = fmt_value(key, fmt, v)
            ref = res.get("raw", {}).get(key)
            if c != "raw" and v is not None and ref and key not in ("rss_per_conn_kib",):
                cell += f" ({v / ref:.2f}×)"
            if key == "best_cycles_per_s" and res[c].get("best_at"):
                cell += f" @{res[c]['best_at']}"
            cells.append(cell)
        ratio, tgt, met = target_cell(res, key, target)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} | {tgt} | {met} |")
    return "\n".join(lines)


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
    return (f"wslat {commit} ({args.build_type} build), node {cmd_out(['node', '--version'])} + "
            f"ws {ws_version}, Python {platform.python_version()} + websockets {py_ws}, "
            f"{os.cpu_count()} CPUs, Linux {platform.release()}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller runs (under a minute)")
    p.add_argument("--wslat", required=True)
    p.add_argument("--raw-client", required=True)
    p.add_argument("--build-type", default="?")
    p.add_argument("--out", default=os.path.join(BENCH, "results-latest.md"))
    p.add_argument("--command", default="bench/run.sh")
    args = p.parse_args()
    started = time.perf_counter()
    load_at_start = os.getloadavg()[0]

    clients = Clients(args)
    servers = [Server("embedded", [args.wslat, "serve", "--port", "0", "--threads", "2"]),
               Server("node-ws", ["node", os.path.join(BENCH, "node_server.js"), "--port", "0"])]
    available = ["raw", "node", "python"]
    problems = []
    embedded_ok = False
    sections = []
    try:
        for s in servers:
            if s.start():
                log(f"{s.name} target at {s.url}")
                embedded_ok = embedded_ok or s.name == "embedded"
            else:
                problems.append(f"target {s.name} did not start: {s.error}")
        probe = next((s for s in servers if s.url), None)
        if probe and wslat_run_works(clients, probe.url, problems):
            available.insert(1, "wslat")
        for s in servers:
            if not s.url:
                continue
            res, notes = bench_target(args, clients, s, available)
            title = ("embedded server (`wslat serve --threads 2`)" if s.name == "embedded"
                     else "Node `ws` echo server (bench/node_server.js)")
            sections.append((title, res, notes))
    finally:
        for s in servers:
            s.stop()

    smoke = smoke_wall(args, problems)
    hold_n = size(args, "hold")
    mode = "--quick" if args.quick else "full"
    out = [f"# wslat benchmark ({mode})", "",
           f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} · "
           f"`{args.command}` · {versions(args)} · "
           f"load average at start {load_at_start:.1f} · "
           f"total {time.perf_counter() - started:.0f} s", ""]
    for title, res, notes in sections:
        out += [f"## Against the {title}", "", table(res, hold_n), ""]
        out += [f"- {n}" for n in notes]
        out += [""] if notes else []
    if smoke is not None:
        out += [f"`wslat run scenarios/smoke.json` (embedded target in-process), whole process "
                f"wall: median {smoke:.1f} ms (target < 100 ms: {'✓' if smoke < 100 else '✗'})",
                ""]
    out += [f"- {pr}" for pr in problems]
    text = "\n".join(out).rstrip() + "\n"
    print(text)
    with open(args.out, "w") as f:
        f.write(text)
    log(f"written to {os.path.relpath(args.out, ROOT)}")


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
