"""The evaluation report: `report.html` (self-contained), `report.md` and `report.json`.

`write_report` renders one `Comparison` (plus an optional off-policy section) into a folder:

    report.html   one file: tables and every plot embedded as base64 PNG; opens offline
    report.md     the same tables, linking the PNGs in plots/
    report.json   machine-readable, schema below
    plots/*.png   the figures

report.json schema ("segue-evaluation/1"; `evaluation.json` of a training run is the same
object without ``off_policy``). Every interval ``{mean, low, high}`` is a 95% percentile
bootstrap over sessions (scipy.stats.bootstrap, 2,000 resamples):

    schema               "segue-evaluation/1"
    settings             sessions, seed, reference ("policy"), baselines [names], objectives
                         [names, reward-vector order], weights {objective: w}, surface,
                         slate_size, max_steps, simulator_version {segue,
                         simulator_config_sha256}, seconds (wall time of the rollouts + stats)
    policies.<name>      label (display name; the oracle's is "oracle (upper reference)"),
                         <objective> and total (scalarized) and satisfaction / business
                         (weighted group sums): {mean, low, high} per session;
                         session_length (slates), tracks, artist_diversity (distinct artists
                         per track in a session): {mean, low, high}; catalog_coverage (share of
                         catalog items played at least once); skip_rate_by_position [float |
                         null] (early-skip share of tracks started at session position
                         1, 2, ...; null below 50 plays)
    paired_differences.<baseline>.<metric>
                         {mean, low, high} of the per-session difference reference - baseline
                         on the same users (metrics: objectives, total, satisfaction, business)
    pareto_front         names not dominated in (satisfaction, business) mean, ascending
                         satisfaction; pareto_front_deployable: the same without the oracle
    constraint           absent, or (constrained runs) objective, floor, per ("track started"),
                         shares.<name> {mean, low, high} (per-track ratio, paired bootstrap),
                         verdict of the policy: "holds" (CI >= floor) | "violated" (CI < floor)
                         | "not distinguishable"
    off_policy           null, or the OBD check of `agents.evaluation.obd.random_policy_report`:
                         data, target, logging, truth, min_propensity, confidence, campaigns
                         [{campaign, items, random_rows, random_clicks, bts_rows, bts_clicks,
                         clipped_rows, on_policy {estimator, value, low, high, n, clipped},
                         estimates {ips | snips | direct_method | doubly_robust: same fields}}]
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import numpy as np

from agents.evaluation import plots
from agents.evaluation.evaluator import REFERENCE, Comparison
from agents.evaluation.stats import BUSINESS, SATISFACTION, TOTAL, verdict
from agents.export import atomic_write_bytes, atomic_write_json
from simulators import OBJECTIVE_NAMES

REPORT_FILES = ("report.html", "report.md", "report.json")

#: (title, header, rows) of one table, shared by the HTML and Markdown renderings.
Table = tuple[str, list[str], list[list[str]]]


def format_ci(row: dict[str, float], digits: int = 2) -> str:
    """An interval {mean, low, high} as "mean [low, high]"."""
    return f"{row['mean']:.{digits}f} [{row['low']:.{digits}f}, {row['high']:.{digits}f}]"


def _tables(report: dict[str, Any]) -> list[Table]:
    """(title, header, rows) of every table, shared by the HTML and Markdown renderings."""
    policies = report["policies"]
    keys = [TOTAL, *OBJECTIVE_NAMES, "satisfaction", "business"]
    tables = [(
        "Per-session return by objective: mean [95% CI]",
        ["policy", *keys],
        [[row["label"], *(format_ci(row[k]) for k in keys)] for row in policies.values()],
    )]
    tables.append((
        f"Paired difference {REFERENCE} - baseline on the same users: mean [95% CI]",
        ["baseline", *keys, "verdict (total)"],
        [[policies[name]["label"], *(format_ci(diff[k]) for k in keys), verdict(diff[TOTAL])]
         for name, diff in report["paired_differences"].items()],
    ))
    tables.append((
        "Sessions and catalog",
        ["policy", "session length (slates)", "tracks", "artist diversity", "catalog coverage",
         "skip rate, track 1", "skip rate, track 10"],
        [[row["label"], format_ci(row["session_length"]), format_ci(row["tracks"], 1),
          format_ci(row["artist_diversity"], 3), f"{row['catalog_coverage']:.3f}",
          *(_rate(row["skip_rate_by_position"], p) for p in (0, 9))]
         for row in policies.values()],
    ))
    constraint = report.get("constraint")
    if constraint:
        tables.append((
            f"Constraint: {constraint['objective']} per track started >= {constraint['floor']:g} "
            f"(policy: {constraint['verdict']})",
            ["policy", "share per track [95% CI]", "meets the floor"],
            [[policies[name]["label"], format_ci(share, 3),
              "yes" if share["low"] >= constraint["floor"] else ("no" if share["high"] < constraint["floor"] else "?")]
             for name, share in constraint["shares"].items()],
        ))
    section = report.get("off_policy")
    if section:
        names = list(section["campaigns"][0]["estimates"])
        tables.append((
            "Off-policy check on real logs (OBD): uniform-random click rate in %, mean [95% CI]",
            ["campaign", "on-policy (random logs)", *(f"{n} (BTS logs)" for n in names), "BTS rows clipped"],
            [[c["campaign"], _pct(c["on_policy"]), *(_pct(c["estimates"][n]) for n in names),
              f"{c['clipped_rows']} of {c['bts_rows']}"] for c in section["campaigns"]],
        ))
    return tables


def _rate(rates: list[float | None], position: int) -> str:
    return "n/a" if position >= len(rates) or rates[position] is None else f"{rates[position]:.3f}"


def _pct(e: dict[str, Any]) -> str:
    return f"{100 * e['value']:.3f} [{100 * e['low']:.3f}, {100 * e['high']:.3f}]"


def _figures(comparison: Comparison, report: dict[str, Any]) -> dict[str, tuple[str, bytes]]:
    """file stem -> (caption, PNG bytes)."""
    weights = np.array([report["settings"]["weights"][n] for n in OBJECTIVE_NAMES])
    labels = {name: row["label"] for name, row in report["policies"].items()}
    figures = {
        "objectives": ("Per-objective comparison with 95% CIs", plots.objective_comparison(report)),
        "paired_differences": ("Paired differences of the policy to each baseline (scalarized total)",
                               plots.paired_differences(report, REFERENCE)),
        "return_distribution": ("Distribution of session returns",
                                plots.return_distribution(comparison.outcomes, weights, labels)),
        "skip_by_position": ("Skip rate by position", plots.skip_by_position(report)),
        "objective_space": ("Policies in objective space with the Pareto front", plots.objective_space(report)),
    }
    if report.get("off_policy"):
        figures["off_policy"] = ("Off-policy estimates on OBD vs on-policy truth",
                                  plots.off_policy(report["off_policy"]))
    return figures


def _notes(report: dict[str, Any]) -> list[str]:
    s = report["settings"]
    notes = [
        f"{s['sessions']:,} simulated sessions per policy, seed {s['seed']}: every policy meets the same users, "
        "candidate sets and random streams (common random numbers), so differences are paired per session.",
        f"Surface {s['surface']}, slate size {s['slate_size']}, at most {s['max_steps']} slates per session; "
        f"simulator config sha256 {s['simulator_version']['simulator_config_sha256'][:12]}.",
        "Scalarized total = sum of objectives weighted by " + ", ".join(f"{k} {v:g}" for k, v in s["weights"].items())
        + f"; satisfaction = weighted {', '.join(SATISFACTION)}; business = weighted {', '.join(BUSINESS)}.",
        "95% percentile bootstrap CIs (scipy). 'oracle (upper reference)' reads the hidden user state and is not "
        "deployable; it shows how much headroom is left.",
        f"Pareto front (all): {', '.join(report['pareto_front'])}; without the oracle: "
        f"{', '.join(report.get('pareto_front_deployable', []))}.",
    ]
    chosen = report.get("selection")
    if chosen:
        entries = {entry["timesteps"]: entry for entry in chosen["validations"]}
        first, last, best = entries[min(entries)], entries[max(entries)], entries[chosen["selected_timesteps"]]
        baseline = chosen["baseline"]["name"]
        guards = ", ".join(chosen["guardrails"])
        if not guards:
            guard = ""
        elif best["guardrail_shortfall"] == 0:
            guard = f", among those {chosen['guardrail_se']:g} SE or more above {baseline} on {guards}"
        else:
            guard = f"; none was {chosen['guardrail_se']:g} SE above {baseline} on {guards}, this one came closest"
        notes.append(
            f"The policy is the checkpoint at {best['timesteps']:,} of {last['timesteps']:,} timesteps: the best "
            f"served ranking of {len(entries)} validations on {chosen['sessions']:,} other users "
            f"(seed {chosen['seed']}){guard}. "
            f"Validation scalarized total: {first['scalarized']:.2f} at {first['timesteps']:,}, "
            f"{best['scalarized']:.2f} selected, {last['scalarized']:.2f} at the end ({baseline} "
            f"{chosen['baseline']['scalarized']:.2f})."
            + (
                f" Its share of the constrained objective per track there: {best['constraint_share']:.3f}."
                if "constraint_share" in best
                else ""
            )
        )
    section = report.get("off_policy")
    if section:
        notes.append(
            f"Off-policy: {section['target']} estimated from {section['logging']}; truth = {section['truth']}. "
            f"Logging propensities below {section['min_propensity']:g} are clipped to it before weighting (the "
            "dataset README advises clipping); rows are single slot impressions (no slate ids), so the estimates "
            "are per-slot IPS (= independent IPS per slot), SNIPS, DM and DR. Few clicks: a pipeline check, not "
            "a precise measurement."
        )
    return notes


def render_html(title: str, notes: list[str], tables: list[Table], figures: dict[str, tuple[str, bytes]]) -> str:
    """One self-contained page: notes, tables (title, header, rows), figures embedded as base64."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;margin:24px;max-width:1500px;color:#222}"
        "table{border-collapse:collapse;margin:8px 0 20px;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child,th:first-child{text-align:left}"
        "th{background:#f0f0f0}img{max-width:100%;border:1px solid #ddd;margin:6px 0 18px}"
        "figcaption{font-size:12px;color:#555}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>",
    ]
    for caption, header, rows in tables:
        parts.append(f"<h2>{esc(caption)}</h2><table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
        parts.extend("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
        parts.append("</table>")
    parts.append("<h2>Plots</h2>")
    for stem, (caption, png) in figures.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<figure><img id="plot-{stem}" alt="{esc(caption)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{esc(caption)}</figcaption></figure>")
    # Lets a headless browser (and the tests) confirm that every embedded image decoded.
    parts.append(
        "<script>window.addEventListener('load',function(){var imgs=document.images,ok=0;"
        "for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0){ok++;}}"
        "document.body.setAttribute('data-images-decoded',ok+'/'+imgs.length);});</script>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def render_markdown(title: str, notes: list[str], tables: list[Table], figures: dict[str, tuple[str, bytes]]) -> str:
    """The same content as `render_html`, linking the PNGs in plots/."""
    lines = [f"# {title}", "", *(f"- {n}" for n in notes), ""]
    for caption, header, rows in tables:
        lines += [f"## {caption}", "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    lines += ["## Plots", ""]
    lines += [f"![{caption}](plots/{stem}.png)\n" for stem, (caption, _) in figures.items()]
    return "\n".join(lines)


def write_report(
    comparison: Comparison, out_dir: Path, title: str, off_policy: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write report.html, report.md, report.json and plots/ to `out_dir`; returns the JSON payload."""
    out_dir = Path(out_dir)
    report = dict(comparison.summary)
    report["off_policy"] = off_policy
    figures = _figures(comparison, report)
    for stem, (_, png) in figures.items():
        atomic_write_bytes(out_dir / "plots" / f"{stem}.png", png)
    atomic_write_json(out_dir / "report.json", report)
    notes, tables = _notes(report), _tables(report)
    atomic_write_bytes(out_dir / "report.md", render_markdown(title, notes, tables, figures).encode())
    atomic_write_bytes(out_dir / "report.html", render_html(title, notes, tables, figures).encode())
    return report
