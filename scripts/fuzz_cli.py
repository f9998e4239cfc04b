#!/usr/bin/python3
"""Mutational fuzzing of the wslat command line, for a bounded time.

Builds argument lists from the grammar of every subcommand (real options, values both valid
and hostile: CR/LF, control and non-ASCII bytes, huge numbers, bad URLs), mutates them (byte
insertions, deletions, swaps, dropped values, duplicated options) and runs the binary on
each, with a per-run deadline. A finding is any run that dies from a signal (abort 134,
segfault 139), prints a sanitizer report or "terminate called", or ends in
"wslat: internal error" (an exception no user-facing check caught). Its argv and stderr are
written to --artifacts and the script exits 1. A run that outlives its deadline is killed and
counted, not reported (a long load is legitimate).

Safety: runs in a scratch directory; every value of an option that writes a file is forced
to a relative path inside it; target hosts are loopback only; as root the runs drop to
nobody, so no mutation can write outside world-writable places.

Usage: scripts/fuzz_cli.py --binary build/wslat [--seconds 60] [--seed N] [--artifacts DIR]
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HOSTILE = ["\r\n", "\r", "\n", "\r\nX-Injected: 1", "\t", " ", "\x01", "\x1b[31m", "\x7f",
           "\xff", "é", ":", "::", "%", "%00", "${env:FUZZ_SECRET}", "${", "}", "#", "?", "/",
           "@", "[", "]", "\\", '"', "'", ",", "=", "-", "--", "0", "-1", "65535", "65536",
           "99999", "18446744073709551616", "1e308", "nan", "inf", "", "x" * 5000]
HOSTS = ["127.0.0.1", "localhost", "[::1]", "", "127.0.0.1\r\nX-Injected: 1", "a b", "[::1",
         "user:pw@127.0.0.1", "127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:-1"]
WRITING = {"--export-json", "--export-junit", "--export-markdown", "--export-html",
           "--save-baseline", "--results-dir", "-o", "--output"}
SIGNS = ["AddressSanitizer", "UndefinedBehaviorSanitizer", "LeakSanitizer", "ThreadSanitizer",
         "runtime error:", "terminate called", "wslat: internal error"]


def target(rng):
    scheme = rng.choice(["ws://", "wss://", "http://", "ws:/", "WS://", ""])
    host = rng.choice(HOSTS)
    port = rng.choice(["", ":1", ":9", ":80", ":65535", ":65536", ":99999", ":0", ":x", ":"])
    path = rng.choice(["/", "/ws", "/p?q=1", "", "?q", "/p#f", "/p q", "/caf\u00e9"])
    return scheme + host + port + path + (rng.choice(HOSTILE) if rng.random() < 0.3 else "")


def header(rng):
    name = rng.choice(["X-A", "Authorization", "Host", "X C", "X\r\nY", "", "Sec-WebSocket-Key",
                       "X:Y", "\u00e9"])
    value = rng.choice(["v", "Bearer t0k", "", " v ", "a, b"])
    return name + rng.choice([": ", ":", ": \t"]) + value + (
        rng.choice(HOSTILE) if rng.random() < 0.5 else "")


def duration(rng):
    return rng.choice(["1ms", "50ms", "1s", "0s", "-1s", "1", "1h", "1e9s", "ms", "250us"])


def number(rng):
    return rng.choice(["0", "1", "2", "3", "-1", "1000000000000", "abc", "1.5", ""])


def options(rng, scenario, result):
    """(name, value generator or None) per subcommand."""
    fmt = ("--format", lambda r: r.choice(["text", "json", "junit", "markdown", "html", "x"]))
    tolerance = ("--tolerance", lambda r: r.choice(["10%", "-1%", "x"]))
    results_dir = ("--results-dir", lambda r: r.choice(["results", "sub/dir"]))
    run = [("--target", target), ("--header", header), ("--env", lambda r: r.choice(
        ["production", "prod", "staging", "local", "test", "qa", ""])),
           ("--conservative", None), ("--connections", number), ("--concurrency", number),
           ("--rate", lambda r: r.choice(["20/s", "1/s", "0/s", "1e9/s", "/s", "5"])),
           ("--duration", duration), ("--max-concurrency", number), ("--threads", number),
           ("--source-addresses", number), ("--insecure", None),
           ("--ca", lambda r: r.choice(["missing.pem", scenario])),
           ("--threshold", lambda r: r.choice(["handshake: p95 < 1s", "e2e: p99 < 0", "x: y",
                                                "errors: rate < 1%", ":"])),
           ("--baseline", lambda r: r.choice(["auto", result, "missing.json"])),
           ("--save-baseline", lambda r: r.choice(["auto", "base.json"])),
           tolerance,
           ("--noise-floor", duration), ("--alpha", lambda r: r.choice(["0.01", "2", "x"])),
           ("--gate", lambda r: r.choice(["handshake", "nope", ""])), ("--force", None),
           results_dir, ("--no-save", None),
           ("--shard", lambda r: r.choice(["1/2", "0/2", "3/2", "1/0", "x"])),
           ("--quiet", None), fmt,
           ("--export-json", lambda r: "out.json"), ("--export-html", lambda r: "out.html")]
    return {
        "run": ([scenario], run),
        "validate": ([scenario], [o for o in run if o[0] in ("--env", "--conservative")]),
        "compare": ([result, result], [tolerance, ("--force", None), fmt]),
        "report": ([result], [fmt, ("-o", lambda r: "report.out")]),
        "history": (["fuzz"], [("--last", number), fmt, results_dir]),
        "merge": ([result, result], [("-o", lambda r: "merged.json")]),
    }


REPEATABLE = {"--header", "--threshold"}


def generate(rng, grammar):
    sub = rng.choice(list(grammar))
    positional, opts = grammar[sub]
    argv = [sub] + list(positional)
    chosen = rng.sample(opts, rng.randint(0, min(6, len(opts))))
    chosen += [o for o in opts if o[0] in REPEATABLE and rng.random() < 0.3]
    for name, gen in chosen:
        argv.append(name)
        if gen:
            argv.append(gen(rng))
    if sub == "run":
        argv.append("--quiet")
        if "--connections" not in argv:
            argv += ["--connections", rng.choice(["1", "2"])]
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        mutate(rng, argv)
    return argv


def mutate(rng, argv):
    """Mostly inside values (past the subcommand); now and then the argv's shape."""
    i = rng.randrange(1, len(argv)) if len(argv) > 1 else 0
    kind = rng.choices(range(6), weights=[6, 2, 1, 1, 1, 3])[0]
    if kind == 0:  # insert a hostile fragment
        s = argv[i]
        at = rng.randint(0, len(s))
        argv[i] = s[:at] + rng.choice(HOSTILE) + s[at:]
    elif kind == 1 and argv[i]:  # delete a byte
        at = rng.randrange(len(argv[i]))
        argv[i] = argv[i][:at] + argv[i][at + 1:]
    elif kind == 2 and len(argv) > 1:  # drop a token
        del argv[i]
    elif kind == 3:  # duplicate a token
        argv.insert(i, argv[i])
    elif kind == 4:  # swap two tokens
        j = rng.randrange(len(argv))
        argv[i], argv[j] = argv[j], argv[i]
    else:  # replace by a hostile value
        argv[i] = rng.choice(HOSTILE)


def confine(argv):
    """Writing options point inside the scratch directory; targets stay on loopback."""
    out = []
    for k, tok in enumerate(argv):
        tok = tok.replace("\0", "")
        prev = out[k - 1] if k else ""
        name, eq, val = tok.partition("=")
        if tok.startswith("-") and eq and name in WRITING:
            tok = name + "=" + safe_path(val)
        elif prev in WRITING:
            tok = safe_path(tok)
        elif tok.startswith("-o") and len(tok) > 2 and tok != "-o":
            tok = "-o" + safe_path(tok[2:])
        out.append(loopback(tok))
    return out


def safe_path(value):
    value = value.lstrip("/").replace("..", "__")
    return value if value and value != "auto" else (value or "x")


def loopback(tok):
    """A resolvable-looking host that is not loopback becomes 127.0.0.1 (no DNS, no network)."""
    m = re.match(r"^([A-Za-z]+:/+)([A-Za-z0-9.\-_~]+)", tok)
    if m and m.group(2) not in ("127.0.0.1", "localhost") and not m.group(2).startswith("127."):
        return m.group(1) + "127.0.0.1" + tok[m.end():]
    return tok


def write_fixtures(work):
    def scenario(name, extra):
        s = {"name": name, "load": {"connections": 1, "concurrency": 1},
             "timeouts": {"connect": "1s", "handshake": "1s", "message": "1s", "close": "1s"},
             "steps": [{"connect": {}}, {"send": {"text": "hi ${connection}"}},
                       {"expect": {"any": True, "within": "500ms"}}, {"close": {}}]}
        s.update(extra)
        with open(os.path.join(work, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(s, f)
        return name + ".json"  # relative: every run's working directory is `work`
    scenarios = [
        scenario("embedded", {}),
        scenario("closed-port", {"target": "ws://127.0.0.1:1/x"}),
        scenario("headers", {"headers": {"X-A": "${env:FUZZ_SECRET}"},
                             "subprotocols": ["chat.v1"]}),
        scenario("env-target", {"target": "ws://127.0.0.1:1/${env:FUZZ_PATH}",
                                "headers": {"X-P": "${env:FUZZ_PATH}"}}),
    ]
    return scenarios


def make_result(binary, work, scenario, env, user):
    """One real result file for compare/report/merge/--baseline to read."""
    subprocess.run([binary, "run", scenario, "--quiet", "--no-save", "--export-json",
                    "result.json"], cwd=work, env=env, timeout=60, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, preexec_fn=user, check=False)
    return "result.json"


def drop_privileges():
    if os.geteuid() != 0:
        return None

    def demote():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    return demote


def run_one(binary, argv, work, env, user, deadline):
    p = subprocess.Popen([binary] + argv, cwd=work, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True, preexec_fn=user)
    try:
        _, err = p.communicate(timeout=deadline)
        return p.returncode, err.decode("utf-8", "replace"), False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # our own child's process group
        _, err = p.communicate()
        return p.returncode, err.decode("utf-8", "replace"), True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--deadline", type=float, default=10, help="seconds per run")
    ap.add_argument("--artifacts", default="fuzz-artifacts/cli")
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    seed = a.seed if a.seed is not None else int(time.time())
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="wslat-fuzz-cli-")
    os.chmod(work, 0o777)
    user = drop_privileges()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FUZZ_SECRET": "s3cr3t",
           "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
    runs = timeouts = 0
    try:
        scenarios = write_fixtures(work)
        result = make_result(binary, work, scenarios[0], env, user)
        grammars = [options(rng, s, result) for s in scenarios]
        end = time.monotonic() + a.seconds
        while time.monotonic() < end:
            argv = confine(generate(rng, rng.choice(grammars)))
            run_env = dict(env, FUZZ_PATH=rng.choice(HOSTILE + ["ok", "a/b?c=1"]))
            rc, err, timed_out = run_one(binary, argv, work, run_env, user, a.deadline)
            runs += 1
            timeouts += timed_out
            signs = [s for s in SIGNS if s in err]
            if timed_out or not (rc < 0 or rc >= 128 or signs):
                continue
            os.makedirs(a.artifacts, exist_ok=True)
            path = os.path.join(a.artifacts, f"crash-{seed}-{runs}.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump({"argv": argv, "env": {"FUZZ_PATH": run_env["FUZZ_PATH"]}, "exit": rc,
                           "stderr": err[-20000:]}, f, indent=1)
            print(f"fuzz_cli: FINDING (exit {rc}, {', '.join(signs) or 'signal'}) after {runs} "
                  f"runs, seed {seed}: {json.dumps(argv)}\n{err[-3000:]}\nreproducer: {path}",
                  file=sys.stderr)
            return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"fuzz_cli: {runs} runs in {a.seconds:.0f}s (seed {seed}, {timeouts} killed at the "
          f"{a.deadline:.0f}s deadline), no finding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
