"""learning.json → the Markdown table the README shows, and the PNG plot."""

from __future__ import annotations

from pathlib import Path

TARGET_GAIN = 0.15
FORGETTING_MARGIN = 0.02


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _ci(p: dict | None) -> str:
    if not p:
        return "-"
    return f"{p['diff']:+.3f} [{p['ci_low']:+.3f}, {p['ci_high']:+.3f}] (n={p['n']}, +{p['better']}/−{p['worse']})"


def _targets(r: dict) -> list[str]:
    out = []
    g = r.get("gain_detail")
    if g:
        p = g["paired"]
        ok = r["gain"] >= TARGET_GAIN and p["ci_low"] > 0
        out.append(f"- held-out overall after {len(r['cycles'])} cycles ≥ base + {TARGET_GAIN} with the paired "
                   f"interval above 0: **{'reached' if ok else 'not reached'}** (gain {r['gain']:+.3f}, interval "
                   f"{p['ci_low']:+.3f}..{p['ci_high']:+.3f}"
                   + ("" if ok else f"; short by {max(0.0, TARGET_GAIN - r['gain']):.3f}") + ")")
    comp = r["ablation"]["comparisons"].get("filtered_vs_raw")
    if comp:
        d = comp["overall"]
        out.append(f"- filtered beats unfiltered: **{'yes' if d['ci_low'] > 0 else 'not shown'}** "
                   f"(paired {_ci(d)})")
    worst = [v["diff"] for v in r["ablation"]["forgetting_vs_base"].values()]
    worst += [c["diff"] for c in r["forgetting"]["cycles_general_vs_champion"] if c]
    if worst:
        w = min(worst)
        out.append(f"- forgetting ≤ {FORGETTING_MARGIN * 100:.0f} points on the general set: "
                   f"**{'yes' if w >= -FORGETTING_MARGIN else 'no'}** (largest drop {w:+.3f})")
    return out


def markdown(r: dict) -> str:
    c, m, t = r["choices"], r["machine"]["start"], r["timing"]
    lines = [
        "# Learning benchmark (`make bench-learning`)",
        "",
        f"{'**Quick mode (tiny random model): plumbing only, the numbers mean nothing.** ' if c['quick'] else ''}"
        f"Base `{Path(c['base_model']).name}`, specialist `{c['specialist']}`, {m['cpus_usable']} CPU cores "
        f"({m['cpu']}), load average at start {m['loadavg_1_5_15']}; {t['total_s'] / 60:.0f} min in all "
        f"(cycles {t.get('cycles_s', 0) / 60:.0f} min, ablation {t.get('ablation_s', 0) / 60:.0f} min).",
        "",
        "## Targets",
        "",
        *_targets(r),
        "",
        f"## {len(r['cycles'])} cycles through the bus (scratch clone, {c['step']} commits of history apart)",
        "",
        "| cycle | head | new commits | dataset (new+replay) | tokens | loss first→last | from | held-out overall "
        "| vs champion, paired [95% CI] | general vs champion | decision |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["cycles"]:
        lines.append(
            f"| {row['cycle']} | `{row['head']}` | {row['commits']} "
            f"| {row['dataset']} ({row['new']}+{row['replayed']}) "
            f"| {row['tokens'] or '-'} | {_f(row['first_loss'])}→{_f(row['train_loss'])} | {row['parent'] or '-'} "
            f"| {_f(row['candidate'])} (champion {_f(row['champion'])}) | {_ci(row['vs_champion'])} "
            f"| {_ci(row['general'])} | {row['decision']} |")
    g = r.get("gain_detail")
    if g:
        lines += ["", f"**Gain** (last cycle's candidate − base, paired on the same held-out prompts): "
                      f"{g['base_overall']:.3f} → {g['last_candidate_overall']:.3f}, {_ci(g['paired'])}.", ""]
        cats = sorted(g["base_categories"])
        lines += ["| category | base | " + " | ".join(f"cycle {row['cycle']} [95% CI]" for row in r["cycles"]) + " |",
                  "|---|---|" + "---|" * len(r["cycles"])]
        for cat in cats:
            cells = []
            for row in r["cycles"]:
                iv = (row.get("categories") or {}).get(cat)
                cells.append(f"{iv['mean']:.2f} [{iv['ci_low']:.2f}, {iv['ci_high']:.2f}]" if iv else "-")
            lines.append(f"| {cat} | {g['base_categories'][cat]:.2f} | " + " | ".join(cells) + " |")
    stages = [row.get("stages_s") or {} for row in r["cycles"]]
    if any(stages):
        total = sum(sum(s.values()) for s in stages) or 1.0
        names = ["harvest", "judge", "train", "eval", "decide"]
        share = {n: sum(s.get(n, 0.0) for s in stages) / total for n in names}
        lines += ["", "Share of the cycles' wall time per stage (from the events' timestamps): "
                  + ", ".join(f"{n} {share[n]:.0%}" for n in names) + "."]
    a = r["ablation"]
    lines += [
        "", f"## Ablation: {c['max_steps']} training steps per arm, the same base, scored on the same prompts",
        "", f"Stage 1 = mined at `{a['meta']['stage_heads'][0]}` ({a['meta']['mined'][0]} examples, judge kept "
            f"{a['meta']['judged'][0]}); stage 2 = at `{a['meta']['stage_heads'][1]}` ({a['meta']['stage2_new']} new "
            f"in the corpus, snapshot {a['meta']['stage2_snapshot']}).",
        "", "| arm | what | rows | tokens | held-out overall | vs base, paired [95% CI] | general vs base |",
        "|---|---|---|---|---|---|---|",
        f"| base | the bare base model | - | - | {_f(a['scores']['base']['held_out']['overall'])} | - | - |",
    ]
    for name, arm in a["arms"].items():
        lines.append(f"| {name} | {arm['what']} | {arm['rows']} | {arm['train']['tokens']} "
                     f"| {_f(a['scores'][name]['held_out']['overall'])} | {_ci(a['vs_base'][name]['overall'])} "
                     f"| {_ci(a['forgetting_vs_base'][name])} |")
    lines += ["", "| comparison | paired difference [95% CI] | sign test p |", "|---|---|---|"]
    for name, comp in a["comparisons"].items():
        p = comp["overall"]["p_two_sided"]
        lines.append(f"| {name.replace('_vs_', ' vs ')} | {_ci(comp['overall'])} | {p:.3g} |")
    k = r["contamination"]
    lines += [
        "", "## Contamination",
        "", f"{k['rows_checked']} training rows (every row of every dataset trained on above) against "
            f"{', '.join(f'{n} ({v} items)' for n, v in k['held_out'].items())}, {k['held_out_note']}: "
            f"**{k['rows_above_threshold']} above the threshold {k['threshold']}**; largest overlap "
            f"{k['max_overlap']:.3f}. Measure: {k['measure']}.",
        "", "| dataset | rows | rows sharing any n-gram | above threshold | max overlap (item) |",
        "|---|---|---|---|---|",
    ]
    for name, d in k["datasets"].items():
        lines.append(f"| {name} | {d['rows']} | {d['rows_sharing_any_ngram']} | {d['rows_above_threshold']} "
                     f"| {d['max_overlap']:.3f} ({d['max_overlap_item'] or '-'}) |")
    lines += ["", "## Choices (the CPU budget)", "", "| knob | value | what |", "|---|---|---|"]
    for key, why in c["knobs"].items():
        lines.append(f"| {key} | {c[key]} | {why} |")
    lines += [
        f"| held-out suite | {c['held_out_suite']['prompts']} prompts of `{c['held_out_suite']['name']}` "
        f"| scorers {c['held_out_suite']['scorers']} |",
        f"| general set | {c['general_suite']['prompts']} prompts | scorers {c['general_suite']['scorers']} |",
        "| promotion gate | the specialist file's, unchanged | as in production (shared/specialists.yaml) |",
        "| schedules | off | no cron harvest or training during the measurement |",
        "", "![learning](learning.png)", "",
    ]
    return "\n".join(lines)


def plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    rows = r["cycles"]
    xs = [row["cycle"] for row in rows]
    g = r.get("gain_detail")
    if g:
        left.axhline(g["base_overall"], color="grey", linestyle="--", label="base")
    left.plot(xs, [row["candidate"] or 0 for row in rows], marker="o", label="candidate (held-out overall)")
    for row in rows:
        iv = row.get("vs_champion")
        if iv and row["candidate"] is not None:
            left.errorbar(row["cycle"], row["candidate"], yerr=[[-(iv["ci_low"] - iv["diff"])],
                                                                [iv["ci_high"] - iv["diff"]]], color="C0", capsize=3)
        left.annotate(row["decision"], (row["cycle"], row["candidate"] or 0), textcoords="offset points",
                      xytext=(0, 8), ha="center", fontsize=8)
    left.set_xticks(xs)
    left.set_xlabel("cycle")
    left.set_ylabel("held-out overall")
    left.set_title("cycles through the bus")
    left.legend(fontsize=8)
    a = r["ablation"]
    names = ["base", *a["arms"]]
    vals = [a["scores"][n]["held_out"]["overall"] for n in names]
    errs = [[0.0, 0.0]] + [[-(a["vs_base"][n]["overall"]["ci_low"] - a["vs_base"][n]["overall"]["diff"]),
                            a["vs_base"][n]["overall"]["ci_high"] - a["vs_base"][n]["overall"]["diff"]]
                           for n in a["arms"]]
    right.bar(names, vals, yerr=list(zip(*errs, strict=True)), capsize=3, color=["grey"] + ["C1"] * len(a["arms"]))
    right.set_title(f"ablation at {r['choices']['max_steps']} steps (error: paired 95% CI vs base)")
    right.set_ylabel("held-out overall")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


README_BEGIN = "<!-- learning:begin (written by benchmarks/bench_learning.py) -->"
README_END = "<!-- learning:end -->"


def readme_summary(r: dict) -> str:
    """The short table the README shows between its markers (the full one is learning.md)."""
    c, m, a = r["choices"], r["machine"]["start"], r["ablation"]
    lines = [f"Last run: {m['cpus_usable']} cores ({m['cpu']}), load average {m['loadavg_1_5_15'][0]} at start, "
             f"{r['timing']['total_s'] / 60:.0f} min; base `{Path(c['base_model']).name}`, {c['max_steps']} steps per "
             f"training, {c['held_out_suite']['prompts']} held-out + {c['general_suite']['prompts']} general prompts, "
             f"{c['max_new_tokens']} new tokens (all choices: `benchmarks/results/learning.md`).", "",
             "| what | held-out overall | paired difference [95% CI] |", "|---|---|---|"]
    g = r.get("gain_detail")
    if g:
        lines.append(f"| base → after {len(r['cycles'])} cycles (decisions: "
                     f"{', '.join(row['decision'] for row in r['cycles'])}) | {g['base_overall']:.3f} → "
                     f"{g['last_candidate_overall']:.3f} | {_ci(g['paired'])} |")
    for name, comp in a["comparisons"].items():
        x, y = name.split("_vs_")
        lines.append(f"| ablation: {x} vs {y} | {a['scores'][x]['held_out']['overall']:.3f} vs "
                     f"{a['scores'][y]['held_out']['overall']:.3f} | {_ci(comp['overall'])} |")
    k = r["contamination"]
    lines += ["", *_targets(r), f"- contamination: {k['rows_above_threshold']} of {k['rows_checked']} training rows "
              f"above the threshold {k['threshold']} (largest overlap {k['max_overlap']:.3f})", "",
              "![learning](benchmarks/results/learning.png)"]
    return "\n".join(lines)


def update_readme(readme: Path, r: dict) -> bool:
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        return False
    readme.write_text(text[:start + len(README_BEGIN)] + "\n" + readme_summary(r) + "\n" + text[end:], encoding="utf-8")
    return True
