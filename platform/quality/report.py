"""recplat's data-quality pages: one summary per validation run, and an index.

Self-contained HTML (inline CSS, charts as inline PNG): it opens from disk, in
a browser without network, or as a CI artifact. Each run page links the GX
Data Docs page the gate rendered for that run.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from recplat.registry.store import MetadataStore
from recplat.registry.tables import ValidationRun

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1b1f24;
max-width:72rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.1rem;margin-top:1.8rem}
.muted{color:#57606a}.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}
.accepted{color:#9a6700;font-weight:600}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
code{background:#f6f8fa;padding:0 .25rem;border-radius:3px}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:1rem;color:#fff;font-weight:600}
.badge.pass{background:#1a7f37;color:#fff}.badge.fail{background:#cf222e;color:#fff}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _result(run: ValidationRun) -> str:
    if not run.success:
        return "<span class='fail'>FAIL</span>"
    if run.accepted_failures:
        return "<span class='accepted'>pass (accepted failures)</span>"
    return "<span class='pass'>pass</span>"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{cell}</td>" if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _failures_table(failures: list[dict[str, Any]]) -> str:
    rows = [
        (
            f"<code>{escape(str(f['rule']))}</code>",
            escape(str(f.get("column") or "")),
            escape(str(f.get("unexpected_count") or "")),
            escape(", ".join(f.get("examples") or [])[:300]),
            escape(str(f.get("detail") or ""))
            + (
                f" <span class='muted'>(drift vs run #{f['drift_baseline_run']})</span>"
                if f.get("drift_baseline_run") is not None
                else ""
            ),
        )
        for f in failures
    ]
    return _table(("rule", "column", "unexpected", "examples", "detail"), rows, {2})


def _stat_rows(
    run: ValidationRun, baseline: ValidationRun | None
) -> list[tuple[str, str, str, str]]:
    current = (run.summary.get("statistics") or {}).get("numeric", {})
    before = ((baseline.summary.get("statistics") or {}).get("numeric", {})) if baseline else {}
    rows = []
    for column, stats in current.items():
        for name in ("mean", "median", "q05", "q95"):
            base = before.get(column, {}).get(name)
            rows.append(
                (
                    escape(column),
                    name,
                    f"{stats[name]:.4g}",
                    "" if base is None else f"{base:.4g}",
                )
            )
    return rows


def _share_rows(run: ValidationRun) -> list[tuple[str, ...]]:
    shares = (run.summary.get("statistics") or {}).get("categorical", {})
    return [
        (escape(column), ", ".join(f"{escape(str(v))}: {w:.1%}" for v, w in pairs[:8]))
        for column, pairs in shares.items()
    ]


def trend_chart(runs: Sequence[ValidationRun]) -> str:
    """An inline PNG of the dataset's key statistics over its recent runs ('' if none)."""
    if not runs:
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(runs, key=lambda r: r.id)
    series: dict[str, list[tuple[int, float]]] = {}
    for run in ordered:
        for column, stats in ((run.summary.get("statistics") or {}).get("numeric", {})).items():
            series.setdefault(f"mean({column})", []).append((run.id, stats["mean"]))
    panels = 1 + len(series)
    fig, axes = plt.subplots(1, panels, figsize=(3.2 * panels, 2.4), squeeze=False)
    ids = [r.id for r in ordered]
    colors = ["#1a7f37" if r.success else "#cf222e" for r in ordered]
    ax = axes[0][0]
    ax.bar([str(i) for i in ids], [r.rows for r in ordered], color=colors)
    ax.set_title("rows per run (red = failed)", fontsize=9)
    for ax, (name, points) in zip(axes[0][1:], series.items(), strict=True):
        ax.plot([str(i) for i, _ in points], [v for _, v in points], marker="o", color="#0969da")
        ax.set_title(name, fontsize=9)
    for ax in axes[0]:
        ax.tick_params(labelsize=7)
        ax.set_xlabel("validation run", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f"<img alt='trend of key statistics' src='data:image/png;base64,{data}'>"


def _status_table(runs: list[ValidationRun], link: str) -> str:
    rows = [
        (
            escape(r.dataset),
            _result(r),
            f"<a href='{link.format(id=r.id)}'>#{r.id}</a>",
            escape(r.stage or ""),
            f"{r.rows:,}",
            str(r.failed_expectations),
            f"{r.created_at:%Y-%m-%d %H:%M:%S}",
        )
        for r in runs
    ]
    return _table(
        ("dataset", "result", "run", "stage", "rows", "failed", "when (UTC)"), rows, {4, 5}
    )


def write_run_page(*, metadata: MetadataStore, root: Path, run_id: int) -> Path:
    """Write `root/run-<id>/index.html` for one validation run; returns its path."""
    run = metadata.validation(run_id=run_id)
    summary = run.summary
    baseline_id = summary.get("baseline_run_id")
    baseline = metadata.validation(run_id=baseline_id) if baseline_id else None
    history = metadata.validations(limit=20, dataset=run.dataset)
    folder = root / f"run-{run.id}"
    folder.mkdir(parents=True, exist_ok=True)
    gx_page = folder / "gx.html"
    badge = "pass" if run.success else "fail"
    parts = [
        f"<h1>Validation run #{run.id}: {escape(run.dataset)} "
        f"<span class='badge {badge}'>{'PASS' if run.success else 'FAIL'}</span></h1>",
        f"<p class='muted'>suite <code>{escape(run.suite)}</code> v{run.suite_version}"
        f" &middot; stage {escape(run.stage or 'manual')}"
        f" &middot; {run.created_at:%Y-%m-%d %H:%M:%S} UTC"
        f" &middot; {run.rows:,} rows &middot; {summary.get('expectations', 0)} expectations"
        f" &middot; {run.seconds:.2f} s</p>",
    ]
    if summary.get("source"):
        parts.append(f"<p>source: <code>{escape(str(summary['source']))}</code></p>")
    if run.quarantine_path:
        parts.append(
            f"<p class='fail'>Rejected: batch and report kept in "
            f"<code>{escape(run.quarantine_path)}</code></p>"
        )
    if gx_page.exists():
        parts.append("<p><a href='gx.html'>Great Expectations Data Docs for this run</a></p>")
    parts.append("<h2>Failed expectations</h2>")
    failures = summary.get("failures") or []
    parts.append(_failures_table(failures) if failures else "<p class='pass'>none</p>")
    if run.accepted_failures:
        parts.append("<h2>Accepted with --allow-failures</h2>")
        parts.append(_failures_table(run.accepted_failures))
    parts.append(
        "<h2>Key statistics</h2>"
        + (
            f"<p class='muted'>baseline: last accepted run #{baseline.id}</p>"
            if baseline
            else "<p class='muted'>no earlier accepted run: this run sets the baseline</p>"
        )
    )
    stats = _stat_rows(run, baseline)
    if stats:
        parts.append(_table(("column", "statistic", "this run", "baseline"), stats, {2, 3}))
    shares = _share_rows(run)
    if shares:
        parts.append(_table(("column", "value shares"), shares, set()))
    parts.append(f"<h2>Trend over recent {escape(run.dataset)} runs</h2>")
    parts.append(trend_chart(history))
    parts.append("<h2>Latest run of every dataset</h2>")
    parts.append(_status_table(metadata.latest_validations(), "../run-{id}/index.html"))
    parts.append("<p><a href='../index.html'>all datasets</a></p>")
    path = folder / "index.html"
    path.write_text(_page(f"recplat quality: run {run.id} ({run.dataset})", "".join(parts)))
    return path


def write_index(*, metadata: MetadataStore, root: Path) -> Path:
    """Write `root/index.html` (pass/fail per dataset, trends, recent runs) and the run pages."""
    root.mkdir(parents=True, exist_ok=True)
    latest = metadata.latest_validations()
    recent = metadata.validations(limit=50)
    for run in {r.id: r for r in [*latest, *recent]}.values():
        write_run_page(metadata=metadata, root=root, run_id=run.id)
    failing = [r for r in latest if not r.success]
    parts = [
        "<h1>recplat data quality</h1>",
        f"<p class='{'fail' if failing else 'pass'}'>"
        + (
            f"{len(failing)} of {len(latest)} datasets failing"
            if failing
            else f"all {len(latest)} datasets passing"
        )
        + "</p>",
        "<h2>Latest run of every dataset</h2>",
        _status_table(latest, "run-{id}/index.html"),
    ]
    for run in latest:
        parts.append(f"<h2>{escape(run.dataset)}: trend</h2>")
        parts.append(trend_chart(metadata.validations(limit=20, dataset=run.dataset)))
    parts.append("<h2>Recent validation runs</h2>")
    parts.append(_status_table(recent, "run-{id}/index.html"))
    path = root / "index.html"
    path.write_text(_page("recplat data quality", "".join(parts)))
    return path
