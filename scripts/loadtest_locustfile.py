"""Locust users for scripts/loadtest.py, which runs this file headless from .bench-venv (it
imports nothing of landmap). The plan (LOADTEST_PLAN, a JSON file the script writes) names
the servers, the tokens, the zones' extent, parcel codes, searches, projects and the parcels
that may be written; at the end every request (kind, status, ms, error) and every write (its
parcel, what it set, the answer) go to the plan's `out` file, which the script reads.

A user browses the map as a browser does, from a view centre that pans now and then: tiles of
a random zoom 12-18 around it, gzip accepted, revalidated with the ETag it got before. Users are
spread round-robin over the plan's servers (two machines behind a balancer). A write takes a
parcel out of a pool shared by the users, so no two users write one parcel at once: each write
is valid (one stage forward, or a dispute flagged or cleared, dated today in China), and the
parcel goes back to the pool with its new state only when the write was acknowledged.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import time
from pathlib import Path

from locust import HttpUser, between, events, task

PLAN = json.loads(Path(os.environ["LOADTEST_PLAN"]).read_text(encoding="utf-8"))
HOSTS = PLAN["hosts"]
FLOW = PLAN["workflow"]
DAY = PLAN["day"]
LON0, LAT0, LON1, LAT1 = PLAN["bbox"]
POOL = [tuple(w) for w in PLAN["writable"]]  # (code, stage, dispute), one user's at a time
random.shuffle(POOL)
_users = itertools.count()

REQUESTS: list[list] = []  # [kind, status, ms, error or None]
ACKED: list[dict] = []  # acknowledged writes
UNACKED: list[dict] = []  # writes whose answer was not an acknowledgement
STATE = {"started": None, "stopped": None, "cpu_warnings": 0}


@events.request.add_listener
def _record(name, response_time, response, exception, **_kw) -> None:
    status = getattr(response, "status_code", 0) or 0
    error = None
    if exception is not None and not status:  # no HTTP answer: a connection failure
        error = f"{type(exception).__name__}: {str(exception)[:90]}"
    REQUESTS.append([name, status, response_time, error])


@events.test_start.add_listener
def _started(**_kw) -> None:
    STATE["started"] = time.time()


@events.test_stop.add_listener
def _stopped(**_kw) -> None:
    STATE["stopped"] = time.time()


@events.cpu_warning.add_listener
def _cpu(**_kw) -> None:
    STATE["cpu_warnings"] += 1


@events.quitting.add_listener
def _write_out(**_kw) -> None:
    stopped = STATE["stopped"] or time.time()
    seconds = stopped - (STATE["started"] or stopped)
    out = {"requests": REQUESTS, "acked": ACKED, "unacknowledged": UNACKED,
           "seconds": seconds, "cpu_warnings": STATE["cpu_warnings"]}  # fmt: skip
    Path(PLAN["out"]).write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


class Officer(HttpUser):
    """An office's user: browses (70% tiles, 15% parcels, 5% searches, 5% progress) and
    writes (5%), 1-3 s between requests."""

    wait_time = between(1, 3)
    host = HOSTS[0]

    def __init__(self, environment) -> None:
        index = next(_users)
        self.host = HOSTS[index % len(HOSTS)]
        super().__init__(environment)
        tokens = PLAN["tokens"]
        officer = tokens["officer"][index % len(tokens["officer"])]
        reader = officer if index % 2 == 0 else tokens["viewer"][index % len(tokens["viewer"])]
        self.read_auth = {"Authorization": f"Bearer {reader}"}
        self.write_auth = {"Authorization": f"Bearer {officer}"}
        self.centre = (random.uniform(LON0, LON1), random.uniform(LAT0, LAT1))
        self.etags: dict[str, str] = {}

    def _pan(self) -> None:
        lon, lat = self.centre
        lon += random.uniform(-0.05, 0.05) * (LON1 - LON0)
        lat += random.uniform(-0.05, 0.05) * (LAT1 - LAT0)
        self.centre = (min(max(lon, LON0), LON1), min(max(lat, LAT0), LAT1))

    @task(70)
    def tile(self) -> None:
        if random.random() < 0.3:
            self._pan()
        z = random.randint(12, 18)
        x, y = tile_of(*self.centre, z)
        x, y = x + random.randint(-1, 1), y + random.randint(-1, 1)  # a tile of the view
        path = f"/tiles/parcels/{z}/{x}/{y}.pbf"
        headers = {**self.read_auth, "Accept-Encoding": "gzip, deflate"}
        if path in self.etags:
            headers["If-None-Match"] = self.etags[path]
        resp = self.client.get(path, headers=headers, name=f"tile z{z}")
        if resp.status_code in (200, 204) and resp.headers.get("ETag"):
            self.etags[path] = resp.headers["ETag"]

    @task(15)
    def parcel(self) -> None:
        code = random.choice(PLAN["read_codes"])
        self.client.get(f"/api/parcels/{code}", headers=self.read_auth, name="parcel")

    @task(5)
    def search(self) -> None:
        q = random.choice(PLAN["queries"])
        self.client.get("/api/search", params={"q": q}, headers=self.read_auth, name="search")

    @task(5)
    def progress(self) -> None:
        projects = PLAN["projects"]
        project = projects[0] if random.random() < 0.6 else random.choice(projects)
        path = f"/api/projects/{project}/progress"
        self.client.get(path, headers=self.read_auth, name="progress")

    @task(5)
    def write(self) -> None:
        if not POOL:
            return
        code, stage, dispute = POOL.pop()
        if stage != FLOW[-1] and random.random() < 0.6:
            kind, value = "stage", FLOW[FLOW.index(stage) + 1]
            body = {"stage": value, "date": DAY, "note": "loadtest"}
            after = (value, dispute)
        else:
            kind, value = "dispute", not dispute
            body = {"dispute": value, "date": DAY, "reason": "loadtest: 补偿标准争议"}
            after = (stage, value)
        resp = self.client.post(
            f"/api/parcels/{code}/{kind}", json=body, headers=self.write_auth, name=kind
        )
        answer = None
        if resp.status_code == 201:
            try:
                answer = resp.json()
            except ValueError:
                answer = None
        if isinstance(answer, dict) and answer.get("change_set"):
            ACKED.append({"code": code, "kind": kind, "value": value,
                          "change_set": answer["change_set"], "stage_after": after[0],
                          "dispute_after": after[1], "status": resp.status_code})  # fmt: skip
            POOL.insert(random.randrange(len(POOL) + 1), (code, *after))
        else:  # not acknowledged: its outcome is unknown, the parcel is not written again
            UNACKED.append({"code": code, "kind": kind, "value": value,
                            "status": resp.status_code, "answer": resp.text[:300]})  # fmt: skip
