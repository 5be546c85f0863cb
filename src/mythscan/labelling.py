"""Adding labels: validate a batch, skip duplicates, refuse conflicts, assign groups and splits by
group, record provenance, and rewrite the label file atomically (a crash leaves it as it was)."""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .data import COLUMNS, NEAR_DUP_JACCARD, Problem, check_pairs, check_rows, jaccard_candidates, normalise, read_rows, shingles
from .errors import LabelError
from .fileio import atomic_write_text, file_lock, lock_timeout
from .paths import labels_dir
from .sanitise import unguard_csv_cell
from .taxonomy import Taxonomy, load_taxonomy
from .wording import count

TEST_SHARE = 0.22


@dataclass
class AddReport:
    added: int = 0
    skipped_duplicates: list[str] = field(default_factory=list)
    replaced: int = 0
    joined_groups: int = 0
    new_groups: int = 0
    test_rows: int = 0
    batch: str = ""
    target: str = ""

    def summary(self) -> str:
        return (
            f"added {count(self.added, 'row')} to {self.target} (batch {self.batch}): {count(self.new_groups, 'new group')}, "
            f"{self.joined_groups} joined existing groups as near-duplicates, {self.test_rows} in the test split; "
            f"{count(len(self.skipped_duplicates), 'exact duplicate')} skipped, {self.replaced} replaced"
        )


def read_batch(path: Path) -> tuple[list[dict], list[Problem]]:
    """Rows of an incoming batch: CSV, JSONL, or a Label Studio JSON export."""
    path = Path(path)
    if not path.exists():
        raise LabelError(f"{path}: no such file")
    if path.suffix.lower() == ".json":
        return _read_label_studio(path)
    if path.suffix.lower() not in (".csv", ".jsonl"):
        raise LabelError(f"{path}: unsupported type {path.suffix!r}", hint="use .csv, .jsonl or a Label Studio .json export")
    rows, problems = read_rows(path)
    if path.suffix.lower() == ".csv":  # `labels suggest` writes '=... for spreadsheets: read the text as it was
        rows = [{k: (v if k == "_line" else unguard_csv_cell(v)) for k, v in r.items()} for r in rows]
    return rows, problems


def _read_label_studio(path: Path) -> tuple[list[dict], list[Problem]]:
    from .data import MAX_LABEL_BYTES

    if path.stat().st_size > MAX_LABEL_BYTES or not path.is_file():
        raise LabelError(f"{path}: not a regular file under the {MAX_LABEL_BYTES // 2**20} MB limit for a label file")
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return [], [Problem(str(path), 1, f"not a valid Label Studio JSON export ({str(exc)[:200] or type(exc).__name__})")]
    rows, problems = [], []
    for i, task in enumerate(tasks if isinstance(tasks, list) else [], start=1):
        label = category = ""
        try:
            text = str((task.get("data") or {}).get("text", ""))
            for ann in task.get("annotations") or []:
                for res in ann.get("result") or []:
                    choices = (res.get("value") or {}).get("choices") or []
                    if not choices:
                        continue
                    if res.get("from_name") == "category":
                        category = str(choices[0])
                    else:
                        label = str(choices[0])
        except (AttributeError, TypeError, KeyError, IndexError):  # not shaped like a Label Studio task
            problems.append(Problem(str(path), i, "not a Label Studio task (expected data.text and annotations[].result[].value.choices)"))
            continue
        if not label:
            problems.append(Problem(str(path), i, "task has no label choice"))
        rows.append({"text": text, "label": label, "category": category, "_line": i})
    return rows, problems


def _stable(text: str) -> str:
    return hashlib.sha1(normalise(text).encode()).hexdigest()


def add_labels(
    source: str | Path,
    *,
    target: str | Path | None = None,
    annotator: str = "unknown",
    replace: bool = False,
    taxonomy: Taxonomy | None = None,
    batch: str | None = None,
    _crash_before_write: bool = False,
) -> AddReport:
    """Add a batch of labelled sentences to ``target`` (default labels/sentences.csv).

    Reading the label file, checking the batch against it and rewriting it happen under a lock
    (``.<file>.lock`` beside it): two runs at once each read the file before the other wrote it,
    and the first batch vanished. The second run waits (MYTHSCAN_LOCK_TIMEOUT seconds, default 120)."""
    target = Path(target) if target else labels_dir() / "sentences.csv"
    lock, timeout = target.parent / f".{target.name}.lock", lock_timeout()

    def busy():
        return LabelError(
            f"{target}: another `mythscan labels add` has been writing it for {timeout:g} s (lock {lock})",
            hint="nothing was added; run again when it has finished",
        )

    with file_lock(lock, timeout=timeout, busy=busy):
        return _add_locked(source, target, annotator, replace, taxonomy, batch, _crash_before_write)


def _add_locked(
    source, target: Path, annotator: str, replace: bool, taxonomy: Taxonomy | None, batch: str | None, _crash_before_write: bool
) -> AddReport:
    taxonomy = taxonomy or load_taxonomy()
    incoming, problems = read_batch(Path(source))
    problems += check_rows(incoming, str(source), taxonomy, required=["text", "label", "category"])
    seen_in_batch: dict[str, dict] = {}
    for r in incoming:
        key = normalise(r.get("text", ""))
        if key in seen_in_batch and (seen_in_batch[key]["label"], seen_in_batch[key].get("category")) != (r["label"], r.get("category")):
            problems.append(Problem(str(source), r["_line"], f"same text as line {seen_in_batch[key]['_line']} with another label"))
        seen_in_batch.setdefault(key, r)
    existing, ex_problems = read_rows(target) if target.exists() else ([], [])
    if ex_problems:
        raise LabelError(f"{ex_problems[0]}", hint="fix the label file first (`mythscan labels validate`)")
    by_text = {normalise(r["text"]): r for r in existing}
    report = AddReport(batch=batch or _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S"), target=str(target))
    fresh: list[dict] = []
    for r in incoming:
        old = by_text.get(normalise(r.get("text", "")))
        if old is None:
            fresh.append(r)
        elif (old["label"], old.get("category", "")) == (r["label"], r.get("category", "")):
            report.skipped_duplicates.append(r["text"])
        elif replace:
            old["label"], old["category"] = r["label"], r.get("category", "")
            old["annotator"], old["batch"] = annotator, report.batch
            report.replaced += 1
        else:
            problems.append(
                Problem(
                    str(source),
                    r["_line"],
                    f"conflicts with {target}:{old['_line']} ({old['label']}/{old.get('category')}); pass --replace to relabel",
                )
            )
    if problems:
        raise LabelError("\n".join(str(p) for p in problems), hint="nothing was added; fix the batch and run again")
    _assign(fresh, existing, report)
    today = _dt.date.today().isoformat()
    for r in fresh:
        r.update(
            {"annotator": r.get("annotator") or annotator, "batch": report.batch, "added": today, "register": r.get("register") or "user"}
        )
        r["id"] = r.get("id") or "s-" + _stable(r["text"])[:10]
        r["text"] = " ".join(r["text"].split())
    rows = existing + fresh
    touched = {r["pair"] for r in fresh if r.get("pair")}
    for r in fresh:
        r.setdefault("_file", str(source))
    if touched and (bad := check_pairs(rows, touched)):
        raise LabelError(
            "\n".join(str(p) for p in bad),
            hint="nothing was added; a pair needs one myth and one accurate or other sentence (clear `pair` for the rest)",
        )
    report.added = len(fresh)
    report.test_rows = sum(r["split"] == "test" for r in fresh)
    if _crash_before_write:  # for the crash-safety test: simulate dying mid-way
        raise RuntimeError("simulated crash")
    write_label_file(target, rows)
    return report


def _assign(fresh: list[dict], existing: list[dict], report: AddReport) -> None:
    """Groups: a near-duplicate of an existing sentence joins its group (and split); others get new
    groups (their own `group` column if given). Splits of new groups: per category, by hash order."""
    index: dict[tuple, list[int]] = defaultdict(list)
    sh = [shingles(r["text"]) for r in existing]
    for i, s in enumerate(sh):
        for g in s:
            index[g].append(i)
    group_split = {r["group"]: r["split"] for r in existing if r.get("group")}
    new_groups: dict[str, list[dict]] = defaultdict(list)
    for r in fresh:
        s = shingles(r["text"])
        best, best_j = 0.0, None
        for j, jac in jaccard_candidates(s, index, sh).items():
            if jac > best:
                best, best_j = jac, j
        if best_j is not None and best >= NEAR_DUP_JACCARD:
            r["group"], r["split"] = existing[best_j]["group"], existing[best_j]["split"]
            report.joined_groups += 1
            continue
        g = (r.get("group") or "").strip()
        if g and g in group_split:
            r["split"] = group_split[g]
            continue
        g = g or "u-" + _stable(r["text"])[:10]
        r["group"] = g
        new_groups[g].append(r)
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for g, members in new_groups.items():
        by_stratum[Counter((m.get("category") or "other") for m in members).most_common(1)[0][0]].append(g)
    for gs in by_stratum.values():
        gs.sort(key=lambda g: hashlib.sha1(g.encode()).hexdigest())
        n_test = int(len(gs) * TEST_SHARE + 0.5)
        for k, g in enumerate(gs):
            for m in new_groups[g]:
                m["split"] = "test" if k < n_test else "train"
    report.new_groups = len(new_groups)


def write_label_file(path: Path, rows: list[dict]) -> None:
    """Rewrite a CSV label file atomically (temporary file, fsync, rename)."""
    extra = sorted({k for r in rows for k in r if not k.startswith("_")} - set(COLUMNS))
    fields = [
        c for c in COLUMNS if any(c in r for r in rows) or c in ("id", "text", "label", "category", "group", "register", "split")
    ] + extra
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in fields})
    atomic_write_text(path, buf.getvalue())
