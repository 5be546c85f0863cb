"""`mythscan batch`: score a whole archive, streaming, resumable, with a report.

The stage's entry point is `run_batch(BatchOptions(...))`. Inside:
- `inputs`: find and read the inputs (directories, globs, JSONL/CSV/Parquet tables, WARC), bounded;
- `prefilter`: keep the articles (and sentences) that can hold a myth about the system;
- `pipeline`: per-article work (extract, split, date, classify), deduplication, parts and manifest;
- `local` and `ray_engine`: the two engines that run the parts;
- `report`: merge the parts into the output tables, summary.json and report.html.
"""

from .pipeline import BatchOptions
from .run import run_batch

__all__ = ["BatchOptions", "run_batch"]
