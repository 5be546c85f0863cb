"""Generate a synthetic news archive for `mythscan batch` benchmarks and tests.

General news filler (templated sentences about sport, weather, markets, local politics, health,
culture, ...) with the project's own labelled sentences (labels/sentences.csv) mixed in: about a
tenth of the articles are about social credit and take about two thirds of their sentences from the
labels, so that about 5% of all sentences are on topic. A few articles are syndicated copies
(identical text under another outlet) to exercise deduplication.

    python benchmarks/generate_archive.py --n 10000 --out /tmp/archive.jsonl
    python benchmarks/generate_archive.py --n 10000 --out /tmp/archive.warc.gz --format warc

JSONL rows: id, outlet, date, url, title, text, and `injected_myths` (how many labelled myth
sentences the article holds; the benchmark uses it to measure the prefilter end to end).
WARC: one gzipped response record per article (HTML page with navigation and footer around the
article), plus a request record and a non-HTML (image) response every 50 articles.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

OUTLETS = [
    "dailyherald.example",
    "morningpost.example",
    "theledger.example",
    "citywire.example",
    "globalreview.example",
    "northerntimes.example",
    "eveningstar.example",
    "coastgazette.example",
    "capitalnews.example",
    "valleyjournal.example",
]
NAMES = [
    "Maria Lopez",
    "James Carter",
    "Aisha Khan",
    "Tom Becker",
    "Elena Rossi",
    "David Kim",
    "Sarah O'Neill",
    "Paul Mensah",
    "Laura Schmidt",
    "Ahmed Hassan",
    "Nina Petrova",
    "Carlos Silva",
    "Emma Wilson",
    "Yusuf Demir",
    "Grace Adeyemi",
]
TEAMS = ["Rovers", "United", "City", "Athletic", "Wanderers", "Rangers", "Albion", "Harriers", "Lions", "Falcons"]
PLACES = ["Springfield", "Riverton", "Lakeside", "Oakford", "Millbrook", "Ashton", "Kingsbridge", "Westhaven", "Brookfield", "Fairview"]
THINGS = [
    "bridge",
    "library",
    "hospital wing",
    "bus route",
    "school gym",
    "community garden",
    "water main",
    "bike lane",
    "museum",
    "market hall",
]
COMPANIES = ["Northwind Foods", "Apex Motors", "Bluewater Energy", "Helix Pharma", "Summit Retail", "Orbit Airlines", "Greenfield Farms"]
VERBS = ["said", "wrote", "reported", "noted", "argued"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

FILLER = {
    "sport": [
        "The {team} beat the {team2} {a}-{b} on {day} in front of a crowd of {n},000.",
        "{name} scored twice in the second half as the {team} extended their unbeaten run to {a} games.",
        "The coach said the squad would rest several players before next week's cup tie.",
        "Ticket prices for the new season will rise by {a} percent, the club confirmed.",
        "The {team} sit {a} points clear at the top of the table with {b} matches left.",
        "Injuries to two defenders left the manager with few options on the bench.",
        "{name} finished the marathon in just over two hours and {a} minutes, a personal best.",
        "Rain delayed the start of the tennis final by almost an hour.",
    ],
    "weather": [
        "Forecasters expect temperatures to reach {n} degrees in {place} by the weekend.",
        "Heavy rain is likely across the region on {day}, with a risk of local flooding.",
        "The storm brought down trees and left about {n}00 homes without power overnight.",
        "A dry spell has left reservoirs at {a}0 percent of their usual level for the time of year.",
        "Drivers were urged to take care on icy roads after the first frost of the winter.",
        "Sunshine and light winds should make for a pleasant start to the week.",
    ],
    "markets": [
        "Shares in {company} rose {a} percent after the firm raised its profit forecast.",
        "The central bank left interest rates unchanged at {a}.{b} percent on {day}.",
        "Inflation eased to {a}.{b} percent last month, helped by lower fuel prices.",
        "{company} said it would cut {n}0 jobs as part of a restructuring plan.",
        "Analysts expect house prices to level off in the coming months as mortgage costs bite.",
        "The stock market closed higher on {day}, led by gains in energy and mining companies.",
        "Retail sales grew faster than expected over the holiday period, official data showed.",
        "The company reported quarterly revenue of {n} million dollars, slightly above estimates.",
    ],
    "local": [
        "The council voted {a} to {b} to approve plans for a new {thing} in {place}.",
        "Residents of {place} have raised concerns about traffic near the new {thing}.",
        "The mayor said work on the {thing} should be finished by the end of next year.",
        "Volunteers collected more than {n}00 bags of litter along the riverbank on {day}.",
        "A public meeting on the future of the {thing} will be held at the town hall.",
        "Police are appealing for witnesses after a car was damaged in {place} on {day} night.",
        "The annual summer fair returns to {place} this weekend with music, food stalls and rides.",
        "Road works on the high street are expected to cause delays for the next two weeks.",
    ],
    "health": [
        "Doctors say a brisk walk of thirty minutes a day can lower the risk of heart disease.",
        "The hospital has opened a new clinic to cut waiting times for hip operations.",
        "Flu cases have risen sharply in the past fortnight, health officials said.",
        "A study of {n},000 adults found that poor sleep was linked to higher blood pressure.",
        "Pharmacies will offer free vaccinations to over-65s from next month.",
        "The charity said demand for its mental health helpline had doubled since last year.",
    ],
    "culture": [
        "The festival opens on {day} with a concert by the city's youth orchestra.",
        "{name}'s debut novel has been shortlisted for a national fiction prize.",
        "The museum's new exhibition brings together {n}0 paintings from private collections.",
        "Critics praised the film's photography but found the plot hard to follow.",
        "The theatre will stage a new production of a classic comedy this autumn.",
        "The band announced a reunion tour with dates in {place} and {place2}.",
        "A local bakery won first prize at the regional food awards for its rye bread.",
    ],
    "politics": [
        "The minister said the government would publish its budget plans in the spring.",
        "Opposition lawmakers criticised the proposal as too costly and too slow.",
        "{name} announced she would stand for the party leadership later this year.",
        "Parliament will debate the new housing bill when it returns from recess.",
        "Polls suggest the race for the governor's seat remains close.",
        "The election commission said turnout reached {a}0 percent, the highest in a decade.",
        "Negotiators met for a third day of talks on the trade agreement.",
    ],
    "tech": [
        "The company released an update to fix a bug that drained phone batteries.",
        "{company} plans to open a new data centre near {place}, creating {n}0 jobs.",
        "The app now lets users split restaurant bills with friends in a few taps.",
        "Engineers are testing a new battery design that could double the range of electric cars.",
        "The software firm said its new system would be available to customers next quarter.",
    ],
    "world_china": [  # general news mentioning China that is not about social credit
        "Exports from China rose {a} percent in the year to March, customs figures showed.",
        "The panda pair on loan from Chengdu will stay at the zoo for another five years.",
        "Chinese tourists are returning to the region's ski resorts, operators say.",
        "Beijing and the European Union agreed to hold further talks on electric vehicle tariffs.",
        "A Chinese electric car maker plans to build a factory in {place}.",
    ],
}
TITLES = [
    "{place} {thing} plans approved",
    "{team} win again",
    "Rain on the way",
    "{company} results beat forecasts",
    "New exhibition opens",
    "Council budget row",
    "Health service under pressure",
    "Festival returns to {place}",
]
TOPIC_TITLES = [
    "Inside China's social credit system",
    "What social credit really means",
    "China's credit blacklists explained",
    "Beijing expands its credit rules",
    "The truth about China's social credit score",
    "Living with social credit",
]


def _fill(tpl: str, rng: random.Random) -> str:
    teams = rng.sample(TEAMS, 2)
    places = rng.sample(PLACES, 2)
    return tpl.format(
        team=teams[0],
        team2=teams[1],
        a=rng.randint(1, 9),
        b=rng.randint(0, 9),
        n=rng.randint(2, 60),
        day=rng.choice(DAYS),
        name=rng.choice(NAMES),
        place=places[0],
        place2=places[1],
        thing=rng.choice(THINGS),
        company=rng.choice(COMPANIES),
    )


def load_labelled(path: Path | None = None) -> list[tuple[str, str]]:
    import csv

    with open(path or ROOT / "labels" / "sentences.csv", newline="", encoding="utf-8") as fh:
        return [(r["text"], r["label"]) for r in csv.DictReader(fh)]


class ArchiveGenerator:
    """Deterministic article stream: dicts with id, outlet, date, url, title, text, injected_myths."""

    def __init__(
        self,
        seed: int = 0,
        topic_articles: float = 0.1,
        topic_share: float = 0.65,
        dup_share: float = 0.03,
        labelled: list[tuple[str, str]] | None = None,
        vary: bool = False,
    ):
        self.rng = random.Random(seed)
        self.vary = vary  # attribute each labelled sentence to a random speaker, so it is (nearly) never repeated verbatim
        self.labelled = labelled or load_labelled()
        self.topic_articles, self.topic_share, self.dup_share = topic_articles, topic_share, dup_share
        self.topics = [k for k in FILLER if k != "world_china"]
        self.recent: list[dict] = []

    def _article(self, i: int) -> dict:
        rng = self.rng
        n = rng.randint(8, 24)
        topical = rng.random() < self.topic_articles
        topic = rng.choice(self.topics)
        sentences, myths = [], 0
        for _ in range(n):
            if topical and rng.random() < self.topic_share:
                text, label = rng.choice(self.labelled)
                myths += label == "myth"
                if self.vary:
                    text = f"{text.rstrip('.!?')}, {rng.choice(NAMES)} {rng.choice(VERBS)} on {rng.choice(DAYS)}."
                sentences.append(text)
            elif rng.random() < 0.006:
                sentences.append(_fill(rng.choice(FILLER["world_china"]), rng))
            else:
                sentences.append(_fill(rng.choice(FILLER[topic if rng.random() < 0.8 else rng.choice(self.topics)]), rng))
        title = rng.choice(TOPIC_TITLES) if topical else _fill(rng.choice(TITLES), rng)
        paras = [" ".join(sentences[k : k + 3]) for k in range(0, len(sentences), 3)]
        outlet = rng.choice(OUTLETS)
        year = rng.randint(2015, 2024)
        date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        return {
            "id": f"a{i:08d}",
            "outlet": outlet,
            "date": date,
            "url": f"https://{outlet}/{year}/{i}",
            "title": title,
            "text": title + "\n\n" + "\n\n".join(paras),
            "injected_myths": myths,
        }

    def articles(self, n: int):
        for i in range(n):
            if self.recent and self.rng.random() < self.dup_share:  # syndicated copy under another outlet
                src = self.rng.choice(self.recent)
                outlet = self.rng.choice(OUTLETS)
                art = {**src, "id": f"a{i:08d}", "outlet": outlet, "url": f"https://{outlet}/syndicated/{i}"}
            else:
                art = self._article(i)
                self.recent = (self.recent + [art])[-50:]
            yield art


def html_page(art: dict) -> str:
    from html import escape

    paras = art["text"].split("\n\n")[1:]
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paras)
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(art["title"])} | {art["outlet"]}</title>'
        f'<meta property="og:site_name" content="{art["outlet"]}"><meta name="date" content="{art["date"]}"></head>\n'
        f'<body><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>\n'
        f"<article><h1>{escape(art['title'])}</h1>\n{body}\n</article>\n"
        f"<footer>Copyright {art['outlet']}. All rights reserved.</footer></body></html>\n"
    )


def write_jsonl(path: Path, n: int, seed: int = 0, **kw) -> Path:
    """kw: ArchiveGenerator options (topic_articles, dup_share, vary, ...)."""
    with open(path, "w", encoding="utf-8") as fh:
        for art in ArchiveGenerator(seed, **kw).articles(n):
            fh.write(json.dumps(art, ensure_ascii=False) + "\n")
    return path


def write_warc(path: Path, n: int, seed: int = 0, **kw) -> Path:
    from io import BytesIO

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=str(path).endswith(".gz"))
        for i, art in enumerate(ArchiveGenerator(seed, **kw).articles(n)):
            date = f"{art['date']}T12:00:00Z"
            if i % 50 == 0:
                req = StatusAndHeaders(f"GET /{i} HTTP/1.1", [("Host", art["outlet"])], is_http_request=True)
                writer.write_record(
                    writer.create_warc_record(art["url"], "request", http_headers=req, warc_headers_dict={"WARC-Date": date})
                )
                img = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
                writer.write_record(
                    writer.create_warc_record(
                        art["url"] + "/logo.png",
                        "response",
                        payload=BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(200)),
                        http_headers=img,
                        warc_headers_dict={"WARC-Date": date},
                    )
                )
            body = html_page(art).encode("utf-8")
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(
                    art["url"], "response", payload=BytesIO(body), http_headers=headers, warc_headers_dict={"WARC-Date": date}
                )
            )
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10000, help="number of articles")
    ap.add_argument("--out", type=Path, required=True, help="output file (.jsonl, .warc or .warc.gz)")
    ap.add_argument("--format", choices=["jsonl", "warc"], default=None, help="default: from the file name")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--topic-articles", type=float, default=0.1, help="share of articles about social credit")
    ap.add_argument("--dup-share", type=float, default=0.03, help="share of syndicated copies")
    ap.add_argument(
        "--vary",
        action="store_true",
        help="attribute labelled sentences to random speakers, so that no "
        "sentence repeats verbatim (fair for models that memoise embeddings)",
    )
    a = ap.parse_args(argv)
    fmt = a.format or ("warc" if ".warc" in a.out.name else "jsonl")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    (write_warc if fmt == "warc" else write_jsonl)(a.out, a.n, a.seed, topic_articles=a.topic_articles, dup_share=a.dup_share, vary=a.vary)
    print(f"wrote {a.n} articles to {a.out} ({a.out.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
