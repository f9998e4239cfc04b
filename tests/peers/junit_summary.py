#!/usr/bin/python3
"""Parses a JUnit XML file with a real XML parser (ElementTree) and prints what a CI consumer
would see, as JSON: testcase count, failures, errors, skipped, and each case's outcome."""
import json
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
cases = []
for suite in suites:
    for case in suite.findall("testcase"):
        outcome = "passed"
        message = ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = tag
                message = node.get("message", "")
        cases.append({"classname": case.get("classname"), "name": case.get("name"),
                      "outcome": outcome, "message": message})
declared = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
print(json.dumps({"declared": declared, "cases": cases}))
