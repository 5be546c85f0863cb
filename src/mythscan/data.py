"""Labelled data: loading (pandas / Hugging Face datasets), validation and statistics."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import LabelError
from .folds import group_folds  # noqa: F401  (re-exported: label review and tests use data.group_folds)
from .paths import labels_dir
from .taxonomy import LABELS, Taxonomy, load_taxonomy

REQUIRED_COLUMNS = ["id", "text", "label", "category", "group", "register", "split"]
OPTIONAL_COLUMNS = ["pair", "hard", "annotator", "batch", "added", "notes"]
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
REGISTERS = {
    "tabloid",
    "wire",
    "op-ed",
    "research",
    "headline",
    "social",
    "state-media",
    "translated",
    "feature",
    "blog",
    "broadcast",
    "user",
}
SPLITS = {"train", "test"}
NEAR_DUP_JACCARD = 0.5
MAX_LABEL_BYTES = 50 * 1024 * 1024  # a label file is read whole and checked in memory; the committed one is ~2 MB
MAX_LABEL_TEXT = 5_000  # characters; a label is one sentence (the longest committed one has 391)
_NORM = re.compile(r"[^\w\s]+")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def normalise(text: str) -> str:
    return " ".join(_NORM.sub(" ", text.lower()).split())


def shingles(text: str, n: int = 5) -> frozenset:
    """Word n-grams (as tuples) of the normalised text; the whole text when it is shorter."""
    words = normalise(text).split()
    if len(words) < n:
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(zip(*(words[i:] for i in range(n))))


def jaccard_candidates(s: frozenset, index: dict, sh: list) -> dict[int, float]:
    """Rows sharing at least one shingle with ``s`` (via the shingle -> rows ``index``), with their
    5-gram Jaccard similarity. Shared by validation, group merging and `labels add`."""
    shared: Counter = Counter()
    for g in s:
        posting = index.get(g)
        if posting:
            shared.update(posting)
    return {j: k / (len(s) + len(sh[j]) - k) for j, k in shared.items()}


def label_files(path: str | Path | None = None) -> list[Path]:
    p = Path(path) if path else labels_dir()
    if p.is_file():
        return [p]
    if not p.exists():
        raise LabelError(f"{p}: no such file or directory", hint="pass a label file or the labels/ directory")
    files = sorted([*p.glob("*.csv"), *p.glob("*.jsonl")])
    if not files:
        raise LabelError(f"{p}: holds no .csv or .jsonl label files")
    return files


def read_rows(file: Path) -> tuple[list[dict], list[Problem]]:
    """Rows of one label file, each with its 1-based line number in ``_line``."""
    import stat

    rows: list[dict] = []
    problems: list[Problem] = []
    try:
        st = file.stat()
        if not stat.S_ISREG(st.st_mode):  # a named pipe would block forever
            raise LabelError(f"{file}: not a regular file", hint="give a .csv or .jsonl label file")
        if st.st_size > MAX_LABEL_BYTES:
            raise LabelError(
                f"{file}: {st.st_size / 1e6:.0f} MB is larger than the {MAX_LABEL_BYTES // 2**20} MB limit for a label file",
                hint="split it into batches",
            )
        raw = file.read_bytes()
    except OSError as exc:
        raise LabelError(f"{file}: cannot read ({exc})") from None
    if b"\x00" in raw[:8192]:
        return [], [Problem(str(file), 1, "binary file, expected UTF-8 CSV or JSONL")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [Problem(str(file), 1, f"not UTF-8 ({exc.reason} at byte {exc.start}); re-save the file as UTF-8")]
    if file.suffix.lower() == ".jsonl":
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(Problem(str(file), i, f"invalid JSON: {exc.msg}"))
                continue
            except RecursionError:
                problems.append(Problem(str(file), i, "invalid JSON: nested too deeply"))
                continue
            if not isinstance(obj, dict):
                problems.append(Problem(str(file), i, "expected a JSON object"))
                continue
            obj = {k: ("" if v is None else str(v)) for k, v in obj.items()}
            obj["_line"] = i
            if _long_text(obj, file, i, problems):
                continue
            rows.append(obj)
        return rows, problems
    if csv.field_size_limit() < MAX_LABEL_BYTES:  # the default (128 KB) raised csv.Error on one long field
        csv.field_size_limit(MAX_LABEL_BYTES)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    line = 2
    try:
        if not reader.fieldnames:
            return [], [Problem(str(file), 1, "empty file: expected a header row")]
        for row in reader:
            if None in row:
                problems.append(Problem(str(file), line, f"{len(row[None])} field(s) more than the header has"))
                row.pop(None)
            row = {k: ("" if v is None else v) for k, v in row.items()}
            row["_line"] = line
            if not _long_text(row, file, line, problems):
                rows.append(row)
            line = reader.line_num + 1
    except csv.Error as exc:
        problems.append(Problem(str(file), line, f"malformed CSV ({exc}); the rest of the file is not read"))
    return rows, problems


def _long_text(row: dict, file: Path, line: int, problems: list[Problem]) -> bool:
    """A text too long to be one sentence is a problem, and its row is left out of further checks
    (near-duplicate shingles of a 100 MB field once took 1.2 GB)."""
    n = len(row.get("text") or "")
    if n > MAX_LABEL_TEXT:
        problems.append(Problem(str(file), line, f"text of {n:,} characters: a label is one sentence (at most {MAX_LABEL_TEXT:,})"))
        return True
    return False


def check_rows(rows: list[dict], file: str, taxonomy: Taxonomy, *, required: Iterable[str] = REQUIRED_COLUMNS) -> list[Problem]:
    """Row-level checks: schema, labels, categories, text, split, register."""
    problems: list[Problem] = []
    required = list(required)
    if rows:
        missing = [c for c in required if c not in rows[0]]
        if missing:
            return [Problem(file, 1, f"missing column(s) {missing}; expected at least {required}")]
    myth_ids, acc_ids = set(taxonomy.ids("myth")), set(taxonomy.ids("accurate"))
    for r in rows:
        ln = r["_line"]
        text, label, cat = r.get("text", ""), r.get("label", "").strip(), r.get("category", "").strip()
        if not text.strip():
            problems.append(Problem(file, ln, "empty or whitespace-only text"))
        if label not in LABELS:
            problems.append(Problem(file, ln, f"unknown label {label!r}; expected one of {list(LABELS)}"))
        elif label == "other" and cat:
            problems.append(Problem(file, ln, f"label 'other' must have an empty category, found {cat!r}"))
        elif label != "other":
            if not cat:
                problems.append(Problem(file, ln, f"label {label!r} needs a category from labels/taxonomy.yaml"))
            elif cat not in myth_ids | acc_ids:
                problems.append(Problem(file, ln, f"unknown category {cat!r}; add it to labels/taxonomy.yaml first"))
            elif (label == "myth") != (cat in myth_ids):
                problems.append(
                    Problem(
                        file,
                        ln,
                        f"label {label!r} does not match category {cat!r}, which is {'an' if taxonomy.kind_of(cat)[0] in 'aeiou' else 'a'} {taxonomy.kind_of(cat)} category",
                    )
                )
        if "split" in required and r.get("split", "") not in SPLITS:
            problems.append(Problem(file, ln, f"split {r.get('split')!r} must be one of {sorted(SPLITS)}"))
        if "register" in required and r.get("register", "") not in REGISTERS:
            problems.append(Problem(file, ln, f"register {r.get('register')!r} is not one of {sorted(REGISTERS)}"))
        if "group" in required and not r.get("group", "").strip():
            problems.append(Problem(file, ln, "empty group"))
    return problems


def check_dataset(rows: list[dict], *, near_dup: bool = True) -> list[Problem]:
    """Cross-row checks: ids, exact/near duplicates, conflicting labels, groups across splits, pairs."""
    problems: list[Problem] = []
    where = lambda r: (r["_file"], r["_line"])  # noqa: E731
    seen_id: dict[str, dict] = {}
    seen_text: dict[str, dict] = {}
    for r in rows:
        rid = r.get("id", "")
        if rid in seen_id:
            problems.append(Problem(*where(r), f"duplicate id {rid!r} (first at {seen_id[rid]['_file']}:{seen_id[rid]['_line']})"))
        else:
            seen_id[rid] = r
        key = normalise(r.get("text", ""))
        if not key:
            continue
        if key in seen_text:
            first = seen_text[key]
            if (first.get("label"), first.get("category")) != (r.get("label"), r.get("category")):
                problems.append(
                    Problem(
                        *where(r),
                        f"same text as {first['_file']}:{first['_line']} with a conflicting label ({r.get('label')}/{r.get('category')} vs {first.get('label')}/{first.get('category')})",
                    )
                )
            else:
                problems.append(Problem(*where(r), f"exact duplicate of {first['_file']}:{first['_line']}"))
        else:
            seen_text[key] = r
    group_splits: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in rows:
        if r.get("group"):
            group_splits[r["group"]].setdefault(r.get("split", ""), r)
    for g, splits in group_splits.items():
        if len(splits) > 1:
            r = list(splits.values())[-1]
            problems.append(Problem(*where(r), f"group {g!r} is split across {sorted(splits)}; a group must sit in one split"))
    problems += check_pairs(rows)
    if near_dup:
        problems += near_duplicates(rows)
    return problems


def check_pairs(rows: list[dict], only: set[str] | None = None) -> list[Problem]:
    """Contrast pairs (all, or the ids in ``only``): one myth with one accurate or other sentence, in one group."""
    problems: list[Problem] = []
    pairs: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if r.get("pair") and (only is None or r["pair"] in only):
            pairs[r["pair"]].append(r)
    for p, members in pairs.items():
        labs = sorted(m.get("label") for m in members)
        last = members[-1]
        where = (last.get("_file", ""), last.get("_line", 0))
        if labs not in (["accurate", "myth"], ["myth", "other"]):
            problems.append(
                Problem(
                    *where,
                    f"pair {p!r} must hold one myth and one accurate or other sentence "
                    f"(a myth and its correction, or a myth and a report of it), found {labs}",
                )
            )
        elif len({m.get("group") for m in members}) > 1:
            problems.append(Problem(*where, f"pair {p!r} spans groups; put both sentences in one group"))
    return problems


def near_duplicates(rows: list[dict], threshold: float = NEAR_DUP_JACCARD) -> list[Problem]:
    """Sentences in different groups whose 5-gram Jaccard similarity reaches ``threshold``."""
    index: dict[tuple, list[int]] = defaultdict(list)
    sh = [shingles(r.get("text", "")) for r in rows]
    problems = []
    for i, s in enumerate(sh):
        for j, jac in jaccard_candidates(s, index, sh).items():
            if rows[i].get("group") == rows[j].get("group"):
                continue
            if jac >= threshold and normalise(rows[i]["text"]) != normalise(rows[j]["text"]):
                problems.append(
                    Problem(
                        rows[i]["_file"],
                        rows[i]["_line"],
                        f"near-duplicate ({jac:.2f} 5-gram Jaccard) of {rows[j]['_file']}:{rows[j]['_line']} in another group ({rows[j].get('group')!r}); merge the groups or rewrite",
                    )
                )
        for g in s:
            index[g].append(i)
    return problems


def validate(path: str | Path | None = None, taxonomy: Taxonomy | None = None) -> tuple[list[Problem], int]:
    """Every problem in the label files under ``path``, and the number of rows read."""
    taxonomy = taxonomy or load_taxonomy()
    problems: list[Problem] = []
    all_rows: list[dict] = []
    for file in label_files(path):
        rows, probs = read_rows(file)
        problems += probs
        if not rows and not probs:  # a header alone, or not a label file at all, is not "ok: 0 rows"
            problems.append(Problem(str(file), 1, f"no label rows; a label file has the columns {REQUIRED_COLUMNS} and at least one row"))
        problems += check_rows(rows, str(file), taxonomy)
        for r in rows:
            r["_file"] = str(file)
        all_rows += rows
    problems += check_dataset(all_rows)
    problems.sort(key=lambda p: (p.file, p.line))
    return problems, len(all_rows)


def load_labels(path: str | Path | None = None, *, check: bool = True):
    """All labelled sentences as a pandas DataFrame (columns: COLUMNS that exist, plus `file`)."""
    import pandas as pd

    frames = []
    for file in label_files(path):
        rows, probs = read_rows(file)
        if check and probs:
            raise LabelError(f"{probs[0]}", hint="run `mythscan labels validate` for every problem")
        df = pd.DataFrame(rows)
        if df.empty:
            continue
        df["file"] = str(file)
        frames.append(df)
    if not frames:
        raise LabelError(f"{path or labels_dir()}: no labelled rows")
    df = pd.concat(frames, ignore_index=True).drop(columns=["_line"])
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = ""
    df["category"] = df["category"].fillna("").astype(str)
    return df


def load_splits(path: str | Path | None = None):
    """(train, test) DataFrames of the fixed split."""
    df = load_labels(path)
    return df[df["split"] == "train"].reset_index(drop=True), df[df["split"] == "test"].reset_index(drop=True)


def to_datasets(path: str | Path | None = None):
    """The labels as a Hugging Face ``datasets.DatasetDict`` with train and test splits."""
    from datasets import Dataset, DatasetDict

    train, test = load_splits(path)
    cols = [c for c in COLUMNS if c in train.columns]
    return DatasetDict(
        {"train": Dataset.from_pandas(train[cols], preserve_index=False), "test": Dataset.from_pandas(test[cols], preserve_index=False)}
    )


def data_hash(df) -> str:
    h = hashlib.sha256()
    for t, lab, cat, sp in sorted(zip(df["text"], df["label"], df["category"], df["split"])):
        h.update(f"{t}\t{lab}\t{cat}\t{sp}\n".encode())
    return h.hexdigest()[:16]


def current_test_hash(path: str | Path | None = None) -> str | None:
    """`data_hash` of the label files' test split now (None when they cannot be read), cached by the
    files' names, sizes and modification times so `mythscan models list` does not reread the labels."""
    import os

    from .errors import MythscanError
    from .paths import cache_dir

    try:
        files = label_files(path)
        key = hashlib.sha256("\n".join(f"{f.resolve()}\t{f.stat().st_size}\t{f.stat().st_mtime_ns}" for f in files).encode()).hexdigest()
    except (MythscanError, OSError):
        return None
    cache = cache_dir() / "test-split-hash.json"
    try:
        saved = json.loads(cache.read_text())
        if saved.get("key") == key:
            return saved.get("hash")
    except (OSError, ValueError, AttributeError):
        pass
    try:
        test = load_splits(path)[1]
    except (MythscanError, OSError, ValueError):
        return None
    value = data_hash(test) if not test.empty else None
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"key": key, "hash": value}))
        os.replace(tmp, cache)
    except OSError:
        pass
    return value


def stats(df) -> dict:
    def counts(col):
        return {str(k): int(v) for k, v in df[col].value_counts().sort_index().items()}

    cats = df[df["category"] != ""]
    pairs = df[df["pair"].astype(str) != ""]["pair"].nunique() if "pair" in df else 0
    return {
        "total": int(len(df)),
        "by_label": counts("label"),
        "by_category": {str(k): int(v) for k, v in cats["category"].value_counts().sort_index().items()},
        "by_register": counts("register"),
        "by_split": counts("split"),
        "by_split_label": {s: {str(k): int(v) for k, v in g["label"].value_counts().sort_index().items()} for s, g in df.groupby("split")},
        "groups": int(df["group"].nunique()),
        "contrast_pairs": int(pairs),
        "by_hard_case": {str(k): int(v) for k, v in df[df["hard"] != ""]["hard"].value_counts().sort_index().items()}
        if "hard" in df
        else {},
    }


def merge_near_duplicate_groups(rows: list[dict], threshold: float = NEAR_DUP_JACCARD) -> int:
    """Put near-duplicate sentences of different groups into one group (union-find). Returns merges."""
    parent: dict[str, str] = {}

    def find(g):
        while parent.get(g, g) != g:
            g = parent[g]
        return g

    for r in rows:
        r.setdefault("_file", "?")
        r.setdefault("_line", 0)
    merges = 0
    index: dict[tuple, list[int]] = defaultdict(list)
    sh = [shingles(r.get("text", "")) for r in rows]
    for i, s in enumerate(sh):
        for j, jac in jaccard_candidates(s, index, sh).items():
            if jac >= threshold:
                a, b = find(rows[i]["group"]), find(rows[j]["group"])
                if a != b:
                    parent[b] = a
                    merges += 1
        for g in s:
            index[g].append(i)
    for r in rows:
        r["group"] = find(r["group"])
    return merges


def assign_splits(rows: list[dict], test_share: float = 0.22, seed: int = 13) -> None:
    """Assign train/test by group, stratified by each group's main category (or 'other')."""
    import random

    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["group"]].append(r)
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for g, members in sorted(groups.items()):
        main = Counter((m.get("category") or "other") for m in members).most_common(1)[0][0]
        by_stratum[main].append(g)
    rng = random.Random(seed)
    for _stratum, gs in sorted(by_stratum.items()):
        rng.shuffle(gs)
        n_test = max(1, round(len(gs) * test_share))
        for k, g in enumerate(gs):
            for m in groups[g]:
                m["split"] = "test" if k < n_test else "train"


# --- real coverage: labelled pages read at training and evaluation time --------------------------

REAL_COLUMNS = ["text", "label", "category", "context_before", "article", "position", "stance", "ambiguous"]
STANCES = ("repeats-myths", "mixed", "research-based", "state-media", "official", "forum")


def resolve_data_path(path: str | Path) -> Path:
    """A data path from a config: absolute, or relative to the project root (MYTHSCAN_HOME or the
    checkout), so `../shared/real/train.csv` means the shared folder beside the checkout."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    from .paths import project_root

    return (project_root() / p).resolve()


def load_real(path: str | Path, taxonomy: Taxonomy | None = None):
    """A labelled sample of real coverage (CSV/JSONL): one row per sentence with `text`, `label`,
    `category`, and where it has them `article` (one id per page), `position`, `context_before`,
    `stance` and `ambiguous`. Rows of a page are returned in reading order. Labels and categories
    are checked against the taxonomy; the sentences are read, never copied anywhere."""
    import pandas as pd

    from .reading import read_table

    p = resolve_data_path(path)
    df = read_table(p, what="labelled data")
    missing = [c for c in ("text", "label") if c not in df.columns]
    if missing:
        raise LabelError(f"{p}: missing column(s) {missing}", hint="a labelled sample needs text and label columns")
    df = df.copy()
    for c in REAL_COLUMNS:
        if c not in df.columns:
            df[c] = ""
        df[c] = df[c].fillna("").astype(str)
    taxonomy = taxonomy or load_taxonomy()
    bad = sorted(set(df["label"]) - set(LABELS))
    if bad:
        raise LabelError(f"{p}: unknown labels {bad}", hint=f"labels must be one of {list(LABELS)}")
    known = set(taxonomy.ids("myth")) | set(taxonomy.ids("accurate"))
    unknown = sorted(set(df.loc[df["label"] != "other", "category"]) - known - {""})
    if unknown:
        raise LabelError(f"{p}: unknown categories {unknown[:5]}", hint="add them to labels/taxonomy.yaml first")
    df.loc[df["label"] == "other", "category"] = ""
    if (df["article"] == "").any():
        df.loc[df["article"] == "", "article"] = [f"#{i}" for i in df.index[df["article"] == ""]]
    df["article"] = f"{p.name}:" + df["article"]
    pos = pd.to_numeric(df["position"], errors="coerce")
    df["_order"] = pos.fillna(pd.Series(range(len(df)), index=df.index))
    df = df.sort_values(["article", "_order"], kind="stable").drop(columns="_order").reset_index(drop=True)
    df["source"] = str(path)
    return df


def load_pages(path: str | Path) -> list[tuple[list[str], str]]:
    """Pages with a page-level stance only (JSONL: `text`, `stance`), split into sentences, for
    the page-stance model."""
    from .reading import read_table
    from .splitting import split_sentences

    p = resolve_data_path(path)
    df = read_table(p, what="page data")
    if "text" not in df.columns or "stance" not in df.columns:
        raise LabelError(f"{p}: page data needs `text` and `stance` columns", hint="one JSON object a line")
    out = []
    for text, stance in zip(df["text"].astype(str), df["stance"].astype(str)):
        if stance not in STANCES:
            raise LabelError(f"{p}: unknown stance {stance!r}", hint=f"one of {list(STANCES)}")
        out.append(([s.text for s in split_sentences(text)], stance))
    return out


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(resolve_data_path(path), "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]
