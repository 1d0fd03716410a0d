"""Generate the tool-use env's data: a corpus about invented entities and tasks with oracles.

    python scripts/make_tooluse_data.py            # writes assets/tooluse/{corpus,tasks}.jsonl.gz

Deterministic (one seeded RNG, no clock, gzip without timestamps): running it twice gives
byte-identical files. Every entity (towns, people, inventions, societies) is made up from
random syllables, so no model can know the answers from pre-training. Each task stores its
answer and an oracle tool-call sequence; the script replays every oracle through the real
tools and refuses to write data whose oracle does not surface the answer.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import sys
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stepgym.envs.tooluse.tools.calculator import calculate  # noqa: E402
from stepgym.envs.tooluse.tools.search import Document, SearchIndex, search_tools  # noqa: E402
from stepgym.rewards.tooluse import normalize_answer  # noqa: E402

SEED = 20250611
OUT = ROOT / "assets" / "tooluse"
ONSETS = ["b", "br", "d", "dr", "f", "g", "gr", "h", "k", "kl", "l", "m", "n", "p", "pr", "r",
          "s", "st", "t", "tr", "v", "z", "sh", "th", "qu", "ch", "w", "y"]
VOWELS = ["a", "e", "i", "o", "u", "ae", "ei", "ou", "y"]
CODAS = ["", "", "n", "r", "l", "s", "th", "sk", "nd", "rm", "x", "v", "m"]
PROFESSIONS = ["cartographer", "glassblower", "astronomer", "composer", "engineer", "botanist",
               "clockmaker", "weaver", "physician", "mathematician", "shipwright", "poet"]
KINDS = ["a brass instrument for measuring tides", "a glass harp", "a spring-driven loom",
         "a lens for reading star charts", "a water-powered mill wheel", "a folding sextant",
         "a pressure lamp", "a mechanical calendar", "a seed drill", "a signal mirror",
         "a wind organ", "a copper still"]
MATERIALS = ["brass", "glass", "oak", "copper", "iron", "bone", "silver", "walnut"]
EXPORTS = ["salt", "amber", "wool", "slate", "honey", "rope", "dyes", "copper", "barley", "glass"]
SPLITS = (("train", 0.7), ("val", 0.15), ("test", 0.15))


class Names:
    """Unique invented words (one RNG, so the sequence is fixed by the seed)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.used = rng, set()

    def word(self, syllables: int) -> str:
        while True:
            w = "".join(self.rng.choice(ONSETS) + self.rng.choice(VOWELS) for _ in range(syllables))
            w = (w + self.rng.choice(CODAS)).capitalize()
            if w.lower() not in self.used and 4 <= len(w) <= 11:
                self.used.add(w.lower())
                return w


def slug(name: str) -> str:
    return "-".join(name.lower().replace("the ", "").split())


def build_world(rng: random.Random) -> dict:
    names = Names(rng)
    provinces = [names.word(2) for _ in range(8)]
    rivers = [names.word(2) for _ in range(12)]
    towns = [{"name": names.word(rng.choice([2, 3])), "province": rng.choice(provinces),
              "founded": rng.randint(1100, 1750), "population": rng.randint(2000, 250000),
              "river": rng.choice(rivers), "export": rng.choice(EXPORTS)} for _ in range(40)]
    people = []
    for _ in range(70):
        town = rng.choice(towns)
        people.append({"name": f"{names.word(2)} {names.word(2)}", "born": rng.randint(town["founded"] + 20, 1880),
                       "birthplace": town["name"], "profession": rng.choice(PROFESSIONS)})
    artifacts = []
    for person in rng.sample(people, 36):
        artifacts.append({"name": names.word(2), "kind": rng.choice(KINDS), "inventor": person["name"],
                          "year": person["born"] + rng.randint(22, 58), "material": rng.choice(MATERIALS)})
        person["invented"] = artifacts[-1]["name"]
    societies = []
    for person in rng.sample([p for p in people if "invented" not in p], 20):
        societies.append({"name": f"{names.word(2)} Society", "founder": person["name"],
                          "founded": person["born"] + rng.randint(25, 60),
                          "seat": rng.choice(towns)["name"], "members": rng.randint(12, 900)})
        person["founded"] = societies[-1]["name"]
    return {"towns": towns, "people": people, "artifacts": artifacts, "societies": societies}


def documents(world: dict, rng: random.Random) -> list[Document]:
    """One document per entity; sentences name other entities so that search has distractors."""
    by_birthplace: dict[str, list[str]] = {}
    for p in world["people"]:
        by_birthplace.setdefault(p["birthplace"], []).append(p["name"])
    docs = []
    for t in world["towns"]:
        natives = by_birthplace.get(t["name"], [])
        text = (f"{t['name']} is a town in the province of {t['province']}, on the banks of the "
                f"river {t['river']}. It was founded in {t['founded']}. {t['name']} has a population "
                f"of {t['population']}. The town is known for its trade in {t['export']}.")
        if natives:
            text += f" People born in {t['name']} include {', '.join(natives[:3])}."
        docs.append(Document(slug(t["name"]), t["name"], text))
    for p in world["people"]:
        text = (f"{p['name']} was a {p['profession']} born in {p['born']} in the town of "
                f"{p['birthplace']}.")
        if "invented" in p:
            text += f" {p['name'].split()[0]} is remembered as the inventor of the {p['invented']}."
        if "founded" in p:
            text += f" Later in life {p['name'].split()[1]} founded the {p['founded']}."
        text += rng.choice([" Letters by this author survive in several archives.",
                            " A portrait hangs in the town hall.", " Little is known of the later years.",
                            ""])
        docs.append(Document(slug(p["name"]), p["name"], text))
    for a in world["artifacts"]:
        text = (f"The {a['name']} is {a['kind']}, usually made of {a['material']}. It was invented "
                f"in {a['year']} by {a['inventor']}.")
        docs.append(Document(slug(a["name"]), f"The {a['name']}", text))
    for s in world["societies"]:
        text = (f"The {s['name']} is a learned society with its seat in {s['seat']}. It was founded "
                f"in {s['founded']} by {s['founder']} and today has {s['members']} members.")
        docs.append(Document(slug(s["name"]), f"The {s['name']}", text))
    return docs


def call(name: str, **arguments) -> dict:
    return {"name": name, "arguments": arguments}


def lookup(entity: str) -> list[dict]:
    """The oracle's two calls to read an entity's document: search its name, open the hit."""
    return [call("search", query=entity), call("open", doc_id=slug(entity))]


def qa_tasks(world: dict, rng: random.Random) -> list[dict]:
    towns = {t["name"]: t for t in world["towns"]}
    people = {p["name"]: p for p in world["people"]}
    arts, socs = world["artifacts"], world["societies"]
    tasks = []

    def add(kind, question, answer, oracle, answer_kind):
        hint = "Answer with a number." if answer_kind == "number" else "Answer with the name."
        tasks.append({"kind": kind, "instruction": f"{question} {hint}", "answer": str(answer),
                      "oracle": oracle})

    for t in rng.sample(world["towns"], 24):  # single hop
        q, a = rng.choice([(f"In what year was the town of {t['name']} founded?", t["founded"]),
                           (f"What is the population of {t['name']}?", t["population"]),
                           (f"On which river does {t['name']} lie?", t["river"])])
        add("lookup", q, a, lookup(t["name"]), "number" if isinstance(a, int) else "name")
    for p in rng.sample(world["people"], 24):
        q, a = rng.choice([(f"In which town was {p['name']} born?", p["birthplace"]),
                           (f"In what year was {p['name']} born?", p["born"])])
        add("lookup", q, a, lookup(p["name"]), "number" if isinstance(a, int) else "name")
    for a in rng.sample(arts, 12):
        add("lookup", f"Who invented the {a['name']}?", a["inventor"], lookup(a["name"]), "name")
    for a in rng.sample(arts, 30):  # two and three hops
        inv = people[a["inventor"]]
        home = towns[inv["birthplace"]]
        choice = rng.randrange(3)
        if choice == 0:
            add("multihop", f"In which town was the inventor of the {a['name']} born?", home["name"],
                lookup(a["name"]) + lookup(inv["name"]), "name")
        elif choice == 1:
            add("multihop", f"In what year was the hometown of the inventor of the {a['name']} founded?",
                home["founded"], lookup(a["name"]) + lookup(inv["name"]) + lookup(home["name"]), "number")
        else:
            add("multihop", f"On which river lies the birthplace of the inventor of the {a['name']}?",
                home["river"], lookup(a["name"]) + lookup(inv["name"]) + lookup(home["name"]), "name")
    for s in socs:
        founder = people[s["founder"]]
        if rng.random() < 0.5:
            add("multihop", f"What is the profession of the founder of the {s['name']}?",
                founder["profession"], lookup(s["name"]) + lookup(founder["name"]), "name")
        else:
            seat = towns[s["seat"]]
            add("multihop", f"What is the population of the town where the {s['name']} has its seat?",
                seat["population"], lookup(s["name"]) + lookup(seat["name"]), "number")
    for a in rng.sample(arts, 20):  # lookups followed by arithmetic
        inv = people[a["inventor"]]
        add("lookup_compute", f"How old was the inventor of the {a['name']} when it was invented?",
            a["year"] - inv["born"],
            lookup(a["name"]) + lookup(inv["name"]) + [call("calculator", expression=f"{a['year']} - {inv['born']}")],
            "number")
    for _ in range(20):
        t1, t2 = rng.sample(world["towns"], 2)
        add("lookup_compute", f"What is the combined population of {t1['name']} and {t2['name']}?",
            t1["population"] + t2["population"],
            lookup(t1["name"]) + lookup(t2["name"]) + [call("calculator", expression=f"{t1['population']} + {t2['population']}")],
            "number")
    return tasks


def arithmetic_tasks(rng: random.Random, n: int) -> list[dict]:
    tasks = []
    while len(tasks) < n:
        a, b, c, d = (rng.randint(12, 999) for _ in range(4))
        expr = rng.choice([f"({a} * {b} - {c}) // {d % 40 + 2}", f"{a} ** 2 - {b} * {c} + {d}",
                           f"({a} + {b}) * ({c} - {d})", f"{a} * {b} * {c} % {d + 7}",
                           f"({a} * {b} + {c} * {d}) // ({a % 9 + 2})"])
        value = calculate(expr)
        if Fraction(value).denominator != 1:
            continue
        tasks.append({"kind": "arithmetic", "instruction": f"Compute {expr} (// is integer division, % is remainder). Answer with a number.",
                      "answer": value, "oracle": [call("calculator", expression=expr)]})
    return tasks


PROGRAMS = [
    ("How many prime numbers are there below {n}?",
     "n = {n}\nsieve = bytearray([1]) * n\nsieve[:2] = b'\\x00\\x00'\nfor i in range(2, int(n ** 0.5) + 1):\n"
     "    if sieve[i]:\n        sieve[i*i::i] = bytearray(len(range(i*i, n, i)))\nprint(sum(sieve))",
     lambda r: {"n": r.randint(2000, 60000)}),
    ("What is the sum of the decimal digits of 2 to the power {n}?",
     "print(sum(int(d) for d in str(2 ** {n})))", lambda r: {"n": r.randint(100, 3000)}),
    ("What is the {n}-th Fibonacci number modulo {m}? (F1 = F2 = 1)",
     "a, b = 1, 1\nfor _ in range({n} - 2):\n    a, b = b, (a + b) % {m}\nprint(b % {m})",
     lambda r: {"n": r.randint(50, 5000), "m": r.randint(1000, 99999)}),
    ("How many steps does the Collatz sequence starting at {n} take to reach 1?",
     "n, steps = {n}, 0\nwhile n != 1:\n    n = n // 2 if n % 2 == 0 else 3 * n + 1\n    steps += 1\nprint(steps)",
     lambda r: {"n": r.randint(1000, 999999)}),
    ("How many integers from 1 to {n} are divisible by {a} or by {b}, but not by both?",
     "print(sum(1 for k in range(1, {n} + 1) if (k % {a} == 0) != (k % {b} == 0)))",
     lambda r: {"n": r.randint(1000, 90000), "a": r.randint(3, 17), "b": r.randint(18, 41)}),
    ("How many positive divisors does {n} have?",
     "n = {n}\nprint(sum(1 for d in range(1, int(n ** 0.5) + 1) if n % d == 0 for _ in range(1 if d * d == n else 2)))",
     lambda r: {"n": r.randint(10000, 5000000)}),
]


def python_tasks(rng: random.Random, n: int) -> list[dict]:
    tasks = []
    for i in range(n):
        question, program, params = PROGRAMS[i % len(PROGRAMS)]
        p = params(rng)
        code = program.format(**p)
        out = io.StringIO()
        exec_globals: dict = {"print": lambda *a, _out=out: print(*a, file=_out)}
        exec(code, exec_globals)  # our own generator code, run once to record the answer
        tasks.append({"kind": "python", "instruction": question.format(**p) + " Answer with a number.",
                      "answer": out.getvalue().strip(), "oracle": [call("python", code=code)]})
    return tasks


def verify(tasks: list[dict], docs: list[Document]) -> None:
    """Replay each oracle through the real search/open/calculator tools (python is replayed by
    the test suite through the sandbox) and check that the last result contains the answer."""
    tools = {t.name: t for t in search_tools(SearchIndex(docs))}
    for task in tasks:
        last = None
        for i, c in enumerate(task["oracle"]):
            if c["name"] == "python":
                last = None
                break
            if c["name"] == "calculator":
                last = calculate(c["arguments"]["expression"])
                continue
            last = tools[c["name"]](c["arguments"])
            if c["name"] == "search":
                nxt = task["oracle"][i + 1]["arguments"]["doc_id"]
                if f"[{nxt}]" not in last:
                    raise SystemExit(f"{task['task_id']}: search {c['arguments']} misses {nxt}:\n{last}")
        if last is not None and normalize_answer(task["answer"]) not in normalize_answer(last):
            raise SystemExit(f"{task['task_id']}: answer {task['answer']!r} not in the oracle's last result:\n{last}")


def assign_splits(tasks: list[dict], rng: random.Random) -> None:
    by_kind: dict[str, list[dict]] = {}
    for t in tasks:
        by_kind.setdefault(t["kind"], []).append(t)
    for kind, group in by_kind.items():
        order = list(range(len(group)))
        rng.shuffle(order)
        n_train, n_val = round(len(group) * SPLITS[0][1]), round(len(group) * SPLITS[1][1])
        for rank, idx in enumerate(order):
            group[idx]["split"] = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
        for i, t in enumerate(group):
            t["task_id"] = f"{kind}-{i:03d}"


def write_jsonl_gz(path: Path, records: list[dict]) -> None:
    raw = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records).encode()
    with open(path, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw)


def main() -> None:
    rng = random.Random(SEED)
    world = build_world(rng)
    docs = documents(world, rng)
    tasks = qa_tasks(world, rng) + arithmetic_tasks(rng, 40) + python_tasks(rng, 30)
    assign_splits(tasks, rng)
    verify(tasks, docs)
    OUT.mkdir(parents=True, exist_ok=True)
    write_jsonl_gz(OUT / "corpus.jsonl.gz", [{"id": d.doc_id, "title": d.title, "text": d.text} for d in docs])
    order = ["task_id", "split", "kind", "instruction", "answer", "oracle"]
    write_jsonl_gz(OUT / "tasks.jsonl.gz", [{k: t[k] for k in order} for t in tasks])
    counts: dict[str, int] = {}
    for t in tasks:
        counts[f"{t['kind']}/{t['split']}"] = counts.get(f"{t['kind']}/{t['split']}", 0) + 1
    print(f"{len(docs)} documents, {len(tasks)} tasks: {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main()
