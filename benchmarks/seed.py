"""Fill a client store with many realistic records fast (bulk SQL), for benchmarks.

Each record is checked by the form engine once per template; the variations only change free text and dates,
so every stored record is still valid.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from pathlib import Path

from client.store.db import connect, open_store
from client.store.formset import FormSet
from client.store.keys import load_key
from client.store.records import search_text, summarize
from client.store.search import cjk_bigrams
from forms.engine import evaluate
from forms.periods import record_period

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
PLACES = [
    "教学楼一层",
    "教学楼三层",
    "学生宿舍",
    "食堂后厨",
    "锅炉房",
    "操场东侧",
    "校门口",
    "实验室",
    "图书室",
    "配电房",
]
PROBLEMS = [
    "灭火器压力不足",
    "电线裸露老化",
    "楼梯扶手松动",
    "消防通道堵塞",
    "围墙出现裂缝",
    "食品留样不全",
    "监控损坏",
]


def _inspection(rnd: random.Random, day: dt.date) -> dict[str, object]:
    hazards = []
    for _ in range(2):
        status = rnd.choice(["open", "in_progress", "rectified"])
        h: dict[str, object] = {
            "category": rnd.choice(["fire", "electrical", "building", "food"]),
            "location": rnd.choice(PLACES),
            "description": rnd.choice(PROBLEMS),
            "severity": rnd.choice(["general", "major"]),
            "measures": "限期整改，专人负责",
            "responsible_person": rnd.choice(SURNAMES) + "老师",
            "deadline": (day + dt.timedelta(days=rnd.randint(1, 20))).isoformat(),
            "status": status,
        }
        if status == "rectified":
            h["rectified_date"] = day.isoformat()
        hazards.append(h)
    return {
        "inspection_date": day.isoformat(),
        "inspection_type": rnd.choice(["routine", "monthly", "pre_holiday"]),
        "inspectors": rnd.choice(SURNAMES)
        + rnd.choice(SURNAMES)
        + "、"
        + rnd.choice(SURNAMES)
        + "明",
        "areas": ["teaching_building", "canteen"],
        "hazards_found": "yes",
        "hazards": hazards,
        "signed_by": rnd.choice(SURNAMES) + "校长",
    }


def seed(
    data_dir: Path,
    count: int,
    *,
    today: dt.date = dt.date(2026, 11, 28),
    seed: int = 7,
    encrypted: bool = True,
) -> None:
    store = open_store(data_dir, encrypted=encrypted)
    store.close()
    form = FormSet.shipped().get("safety_inspection")
    rnd = random.Random(seed)
    # the store's own connection: encrypted with the folder's key (none for a plaintext store)
    con = connect(data_dir / "store.db", load_key(data_dir) if encrypted else None)
    con.execute("PRAGMA journal_mode=WAL")
    start = con.execute("SELECT coalesce(max(rowid), 0) FROM records").fetchone()[0]
    now = dt.datetime(2026, 11, 28, 8, 0)
    records, revisions, outbox, search = [], [], [], []
    for i in range(count):
        day = today - dt.timedelta(days=rnd.randint(0, 700))
        ev = evaluate(form, _inspection(rnd, day), today=today)
        data = ev.data
        rid = str(uuid.UUID(int=rnd.getrandbits(128)))
        rowid = start + i + 1
        stamp = (now - dt.timedelta(minutes=count - i)).isoformat(sep=" ")
        summary = summarize(form, data, {})
        body = json.dumps(data, ensure_ascii=False)
        status = "submitted" if ev.ok else "draft"
        records.append(
            (
                rowid,
                rid,
                form.form_id,
                form.version,
                body,
                status,
                1,
                record_period(form, data),
                day.isoformat(),
                summary,
                stamp,
                stamp,
            )
        )
        revisions.append((rid, 1, form.version, body, status, stamp))
        outbox.append((str(uuid.UUID(int=rnd.getrandbits(128))), rid, 1, stamp))
        text = summary + " " + search_text(form, data, {})
        search.append((rowid, text, cjk_bigrams(text)))
    with con:
        con.executemany(
            "INSERT INTO records (rowid, id, form_id, form_version, data, status, revision, period, record_date, "
            "summary, created_at, updated_at, deleted) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,0)",
            records,
        )
        con.executemany(
            "INSERT INTO record_revisions (record_id, revision, form_version, data, status, deleted, saved_at) "
            "VALUES (?,?,?,?,?,0,?)",
            revisions,
        )
        con.executemany(
            "INSERT INTO outbox (op_id, record_id, revision, kind, created_at) VALUES (?,?,?,'upsert',?)",
            outbox,
        )
        con.executemany(
            "INSERT INTO record_search (rowid, body) VALUES (?,?)", [s[:2] for s in search]
        )
        con.executemany(
            "INSERT INTO record_search_cjk (rowid, body) VALUES (?,?)",
            [(s[0], s[2]) for s in search],
        )
    con.close()
