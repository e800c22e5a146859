#!/usr/bin/env python3
"""Builds the scenario x client x mode table (markdown) from the runners' `row` lines.

Usage: python3 table.py RESULTS.tsv...   Each line: row, client, mode, verdict, scenario, text.
A mode cell is ✅ (pass), ❌ (fail), n/a (the client cannot run that mode) or blank (not run);
"does" is what the client did, from the first mode it passed in (figures vary by run).
Failures are listed under the table with their reasons.
"""
import sys

MODES = ["none", "zlib-stream", "zstd-stream"]
CLIENTS = ["twilight", "discord.js"]
MARK = {"PASS": "✅", "FAIL": "❌", "N/A": "n/a"}

rows = {}  # scenario -> client -> mode -> (verdict, text)
order = []
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 6 or parts[0] != "row":
                continue
            _, client, mode, verdict, scenario, text = parts
            if scenario not in rows:
                rows[scenario] = {}
                order.append(scenario)
            rows[scenario].setdefault(client, {})[mode] = (verdict, text)

header = ["scenario"]
for client in CLIENTS:
    header += [f"{client} {m.replace('-stream', '')}" for m in MODES] + [f"what {client} does"]
print("| " + " | ".join(header) + " |")
print("|" + "---|" * len(header))
failures = []
for scenario in order:
    cells = [scenario]
    for client in CLIENTS:
        results = rows[scenario].get(client, {})
        does = ""
        for mode in MODES:
            verdict, text = results.get(mode, ("", ""))
            cells.append(MARK.get(verdict, ""))
            if verdict == "PASS" and not does:
                does = text
            if verdict == "FAIL":
                failures.append(f"- {scenario} / {client} / {mode}: {text}")
        cells.append(does.replace("|", "\\|"))
    print("| " + " | ".join(cells) + " |")
if failures:
    print("\nFailures:\n" + "\n".join(failures))
