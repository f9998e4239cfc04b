#!/usr/bin/python3
"""The "Done when" run of issue 13 (docs/monitoring.md "The episode run"), not a CI test.

`wslat monitor` probes a third-party peer (tests/peers/py_echo_server.py, Debian's
python3-websockets) while Prometheus scrapes it, a webhook receiver collects wslat's alerts
and a live dashboard client holds /api/events open; the peer is normal for 3 min, slowed
past the handshake threshold for 2 min, stopped for 1 min, then restarted normal for 4 min.
Every phase's length is multiplied by --scale (0.2: a 2-minute rehearsal).

Records: the alerts received (exactly one firing and one resolved expected), wslat's RSS and
open fds over time, PromQL histogram_quantile over the window vs wslat's own window gauges at
the end of each phase, the probe events the dashboard client received, and /api/samples at
the end. Prints a Markdown summary; --json FILE keeps everything.

  /usr/bin/python3 bench/monitor_episode.py --wslat build/wslat [--scale 0.2]
"""
import argparse
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "..", "tests", "peers", "py_echo_server.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


class Receiver(http.server.BaseHTTPRequestHandler):
    alerts = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Receiver.alerts.append({"received": time.time(), "payload": json.loads(body)})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_):
        pass


class Dashboard(threading.Thread):
    """A live dashboard client: holds /api/events open, counts the events pushed to it."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port, self.samples, self.probes, self.reconnects = port, 0, 0, 0
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
                    s.sendall(b"GET /api/events HTTP/1.0\r\nHost: x\r\n\r\n")
                    buf = b""
                    while not self.stop:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                        while b"\n\n" in buf:
                            event, buf = buf.split(b"\n\n", 1)
                            if event.startswith(b"event: probe"):
                                self.probes += 1
                            elif b"event: samples" in event:
                                self.samples += 1
            except OSError:
                pass
            if not self.stop:
                self.reconnects += 1
                time.sleep(1)


def proc_stats(pid: int):
    rss_kb = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return rss_kb / 1024.0, len(os.listdir(f"/proc/{pid}/fd"))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--wslat", default="build/wslat")
    p.add_argument("--prometheus", default="/usr/bin/prometheus")
    p.add_argument("--scale", type=float, default=1.0, help="multiplies every phase's length")
    p.add_argument("--every", default="1s", help="wslat monitor --every")
    p.add_argument("--threshold-ms", type=float, default=200, help="handshake p95 threshold")
    p.add_argument("--slow-ms", type=float, default=400, help="handshake delay when slowed")
    p.add_argument("--json", default=None, help="write every figure to this file")
    a = p.parse_args()
    phases = [("normal", 180), ("slow", 120), ("down", 60), ("recovered", 240)]
    phases = [(name, seconds * a.scale) for name, seconds in phases]
    window_s = max(10, int(60 * a.scale))

    work = tempfile.mkdtemp(prefix="wslat-episode-")
    procs = []
    try:
        peer_port, listen_port, prom_port = free_port(), free_port(), free_port()
        target = f"ws://127.0.0.1:{peer_port}/"

        def start_peer(delay_ms: float):
            proc = subprocess.Popen(["/usr/bin/python3", PEER, "--port", str(peer_port),
                                     "--handshake-delay-ms", str(delay_ms)],
                                    stdout=subprocess.PIPE, text=True)
            procs.append(proc)
            proc.stdout.readline()  # "listening on ..."
            return proc

        receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"

        scenario = os.path.join(work, "episode.json")
        with open(scenario, "w") as f:
            json.dump({"name": "episode", "target": target,
                       "load": {"connections": 2, "concurrency": 1},
                       "timeouts": {"connect": "2s", "handshake": "2s", "message": "2s",
                                    "close": "2s"},
                       "steps": [{"connect": {}}, {"send": {"text": "hello"}},
                                 {"expect": {"text": "hello", "within": "2s"}},
                                 {"close": {"code": 1000}}]}, f)
        peer = start_peer(0)
        monitor = subprocess.Popen(
            [a.wslat, "monitor", scenario, "--every", a.every, "--listen",
             f"127.0.0.1:{listen_port}", "-q", "--threshold",
             f"handshake: p95 < {a.threshold_ms:g}ms", "--webhook", hook, "--alert-after", "3",
             "--alert-min-interval", "0", "--window", f"{window_s}s"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(monitor)
        monitor.stdout.readline()  # "wslat: metrics at ..."

        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                    "scrape_configs:\n  - job_name: wslat\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{listen_port}']\n")
        prom = subprocess.Popen([a.prometheus, f"--config.file={config}",
                                 f"--storage.tsdb.path={work}/data",
                                 f"--web.listen-address=127.0.0.1:{prom_port}",
                                 "--log.level=warn"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        procs.append(prom)
        dash = Dashboard(listen_port)
        dash.start()

        def promql(expr: str):
            url = f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode(
                {"query": expr})
            try:
                result = json.loads(get(url))["data"]["result"]
                return float(result[0]["value"][1]) if result else None
            except (OSError, KeyError, ValueError, IndexError):
                return None

        def own_metrics():
            text = get(f"http://127.0.0.1:{listen_port}/metrics").decode()
            out = {}
            for line in text.splitlines():
                if line.startswith(("wslat_window_phase_p50_seconds{",
                                     "wslat_window_phase_p95_seconds{")) and \
                        'phase="handshake"' in line:
                    q = "p50" if line.startswith("wslat_window_phase_p50") else "p95"
                    out[q] = float(line.rsplit(" ", 1)[1])
                elif line.startswith(("wslat_probes_total{", "wslat_probes_failed_total{",
                                      "wslat_window_probes{")):
                    out[line.split("{", 1)[0]] = float(line.rsplit(" ", 1)[1])
            return out

        samples, checkpoints = [], []
        t0 = time.time()
        for i, (name, seconds) in enumerate(phases):
            if name == "slow":
                peer.terminate()
                peer.wait()
                peer = start_peer(a.slow_ms)
            elif name == "down":
                peer.terminate()
                peer.wait()
            elif name == "recovered":
                peer = start_peer(0)
            end = time.time() + seconds
            while time.time() < end:
                rss, fds = proc_stats(monitor.pid)
                samples.append({"t": round(time.time() - t0, 1), "phase": name,
                                "rss_mb": round(rss, 2), "fds": fds})
                time.sleep(min(5 * a.scale if a.scale < 1 else 5, max(0.0, end - time.time())))
            time.sleep(2)  # two scrapes of the phase's end
            rng = f"{window_s}s"
            own = own_metrics()
            checkpoints.append({
                "phase": name, "t": round(time.time() - t0, 1),
                "wslat_p50_ms": own.get("p50", 0) * 1e3 if "p50" in own else None,
                "wslat_p95_ms": own.get("p95", 0) * 1e3 if "p95" in own else None,
                "promql_p50_ms": (lambda v: v * 1e3 if v is not None else None)(promql(
                    "histogram_quantile(0.5, sum by (le) (increase("
                    f"wslat_phase_duration_seconds_bucket{{phase=\"handshake\"}}[{rng}])))")),
                "promql_p95_ms": (lambda v: v * 1e3 if v is not None else None)(promql(
                    "histogram_quantile(0.95, sum by (le) (increase("
                    f"wslat_phase_duration_seconds_bucket{{phase=\"handshake\"}}[{rng}])))")),
                "probes": own.get("wslat_probes_total"),
                "failed_probes": own.get("wslat_probes_failed_total"),
                "window_probes": own.get("wslat_window_probes"),
                "errors_in_prometheus": promql("sum(wslat_errors_total)"),
            })
        api = json.loads(get(f"http://127.0.0.1:{listen_port}/api/samples"))
        dash.stop = True
        monitor.send_signal(signal.SIGTERM)
        t_stop = time.time()
        monitor.wait(timeout=30)
        stop_s = time.time() - t_stop
        normal = [s for s in samples if s["phase"] == "normal"]
        settled = normal[len(normal) // 2:] or normal
        report = {
            "scale": a.scale, "every": a.every, "window_s": window_s,
            "phases_s": dict(phases),
            "alerts": [{"state": x["payload"].get("state"),
                        "t": round(x["received"] - t0, 1)} for x in Receiver.alerts],
            "checkpoints": checkpoints,
            "rss_mb": {"start": samples[0]["rss_mb"], "settled": settled[0]["rss_mb"],
                       "max": max(s["rss_mb"] for s in samples), "end": samples[-1]["rss_mb"]},
            "fds": {"start": samples[0]["fds"], "max": max(s["fds"] for s in samples),
                    "end": samples[-1]["fds"]},
            "dashboard_events": {"probe": dash.probes, "samples": dash.samples,
                                 "reconnects": dash.reconnects},
            "api_samples": {"samples": len(api["samples"]),
                            "failed": sum(1 for s in api["samples"] if not s["ok"]),
                            "not_pass": sum(1 for s in api["samples"] if s["verdict"] != "pass"),
                            "errors": [(e["category"], e["probes"]) for e in api["errors"]]},
            "monitor_exit": monitor.returncode, "sigterm_to_exit_s": round(stop_s, 2),
            "series": samples,
        }
        if a.json:
            with open(a.json, "w") as f:
                json.dump(report, f, indent=1)
        print(f"# wslat monitor episode (scale {a.scale}, --every {a.every}, window {window_s}s)")
        print()
        print("alerts received:", ", ".join(f"{x['state']} at {x['t']} s"
                                            for x in report["alerts"]) or "none")
        print(f"RSS MB: start {report['rss_mb']['start']}, settled {report['rss_mb']['settled']},"
              f" max {report['rss_mb']['max']}, end {report['rss_mb']['end']};"
              f" fds: start {report['fds']['start']}, max {report['fds']['max']},"
              f" end {report['fds']['end']}")
        print(f"dashboard client: {dash.probes} probe events, {dash.samples} snapshots,"
              f" {dash.reconnects} reconnects; /api/samples: {report['api_samples']}")
        print(f"SIGTERM with a live client connected: exit {monitor.returncode}"
              f" after {report['sigterm_to_exit_s']} s")
        print()
        print("| end of | probes | failed | errors (Prometheus) | wslat p50 | PromQL p50 |"
              " wslat p95 | PromQL p95 |")
        print("|---|---|---|---|---|---|---|---|")

        def ms(v):
            return "-" if v is None or v != v else f"{v:.2f} ms"
        for c in checkpoints:
            print(f"| {c['phase']} ({c['t']} s) | {c['probes']} | {c['failed_probes']} |"
                  f" {c['errors_in_prometheus']} | {ms(c['wslat_p50_ms'])} |"
                  f" {ms(c['promql_p50_ms'])} | {ms(c['wslat_p95_ms'])} |"
                  f" {ms(c['promql_p95_ms'])} |")
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
