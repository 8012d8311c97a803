"""Issue 8: no process-global state. Two validations in two threads share nothing and both come out right."""

from __future__ import annotations

import threading
from typing import Any

from conftest import SPECS

import yamlnet


def _facts(report: yamlnet.Report) -> dict[str, Any]:
    assert report.ir is not None
    return {
        "ok": report.ok,
        "codes": sorted(d.code for d in report.diagnostics),
        "rows": len(report.ir.nodes),
        "shapes": report.shapes,
    }


def test_two_validations_in_two_threads_give_their_own_results() -> None:
    jobs = {
        "n": (SPECS / "yolov5n.yaml", ["640", "320x192"]),
        "emo": (SPECS / "yolov5-emo.yaml", ["256", "640x384"]),
    }
    alone = {k: _facts(yamlnet.validate(p, imgsz=s)) for k, (p, s) in jobs.items()}
    assert alone["n"]["shapes"] != alone["emo"]["shapes"]

    results: dict[str, list[dict[str, Any]]] = {k: [] for k in jobs}
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(key: str) -> None:
        path, sizes = jobs[key]
        try:
            start.wait()
            for _ in range(3):
                results[key].append(_facts(yamlnet.validate(path, imgsz=sizes)))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    for key in jobs:
        assert results[key] == [alone[key]] * 3, key


def test_caches_belong_to_the_analysis() -> None:
    """What the shape pass and the size search keep lives in the IR, not in module globals."""
    a = yamlnet.validate(SPECS / "yolov5n.yaml", imgsz=["640", "320"], deep=True)
    b = yamlnet.validate(SPECS / "yolov5s.yaml", imgsz="640", deep=True)
    c = yamlnet.validate(SPECS / "yolov5s.yaml", imgsz="650")  # not a multiple of 32: the nearest sizes are searched
    assert a.ir is not None and b.ir is not None and c.ir is not None
    key = ("meta_graph", None, True)  # every row built on meta, once for both sizes
    assert key in a.ir.cache and key in b.ir.cache
    assert a.ir.cache[key] is not b.ir.cache[key]
    assert c.ir.cache["nearest_sizes"] == {650: (640, 672)}
    assert "nearest_sizes" not in b.ir.cache
