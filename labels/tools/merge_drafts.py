"""Merge the per-category draft files (labels/drafts/*.jsonl) into labels/sentences.csv.

Run once per drafting round: `python labels/tools/merge_drafts.py`. Near-duplicate sentences of
different groups are put into one group; ids are stable hashes of the text; the test split is
assigned by group, stratified by category (seeded).
"""

import csv
import hashlib
import json
import sys
from pathlib import Path

from mythscan.data import COLUMNS, assign_splits, merge_near_duplicate_groups, normalise

root = Path(__file__).resolve().parents[1]
rows, seen = [], set()
for f in sorted((root / "drafts").glob("*.jsonl")):
    for line in f.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        key = normalise(r["text"])
        if key in seen:
            print(f"skip duplicate: {r['text'][:70]}", file=sys.stderr)
            continue
        seen.add(key)
        r = {k: str(r.get(k, "") or "") for k in ("text", "label", "category", "group", "register", "pair", "hard")}
        r["text"] = " ".join(r["text"].split())
        r["annotator"] = f"project-draft-{f.stem}"
        r["batch"] = "initial"
        rows.append(r)
merged = merge_near_duplicate_groups(rows)
print(f"{len(rows)} rows; {merged} near-duplicate group merges", file=sys.stderr)
assign_splits(rows)
for r in rows:
    r["id"] = "s-" + hashlib.sha1(normalise(r["text"]).encode()).hexdigest()[:10]
    r.pop("_file", None), r.pop("_line", None)
rows.sort(key=lambda r: (r["group"], r["id"]))
out = root / "sentences.csv"
with out.open("w", encoding="utf-8", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=[c for c in COLUMNS if c not in ("added", "notes")], extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
print(f"wrote {out}", file=sys.stderr)
