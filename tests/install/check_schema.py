#!/usr/bin/python3
"""The scenario JSON Schema (schema/scenario.schema.json) against the parser, with a real
validator (python3-jsonschema, draft 2020-12):

- `wslat schema` prints exactly the file that is installed;
- every shipped scenario (scenarios/) and every valid fixture (tests/fixtures/schema/valid/)
  passes both `wslat validate` and the schema;
- every malformed fixture (tests/fixtures/schema/invalid/, structural problems: wrong type,
  unknown key, missing key, bad enum or range) is refused by `wslat validate` (exit 64; the
  embedded-* ones by `wslat run`, which is where the embedded block is checked) and by the
  schema;
- drift: at every object of the format, the keys the parser accepts (as its own "unknown key"
  messages list them) are exactly the keys the schema allows, and likewise the step kinds,
  metrics, profiles and embedded-server modes.

Usage: check_schema.py WSLAT SOURCE_DIR. Exit 77 (skipped) without python3-jsonschema."""
import copy
import json
import os
import re
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema is not installed (scripts/install-deps.sh)")
    sys.exit(77)

wslat, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
schema_file = os.path.join(src, "schema", "scenario.schema.json")
fixtures = os.path.join(src, "tests", "fixtures", "schema")
failures = []
work = tempfile.mkdtemp(prefix="wslat-schema-")
env = {k: v for k, v in os.environ.items()
       if k not in ("WSLAT_ENV", "ENVIRONMENT", "CI", "WSLAT_FORCE_CONSERVATIVE")}


def fail(message):
    print("FAIL: " + message)
    failures.append(message)


def run(args):
    return subprocess.run([wslat] + args, capture_output=True, text=True, env=env, cwd=work,
                          timeout=60)


def files(folder):
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".json"))


# 1. One source: what `wslat schema` prints is the file, and the file is a valid schema.
with open(schema_file, encoding="utf-8") as f:
    schema_text = f.read()
printed = run(["schema"])
if printed.returncode != 0 or printed.stdout != schema_text:
    fail("`wslat schema` does not print schema/scenario.schema.json (exit %d)" % printed.returncode)
schema = json.loads(schema_text)
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)


def schema_errors(doc):
    return [e.message for e in validator.iter_errors(doc)]


# 2. Valid: shipped scenarios and valid fixtures pass both.
valid = files(os.path.join(src, "scenarios")) + files(os.path.join(fixtures, "valid"))
for path in valid:
    name = os.path.relpath(path, src)
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    r = run(["validate", path])
    if r.returncode != 0:
        fail("%s: wslat validate exits %d: %s" % (name, r.returncode, r.stderr.strip()))
    errors = schema_errors(doc)
    if errors:
        fail("%s: the schema refuses it: %s" % (name, "; ".join(errors)))
    else:
        print("ok: valid for both: " + name)

# 3. Invalid: structural problems refused by both.
invalid = files(os.path.join(fixtures, "invalid"))
if len(invalid) < 15:
    fail("only %d invalid fixtures" % len(invalid))
for path in invalid:
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    args = (["run", path, "--no-save", "--quiet"] if name.startswith("embedded-")
            else ["validate", path])
    r = run(args)
    if r.returncode != 64:
        fail("%s: wslat %s exits %d, not 64: %s" % (name, args[0], r.returncode, r.stderr.strip()))
    if not schema_errors(doc):
        fail("%s: refused by wslat %s but accepted by the schema" % (name, args[0]))
    else:
        print("ok: refused by both: %s (wslat: %s)" % (name, r.stderr.strip().splitlines()[0]))

# 4. Drift: the parser's own lists against the schema.
PROBE = "zzzzzzzzzzzz"
base = {"name": "probe", "steps": [{"send": {"text": "hi"}}]}


def parser_message(doc, command="validate"):
    path = os.path.join(work, "probe.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    args = [command, path] + (["--no-save", "--quiet"] if command == "run" else [])
    r = run(args)
    if r.returncode != 64:
        fail("probe %s: exit %d, not 64" % (json.dumps(doc), r.returncode))
    return r.stderr


def listed(message, pattern):
    m = re.search(pattern, message)
    if not m:
        fail("cannot find /%s/ in: %s" % (pattern, message.strip()))
        return set()
    return {k.strip() for k in m.group(1).split(",") if k.strip()}


def properties(node):
    """Keys a schema object allows (the union over its oneOf branches)."""
    keys = set(node.get("properties", {}))
    for branch in node.get("oneOf", []):
        keys |= set(branch.get("properties", {}))
    return keys


defs = schema["$defs"]
step = defs["step"]["properties"]
objects = {
    # where in a scenario -> (how to put the probe key there, the schema object)
    "the scenario": (lambda d: d.update({PROBE: 1}), schema),
    "\"load\"": (lambda d: d.update({"load": {PROBE: 1}}), defs["load"]),
    "a stage": (lambda d: d.update(
        {"load": {"stages": [{"duration": "1s", "target": "1/s", PROBE: 1}]}}),
        defs["load"]["oneOf"][1]["properties"]["stages"]["items"]),
    "\"timeouts\"": (lambda d: d.update({"timeouts": {PROBE: 1}}), defs["timeouts"]),
    "a profile override": (lambda d: d.update({"environments": {"staging": {PROBE: 1}}}),
                           defs["environments"]["additionalProperties"]),
    "\"data\"": (lambda d: d.update({"data": {"file": "absent.csv", PROBE: 1}}),
                 schema["properties"]["data"]),
    "\"rooms\"": (lambda d: d.update({"rooms": {"size": 2, PROBE: 1}}),
                  schema["properties"]["rooms"]),
    "\"on_drop\"": (lambda d: d.update({"on_drop": {"reconnect": {}, PROBE: 1}}),
                    schema["properties"]["on_drop"]),
    "\"backoff\"": (lambda d: d.update({"on_drop": {"reconnect": {"backoff": {PROBE: 1}}}}),
                    defs["backoff"]),
    "\"permessage_deflate\" (RFC 7692 offer parameters)": (
        lambda d: d.update({"permessage_deflate": {PROBE: 1}}),
        schema["properties"]["permessage_deflate"]["oneOf"][1]),
}
for kind in ("send", "expect", "ping", "close", "reconnect", "repeat"):
    body = {"send": {"text": "a"}, "expect": {"any": True}, "ping": {}, "close": {},
            "reconnect": {}, "repeat": {"times": 1, "steps": [{"sleep": "1ms"}]}}[kind]
    body = dict(body, **{PROBE: 1})
    objects["\"%s\"" % kind] = (
        lambda d, kind=kind, body=body: d.update({"steps": [{kind: body}]}),
        defs[step[kind]["$ref"].split("/")[-1]] if "$ref" in step[kind] else step[kind])
for what, (put, node) in objects.items():
    doc = copy.deepcopy(base)
    put(doc)
    message = parser_message(doc)
    accepted = listed(message, r'unknown key "%s" in %s: expected one of ([^\n]*)' %
                      (PROBE, re.escape(what)))
    allowed = properties(node)
    if accepted != allowed:
        fail("%s: the parser accepts %s, the schema allows %s" %
             (what, sorted(accepted), sorted(allowed)))
    else:
        print("ok: keys of %s: %s" % (what, ", ".join(sorted(allowed))))

# "connect", a rule, a rule's "message".
for what, doc, node in [
        ("\"connect\"", dict(base, steps=[{"connect": {PROBE: 1}}]), step["connect"]),
        ("\"reconnect\"", dict(base, on_drop={"reconnect": {PROBE: 1}}),
         schema["properties"]["on_drop"]["properties"]["reconnect"]),
        ("a rule", dict(base, on=[{"every": "1s", "send": {"text": "a"}, PROBE: 1}]),
         defs["rules"]["items"]),
        ("\"message\"", dict(base, on=[{"message": {"any": True, PROBE: 1}, "send": {"text": "a"}}]),
         defs["rules"]["items"]["properties"]["message"])]:
    accepted = listed(parser_message(doc), r'unknown key "%s" in %s: expected one of ([^\n]*)' %
                      (PROBE, re.escape(what)))
    if accepted != properties(node):
        fail("%s: the parser accepts %s, the schema allows %s" %
             (what, sorted(accepted), sorted(properties(node))))
    else:
        print("ok: keys of %s: %s" % (what, ", ".join(sorted(accepted))))

checks = [
    ("step kinds", dict(base, steps=[{PROBE: {}}]), r"\(steps: ([^)]*)\)",
     set(step)),
    ("metrics", dict(base, thresholds={PROBE: []}), r"\(known metrics: ([^)]*)\)",
     set(defs["thresholds"]["propertyNames"]["anyOf"][0]["enum"])),
]
for what, doc, pattern, allowed in checks:
    accepted = listed(parser_message(doc), pattern)
    if accepted != allowed:
        fail("%s: the parser accepts %s, the schema allows %s" %
             (what, sorted(accepted), sorted(allowed)))
    else:
        print("ok: %s: %s" % (what, ", ".join(sorted(allowed))))

# Profiles: "expected one of production (prod), staging (stage), ..." (names and aliases).
message = parser_message(dict(base, environments={PROBE: {}}))
m = re.search(r"unknown profile \"%s\": expected one of ([^\n]*)" % PROBE, message)
profiles = set(re.findall(r"[a-z]+", m.group(1))) if m else set()
if profiles != set(defs["environments"]["propertyNames"]["enum"]):
    fail("profiles: the parser accepts %s, the schema allows %s" %
         (sorted(profiles), sorted(defs["environments"]["propertyNames"]["enum"])))
else:
    print("ok: profiles: " + ", ".join(sorted(profiles)))

# The embedded block is checked when `run` starts the server.
embedded = defs["embedded"]
accepted = listed(parser_message(dict(base, embedded={PROBE: 1}), "run"),
                  r"accepted keys: ([^\n]*)")
if accepted != set(embedded["properties"]):
    fail("embedded: the server accepts %s, the schema allows %s" %
         (sorted(accepted), sorted(embedded["properties"])))
else:
    print("ok: keys of \"embedded\": " + ", ".join(sorted(accepted)))
modes = listed(parser_message(dict(base, embedded={"mode": PROBE}), "run"),
               r"accepted: ([^\n]*)")
if modes != set(embedded["properties"]["mode"]["enum"]):
    fail("embedded modes: the server accepts %s, the schema allows %s" %
         (sorted(modes), sorted(embedded["properties"]["mode"]["enum"])))
else:
    print("ok: embedded modes: " + ", ".join(sorted(modes)))

subprocess.run(["rm", "-rf", work], check=False)
print("%d problem(s)" % len(failures))
sys.exit(1 if failures else 0)
