"""The fidelity report: JSON (what the gates read), Markdown, a self-contained HTML page, PNG plots.

Plots use matplotlib's Agg backend (no display needed). The HTML embeds the PNGs as base64 so
the page can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

REPORT_SCHEMA = "segue-fidelity-v1"


def _plt():  # noqa: ANN202 (matplotlib's pyplot module)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_reliability(responses: dict[str, Any], path: Path) -> Path:
    """One reliability diagram per response: observed rate vs mean prediction per equal-count bin."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(responses), figsize=(4 * len(responses), 4), squeeze=False)
    for ax, (name, block) in zip(axes[0], responses.items()):
        curve = block["reliability"]
        x, y, se = (np.array(curve[k]) for k in ("mean_pred", "observed", "se"))
        top = max(float(np.max(x)), float(np.max(y + 2 * se)), 0.05) * 1.1
        ax.plot([0, top], [0, top], color="grey", lw=1, ls="--")
        ax.errorbar(x, y, yerr=2 * se, fmt="o", ms=4, capsize=2)
        ax.set(
            xlim=(0, top),
            ylim=(0, top),
            xlabel="mean prediction",
            ylabel="observed rate",
            title=f"{name}\nECE {block['ece']:.3f} (null p95 {block['ece_null_p95']:.3f})",
        )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_skip_curve(mssd: dict[str, Any], path: Path) -> Path:
    """Simulated vs MSSD skip_2 rate by session position, with 2-SE bands."""
    plt = _plt()
    obs, sim = mssd["observed"], mssd["simulated"]
    pos = np.arange(1, len(obs["skip_2_by_position"]) + 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    for stats, label, color in ((obs, "MSSD mini", "black"), (sim, "simulated", "tab:blue")):
        y, se = np.array(stats["skip_2_by_position"]), np.array(stats["skip_2_by_position_se"])
        ax.plot(pos, y, "o-", color=color, ms=4, label=label)
        ax.fill_between(pos, y - 2 * se, y + 2 * se, color=color, alpha=0.15)
    ax.set(xlabel="session position", ylabel="skip_2 rate", title="skip_2 by position (bands: 2 SE)", xticks=pos)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _gate_lines(section: dict[str, Any]) -> list[str]:
    lines = ["| gate | verdict | detail |", "| --- | --- | --- |"]
    lines += [f"| {g['gate']} | {'PASS' if g['passed'] else 'FAIL'} | {g['detail']} |" for g in section["gates"]]
    return lines


def _response_lines(responses: dict[str, Any]) -> list[str]:
    lines = [
        "| response | n | model log-loss [95% CI] | best baseline (log-loss) | gain [95% CI] | AUC | Brier "
        "| ECE / null p95 | mean pred / obs |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, b in responses.items():
        ll, gain = b["log_loss_ci"], b["log_loss_gain_ci"]
        best = b["baselines"][b["best_baseline"]]
        lines.append(
            f"| {name} | {b['n']} | {b['log_loss']:.4f} [{ll[0]:.4f}, {ll[1]:.4f}] | {b['best_baseline']} "
            f"({best['log_loss']:.4f}) | {b['log_loss_gain']:.4f} [{gain[0]:.4f}, {gain[1]:.4f}] | {b['auc']:.3f} "
            f"| {b['brier']:.4f} | {b['ece']:.4f} / {b['ece_null_p95']:.4f} | {b['mean_pred']:.4f} / "
            f"{b['mean_obs']:.4f} |"
        )
    lines += [
        "",
        "Baselines (held-out log-loss / AUC / ECE):",
        "",
        "| response | " + " | ".join(next(iter(responses.values()))["baselines"]) + " |",
        "| --- |" + " --- |" * len(next(iter(responses.values()))["baselines"]),
    ]
    for name, b in responses.items():
        cells = [f"{m['log_loss']:.4f} / {m['auc']:.3f} / {m['ece']:.4f}" for m in b["baselines"].values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _mssd_lines(mssd: dict[str, Any]) -> list[str]:
    obs, sim = mssd["observed"], mssd["simulated"]
    lines = ["| statistic | MSSD | simulated |", "| --- | --- | --- |"]
    for name in obs["rates"]:
        lines.append(f"| overall {name} | {obs['rates'][name]:.4f} | {sim['rates'][name]:.4f} |")
    for key in ("premium_skip_2", "free_skip_2", "premium_gap", "last_track_skip_2"):
        lines.append(f"| {key} | {obs[key]:.4f} | {sim[key]:.4f} |")
    for p, (o, s, se) in enumerate(
        zip(obs["skip_2_by_position"], sim["skip_2_by_position"], obs["skip_2_by_position_se"]), start=1
    ):
        lines.append(f"| skip_2 at position {p} | {o:.4f} (SE {se:.4f}) | {s:.4f} |")
    for length, (o, s) in enumerate(zip(obs["length_share"], sim["length_share"]), start=10):
        lines.append(f"| share of sessions with {length} tracks | {o:.4f} | {s:.4f} |")
    return lines


def write_report(report: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write report.json, report.md, report.html and plots/*.png under `out`; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "plots").mkdir(exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    paths["json"].write_text(json.dumps(report, indent=1, sort_keys=False))
    plots: list[Path] = []
    md = [f"# Segue fidelity report ({report['schema']})", "", report["data_note"], ""]
    for name, section in report["sections"].items():
        md += [
            f"## {name}: {section['description']}",
            "",
            f"Verdict: **{'PASS' if section['passed'] else 'FAIL'}**",
            "",
            *_gate_lines(section),
            "",
        ]
        if "responses" in section:
            md += [
                "### Held-out response metrics",
                "",
                *_response_lines(section["responses"]),
                "",
                f"Leave hazard: {section['leave_hazard']}.",
                "",
            ]
            plots.append(plot_reliability(section["responses"], out / "plots" / f"{name}_reliability.png"))
            md += [f"![reliability](plots/{plots[-1].name})", ""]
        if "mssd" in section:
            md += [
                f"Logging policy: {section['logging_policy']}.",
                "",
                "### MSSD statistics",
                "",
                *_mssd_lines(section["mssd"]),
                "",
            ]
            plots.append(plot_skip_curve(section["mssd"], out / "plots" / f"{name}_skip_curve.png"))
            md += [f"![skip curve](plots/{plots[-1].name})", ""]
        md += [
            "### Fitted parameters",
            "",
            "```",
            *(f"{k}: {v:.6g}" for k, v in section["fitted_parameters"].items()),
            "```",
            "",
        ]
    paths["md"].write_text("\n".join(md))
    paths["html"].write_text(_html("\n".join(md), out))
    return paths


def _html(markdown: str, out: Path) -> str:
    """A minimal Markdown-to-HTML rendering (headings, tables, code, images inlined as base64)."""
    import html

    body, in_table, in_code = [], False, False
    for line in markdown.splitlines():
        if line.startswith("```"):
            body.append("</pre>" if in_code else "<pre>")
            in_code = not in_code
            continue
        if in_code:
            body.append(html.escape(line))
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= {"-", " "}:
                continue
            tag = "th" if not in_table else "td"
            body.append(
                ("<table>" if not in_table else "")
                + "<tr>"
                + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells)
                + "</tr>"
            )
            in_table = True
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("!["):
            src = line[line.index("(") + 1 : -1]
            data = base64.b64encode((out / src).read_bytes()).decode()
            body.append(f'<img src="data:image/png;base64,{data}" style="max-width:100%">')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line:
            body.append(f"<p>{html.escape(line).replace('**', '')}</p>")
    if in_table:
        body.append("</table>")
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}"
    )
    head = f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head>"
    return f"{head}<body>{''.join(body)}</body></html>"
