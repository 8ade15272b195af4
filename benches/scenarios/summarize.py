"""Medians of the `scenario_phase` events of several `windlass test --jsonl` runs.

Usage: summarize.py OUTDIR RUN.jsonl... (each RUN.jsonl with a RUN.jsonl.total holding the
run's start and end, `date +%s.%N` each). Writes OUTDIR/scenarios.md and OUTDIR/scenarios.json.
"""
import json
import os
import statistics
import sys

PHASES = ["up", "prepare", "converge", "idempotence", "verify", "down"]


def phases(path):
    """{scenario: {phase: seconds}} of one run (skipped phases left out)."""
    out = {}
    with open(path) as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("event") == "scenario_phase" and e.get("outcome") in ("passed", "kept"):
                out.setdefault(e["scenario"], {})[e["phase"]] = e["seconds"]
    return out


def main():
    outdir, runs = sys.argv[1], sys.argv[2:]
    per_run = [phases(r) for r in runs]
    totals = []
    for r in runs:
        start, end = map(float, open(r + ".total").read().split())
        totals.append(end - start)
    scenarios = sorted({s for p in per_run for s in p})
    table = {}
    for s in scenarios:
        row = {}
        for ph in PHASES:
            xs = [p[s][ph] for p in per_run if ph in p.get(s, {})]
            if xs:
                row[ph] = statistics.median(xs)
        row["total"] = sum(row.values())
        table[s] = row
    lines = ["| Scenario | " + " | ".join(PHASES) + " | sum |",
             "|---|" + "---:|" * (len(PHASES) + 1)]
    for s in scenarios:
        cells = ["%.1f" % table[s][ph] if ph in table[s] else "-" for ph in PHASES]
        lines.append("| %s | %s | %.1f |" % (s, " | ".join(cells), table[s]["total"]))
    lines.append("")
    lines.append("Whole set: median %.1f s over %d run(s) (%s)." % (
        statistics.median(totals), len(totals), ", ".join("%.1f" % t for t in totals)))
    text = "\n".join(lines) + "\n"
    print(text, end="")
    with open(os.path.join(outdir, "scenarios.md"), "w") as f:
        f.write(text)
    with open(os.path.join(outdir, "scenarios.json"), "w") as f:
        json.dump({"medians": table, "runs": per_run, "totals": totals}, f, indent=1)


main()
