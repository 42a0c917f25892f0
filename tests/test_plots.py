"""Figure helpers with logic of their own (the figures themselves are drawn by the smoke DAG)."""

import json

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from physlm import results
from physlm.engine.figures import save_figure
from physlm.reasoning.finding3_mistakes import _roc
from physlm.reasoning.mistakes import auroc


def test_roc_curve_steps_through_the_scores_and_its_area_is_the_auroc():
    fpr, tpr = _roc(pd.Series([0, 0, 1, 1]), pd.Series([0.1, 0.2, 0.3, 0.4]))
    assert (fpr, tpr) == ([0.0, 0.0, 0.0, 0.5, 1.0], [0.0, 0.5, 1.0, 1.0, 1.0])
    rng = np.random.default_rng(0)
    wrong, score = pd.Series(rng.random(200) < 0.3), pd.Series(rng.integers(0, 6, 200).astype(float))
    fpr, tpr = _roc(wrong, score)  # ties: flagged together, a diagonal segment, as the AUROC counts half
    area = float(np.sum(np.diff(fpr) * (np.array(tpr[1:]) + np.array(tpr[:-1])) / 2))
    assert area == pytest.approx(auroc(wrong.to_numpy(), score.to_numpy()))


def test_curves_of_a_later_stage_follow_the_steps_of_the_stages_before():
    from physlm.engine.training_figure import through_stages

    curves = pd.DataFrame(
        {
            "seed": 0,
            "data": "clean",
            "stage": [1, 1, 2, 2, 3],
            "step": [50, 100, 40, 80, 10],
            "accuracy": 0.0,
        }
    )
    shifted = through_stages(curves, ["seed", "data"])
    assert shifted.sort_values(["stage", "step"])["step"].tolist() == [50, 100, 140, 180, 190]


def test_a_figure_drawn_by_the_figure_step_says_its_scale_and_the_code_of_its_tables(tmp_path, monkeypatch):
    tables = {}
    for name, commit in (("a", "1234567"), ("b", "89abcde-dirty"), ("c", None)):
        tables[name] = tmp_path / f"{name}.parquet"
        pd.DataFrame({"x": [1]}).to_parquet(tables[name])
        if commit:
            (tmp_path / f"{name}.parquet.provenance.json").write_text(json.dumps({"commit": commit}))
    assert results.code_of(tables) == "1234567, 89abcde-dirty, unknown"

    figures = []

    def plot(a, b, c, outputs):  # a figure function, as physlm.plots' are
        figures.append(plt.figure())
        save_figure(figures[-1], outputs)

    monkeypatch.setattr(results, "resolve", lambda spec: plot)
    footer = "scale smoke · 40 people"
    results.draw(plot="physlm.x:y", tables=tables, outputs=[tmp_path / "f.png"], footer=footer)
    assert [t.get_text() for t in figures[0].texts] == [f"{footer} · code 1234567, 89abcde-dirty, unknown"]
    assert (tmp_path / "f.png").stat().st_size > 0
    save_figure(fig := plt.figure(), [tmp_path / "g.png"])  # outside the figure step: no footer
    assert fig.texts == []


def test_the_footer_lies_below_a_legend_placed_under_the_axes(tmp_path):
    from physlm.engine.figures import footer

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="a run")
    legend = fig.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0))  # hangs below the figure
    with footer("scale smoke"):
        save_figure(fig, [tmp_path / "f.png"])
    assert fig.texts[0].get_window_extent().y1 <= legend.get_window_extent().y0


def test_training_runs_are_named_by_their_identity_columns_but_the_seed():
    from physlm.engine.training_figure import run_names

    logs = pd.DataFrame(
        {
            "step": [1, 1],
            "loss": [2.0, 3.0],
            "grad_norm": [0.5, 0.4],
            "variant": ["single", "multi5"],
            "seed": [0, 1],
        }
    )
    # the seed is not part of the name: a model's seeds share one colour and one legend entry
    assert run_names(logs).tolist() == ["variant single", "variant multi5"]


def test_a_models_seeds_share_a_colour_and_one_legend_entry(monkeypatch, tmp_path):
    from physlm.engine import training_figure

    drawn = []
    monkeypatch.setattr(training_figure, "save_figure", lambda fig, outputs: drawn.append(fig))
    logs = pd.DataFrame(
        {
            "step": [1, 2] * 4,
            "loss": [2.0, 1.0] * 4,
            "variant": ["single"] * 4 + ["multi5"] * 4,
            "seed": [0, 0, 1, 1] * 2,
        }
    )
    training_figure.plot_training(logs, [tmp_path / "t.png"])
    loss_lines = drawn[0].axes[0].get_lines()
    assert len(loss_lines) == 4  # one line per model and seed
    assert len({line.get_color() for line in loss_lines}) == 2  # one colour per model
    assert [t.get_text() for t in drawn[0].legends[0].get_texts()] == ["variant multi5", "variant single"]
    assert "2 models x 2 seeds" in drawn[0]._suptitle.get_text()


def test_a_second_identity_column_is_drawn_as_line_style_so_colours_stay_few(monkeypatch, tmp_path):
    from physlm.engine import training_figure

    drawn = []
    monkeypatch.setattr(training_figure, "save_figure", lambda fig, outputs: drawn.append(fig))
    tasks = ["forward", "inverse_all", "parity"]
    logs = pd.DataFrame(
        {
            "step": [1, 2] * 6,
            "loss": [2.0, 1.0] * 6,
            "variant": ["multi5_permute"] * 6 + ["multi5_permute_reverse"] * 6,
            "task": [task for task in tasks for _ in range(2)] * 2,
            "seed": 0,
        }
    )
    training_figure.plot_training(logs, [tmp_path / "t.png"])
    lines = drawn[0].axes[0].get_lines()
    assert len(lines) == 6  # one per (variant, task)
    assert len({line.get_color() for line in lines}) == 3  # one colour per task
    styles = {line.get_color(): set() for line in lines}
    for line in lines:
        styles[line.get_color()].add(line.get_linestyle())
    # each task solid for one variant, dashed for the other
    assert all(s == {"-", "--"} for s in styles.values())
    legend = [t.get_text() for t in drawn[0].legends[0].get_texts()]
    variants = ["variant multi5_permute", "variant multi5_permute_reverse"]
    assert legend == [*(f"task {t}" for t in tasks), *variants]
    assert "Training of the t domain's 6 models" in drawn[0]._suptitle.get_text()


def test_a_measure_no_run_logged_leaves_its_panel_empty_and_says_so(tmp_path):
    from physlm.engine.training_figure import plot_training

    old = pd.DataFrame({"step": [10, 20], "loss": [2.0, 1.0], "lr": [1e-3, 1e-4], "seed": [0, 0]})
    plot_training(old, [tmp_path / "t.png"])  # a log from before the gradient norm was logged
    assert (tmp_path / "t.png").stat().st_size > 0


def test_finding5_values_sit_inside_tall_bars_and_clear_of_the_dot_above_a_short_one(monkeypatch, tmp_path):
    from physlm.knowledge import finding5_one_way

    drawn = []
    monkeypatch.setattr(finding5_one_way, "save_figure", lambda fig, outputs: drawn.append(fig))
    rows = [
        ("forward", "test", 0.93, 0.04),
        ("forward", "train", 1.00, 0.04),  # tall bar: its value goes inside, below the dot
        ("inverse_all", "test", 0.02, 0.002),
        ("inverse_all", "train", 0.07, 0.002),  # short bar with its QA-train dot just above it
    ]
    metrics = pd.DataFrame(rows, columns=["task", "split", "accuracy", "chance"]).assign(
        variant="multi5_permute", seed=0
    )
    finding5_one_way.plot_manipulation(metrics, [tmp_path / "m.png"])
    labels = {t.get_text(): t.get_position()[1] for t in drawn[0].axes[0].texts}
    assert labels["0.93"] < 0.93  # inside the bar
    assert labels["0.02"] > 0.07  # above the dot, not on it


def test_training_loss_axis_labels_are_plain_numbers(monkeypatch, tmp_path):
    from physlm.engine import training_figure

    drawn = []
    monkeypatch.setattr(training_figure, "save_figure", lambda fig, outputs: drawn.append(fig))
    logs = pd.DataFrame({"step": [1, 2, 3], "loss": [4.6, 0.5, 0.28], "seed": [0, 0, 0]})
    training_figure.plot_training(logs, [tmp_path / "training_math.png"])
    axis = drawn[0].axes[0].yaxis
    drawn[0].canvas.draw()
    low, high = axis.get_view_interval()
    labels = [
        t.get_text() for t in axis.get_ticklabels() if t.get_text() and low <= t.get_position()[1] <= high
    ]
    assert len(labels) >= 3, labels  # 0.5, 1, 2: more than the one decade mark in range
    assert all("e" not in label for label in labels), labels  # 0.3, not 3e-01
    assert drawn[0].axes[3].texts[0].get_text() == "not logged by these runs"  # no grad norm, no reason given
    held_out = drawn[0].axes[1].texts[0].get_text()
    assert "math_curves" in held_out and "capacity" not in held_out
    assert drawn[0]._suptitle.get_text().startswith("Training of the math domain's 1 model")


def test_a_later_curriculum_stage_is_drawn_after_the_one_before(monkeypatch, tmp_path):
    from physlm.engine import training_figure

    drawn = []
    monkeypatch.setattr(training_figure, "save_figure", lambda fig, outputs: drawn.append(fig))
    logs = pd.DataFrame(
        {"step": [50, 100, 50, 100], "loss": [2.0, 1.0, 0.8, 0.6], "stage": [1, 1, 2, 2], "seed": 0}
    ).assign(data="clean")
    training_figure.plot_training(logs, [tmp_path / "training_math.png"])
    steps = sorted(x for line in drawn[0].axes[0].lines for x in line.get_xdata())
    assert steps == [50, 100, 150, 200]


def test_the_capacity_figure_draws_all_bits_in_the_data_for_every_setting_and_titles_what_it_plots(
    monkeypatch, tmp_path
):
    from physlm.knowledge import finding1_capacity

    drawn = []
    monkeypatch.setattr(finding1_capacity, "save_figure", lambda fig, outputs: drawn.append(fig))
    rows = [  # one setting's only model is below 0 bits: its data's line is still drawn
        ("bioS", 100, 50, "2x16", 1e4, 5e3, 0.5, 4e4, q) for q in ("none", "int8", "int4")
    ] + [("bioS", 1000, 50, "2x16", 1e4, -20.0, -0.002, 4e5, q) for q in ("none", "int8", "int4")]
    metrics = pd.DataFrame(
        rows,
        columns=[
            "data",
            "n",
            "exposures",
            "size",
            "parameters",
            "bits",
            "bits_per_parameter",
            "data_bits",
            "quantization",
        ],
    )
    finding1_capacity.plot_capacity(metrics, [tmp_path / "c.png"])
    bits, right = drawn[0].axes[:2]
    dash_dot = sorted(
        line.get_ydata()[0] for line in bits.lines if line.get_linestyle() == "-." and len(line.get_ydata())
    )
    assert dash_dot == [4e4, 4e5]
    low, high = bits.get_ylim()
    assert low < 4e4 and high > 4e5
    assert "1 model at or below 0 bits not drawn" in bits.get_title()
    assert right.get_title() == "Bits per parameter under weight quantization"


def test_capacity_bars_far_below_zero_are_cut_with_their_value_written():
    import matplotlib.pyplot as plt

    from physlm.knowledge.finding1_capacity import _clip_and_label

    fig, ax = plt.subplots()
    ax.bar([0, 1, 2], [0.4, 0.38, -7.25])
    _clip_and_label(ax)
    bottom, top = ax.get_ylim()
    assert -7.25 < bottom < 0 and top > 0.4  # the int8 bar is not shrunk to nothing by the int4 one
    texts = {t.get_text(): t.get_position()[1] for t in ax.texts}
    assert set(texts) == {"0.40", "0.38", "-7.2\ncut"}
    assert texts["-7.2\ncut"] == bottom  # written at the cut, inside the axes
    plt.close(fig)

    # With no bar above zero there is nothing to keep readable: nothing is cut.
    fig, ax = plt.subplots()
    ax.bar([0, 1], [-0.7, -0.1])
    _clip_and_label(ax)
    assert ax.get_ylim()[0] <= -0.7
    assert {t.get_text() for t in ax.texts} == {"-0.70", "-0.10"}
    plt.close(fig)


def test_the_decision_figure_pools_seeds_by_their_steps_and_shows_attention_of_both_models(
    monkeypatch, tmp_path
):
    from physlm.reasoning import decision, plots

    def seed_table(seed: int, ends_early: float, steps_early: int) -> pd.DataFrame:
        steps = pd.DataFrame(
            {
                "problem": range(steps_early + 1),
                "op": 2,
                "step": 1,
                "steps": 2,
                "last": [False] * steps_early + [True],
                "asked": "stated",
                "p_end": [ends_early] * steps_early + [0.9],
            }
        )
        looks = pd.concat(
            [
                steps.assign(layer=1, part="question", share=0.25),
                steps.assign(layer=1, part="this step", share=0.75),
            ]
        )
        parts = [decision.summarize(steps, looks).assign(model=m) for m in ("trained", "random init")]
        return pd.concat(parts).assign(seed=seed)

    # seed 0: 1 early step that ends; seed 1: 3 early steps that do not: pooled 1 of 4, not (1 + 0) / 2
    table = pd.concat([seed_table(0, 0.9, 1), seed_table(1, 0.1, 3)], ignore_index=True)
    drawn = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, outputs: drawn.append(fig))
    plots.plot_decision(table, [tmp_path / "d.png"])
    left, right = drawn[0].axes
    lines = {line.get_label(): line.get_ydata() for line in left.get_lines()}
    assert list(lines[plots.DECISION_KINDS[(False, "stated")]]) == [0.25]
    assert list(lines[plots.DECISION_KINDS[(True, "stated")]]) == [1.0]
    drawn_lines = [line for line in right.get_lines() if len(line.get_xdata())]
    assert sorted(line.get_linestyle() for line in drawn_lines) == [
        "-",
        "-",
        "--",
        "--",
    ]  # 2 kinds x 2 models
    assert all(list(line.get_ydata()) == [0.25] for line in drawn_lines)  # the question's share


def _capture(monkeypatch, module) -> list:
    drawn = []
    monkeypatch.setattr(module, "save_figure", lambda fig, outputs: drawn.append(fig))
    return drawn


def test_vprobe_values_are_written_clear_of_the_papers_diamonds(monkeypatch, tmp_path):
    from physlm.reasoning import finding4_planning as f4

    drawn = _capture(monkeypatch, f4)
    paper = f4.VPROBE_ACCURACY["trained"]["nece"]
    rows = [("nece", "trained", paper - 0.02), ("nece", "random init", 0.5)]  # on top: where the diamond is
    vprobes = pd.DataFrame(rows, columns=["task", "model", "accuracy"]).assign(majority=0.7, seed=0)
    f4.plot_vprobes(vprobes, [tmp_path / "v.png"])
    ax = drawn[0].axes[0]
    scatters = [c for c in ax.collections if isinstance(c, matplotlib.collections.PathCollection)]
    diamonds = [y for c in scatters for _, y in c.get_offsets()]
    values = [t.get_position()[1] for t in ax.texts]
    assert diamonds and all(abs(v - d) > 0.05 for v in values for d in diamonds)
    assert [t.get_color() for t in ax.texts] == ["white", "white"]  # inside bars
    f4.plot_vprobes(vprobes.assign(accuracy=0.0), [tmp_path / "v.png"])
    assert [t.get_color() for t in drawn[1].axes[0].texts] == ["black", "black"]  # no bar to be white on


def test_mistake_roc_legends_sit_below_their_panels(monkeypatch, tmp_path):
    from physlm.reasoning import finding3_mistakes as f3

    drawn = _capture(monkeypatch, f3)
    sets = ["random parameter", "random parameter, balanced", f3.OWN]
    scores = pd.DataFrame(
        [
            (s, d, w, 0.3 + 0.4 * w + 0.01 * i)
            for s in sets
            for d in f3.DETECTORS
            for i, w in enumerate([0, 1, 0, 1])
        ],
        columns=["set", "detector", "wrong", "score"],
    )
    mistakes = scores.groupby(["set", "detector"]).size().rename("n").reset_index().assign(auroc=0.9)
    f3.plot_mistake_roc(scores, mistakes, [tmp_path / "r.png"])
    fig = drawn[0]
    fig.canvas.draw()
    for ax in fig.axes:
        box, legend = ax.get_window_extent(), ax.get_legend().get_window_extent()
        assert legend.y1 < box.y0  # wholly below the axes: it covers no curve


def test_decoding_k_labels_stay_inside_the_axes(monkeypatch, tmp_path):
    from physlm.reasoning import finding3_mistakes as f3

    drawn = _capture(monkeypatch, f3)
    rows = [(f"best of {k}", k, 0.0, 40.0 * k) for k in (1, 2, 4, 8)] + [("greedy", 1, 0.0, 40.0)]
    f3.plot_decoding(
        pd.DataFrame(rows, columns=["strategy", "k", "accuracy", "tokens"]), [tmp_path / "d.png"]
    )
    fig = drawn[0]
    fig.canvas.draw()
    ax = fig.axes[0]
    box = ax.get_window_extent()
    for label in ax.texts:
        extent = label.get_window_extent()
        assert extent.y0 >= box.y0, label.get_text()  # not down among the tick labels


def test_p_probing_names_its_colour_scale_and_rank(monkeypatch, tmp_path):
    from physlm.knowledge import finding2_probing as f2
    from physlm.knowledge.templates import ATTRIBUTES

    drawn = _capture(monkeypatch, f2)
    probes = pd.DataFrame(
        [("P", "single", m, k, a, 0.5, 0.3, 2) for m in f2.MODELS for k in (1, 2) for a in ATTRIBUTES],
        columns=["probe", "variant", "model", "position", "attribute", "accuracy", "majority", "rank"],
    )
    f2.plot_p_probing(probes, [tmp_path / "p.png"])
    fig = drawn[0]
    assert "rank-2 embedding update" in fig._suptitle.get_text()
    colour_bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert colour_bars and all(ax.get_ylabel() == "held-out probe accuracy" for ax in colour_bars)


def test_finding5_short_bar_values_are_in_their_bars_colour_not_chance_black(monkeypatch, tmp_path):
    from physlm.knowledge import finding5_one_way

    drawn = _capture(monkeypatch, finding5_one_way)
    rows = [("inverse_all", "test", 0.0, 0.1), ("inverse_all", "train", 0.0, 0.1)]
    metrics = pd.DataFrame(rows, columns=["task", "split", "accuracy", "chance"]).assign(
        variant="single", seed=0
    )
    finding5_one_way.plot_manipulation(metrics, [tmp_path / "m.png"])
    ax = drawn[0].axes[0]
    (label,) = [t for t in ax.texts if t.get_text() == "0.00"]
    bar = ax.patches[0].get_facecolor()
    assert matplotlib.colors.to_rgba(label.get_color())[:3] == pytest.approx(bar[:3])
    assert label.get_position()[1] < 0.1  # by its bar, under the chance tick it is not


def test_math_curves_tell_coinciding_lines_apart_and_name_the_stage_boundary(monkeypatch, tmp_path):
    from physlm.reasoning import plots

    drawn = _capture(monkeypatch, plots)
    measures = [("greedy", "op 1"), ("greedy", "op 2"), ("greedy, letters free", "op 1")]
    measures += [("greedy, letters free", "op 2"), ("teacher-forced", "name"), ("teacher-forced", "letter")]
    measures += [
        ("decision", "end"),
        ("decision", "go on, asked stated"),
        ("decision", "go on, asked abstract"),
    ]
    curves = pd.DataFrame(
        [(0, "clean", stage, step, m, g, 0.0) for stage in (1, 2) for step in (50, 100) for m, g in measures],
        columns=["seed", "data", "stage", "step", "measure", "group", "accuracy"],
    )
    plots.plot_math_curves(curves, [tmp_path / "c.png"])
    left, right = drawn[0].axes[:2]
    ops = [line for line in left.lines if line.get_label() in ("op 1", "op 2")]
    assert len({line.get_marker() for line in ops}) == 2  # both at 0 all along: the markers differ
    roles = [line for line in right.lines if line.get_linestyle() != ":" and len(line.get_xdata()) > 1]
    assert len({line.get_marker() for line in roles}) == 2
    assert "a later curriculum stage begins" in [t.get_text() for t in left.get_legend().get_texts()]
    decision = drawn[0].axes[2]
    assert sorted(t.get_text() for t in decision.get_legend().get_texts()) == [
        "end",
        "go on, asked abstract",
        "go on, asked stated",
    ]


def test_mixed_curves_draw_each_measure_and_split_per_variant_from_the_values_not_the_loss(
    monkeypatch, tmp_path
):
    from physlm.knowledge import finding2_pretraining

    drawn = []
    monkeypatch.setattr(finding2_pretraining, "save_figure", lambda fig, outputs: drawn.append(fig))
    rows = [
        {"variant": v, "seed": 0, "step": step, "measure": m, "split": s, "value": value}
        for v in ("multi5_permute", "single")
        for step, value in ((100, 0.25), (200, 0.75))
        for m in ("QA accuracy", "bio recall")
        for s in ("train", "test")
    ]
    loss = [
        {
            "variant": "single",
            "seed": 0,
            "step": 100,
            "measure": "QA answer loss, held-out people",
            "loss": 3.0,
        }
    ]
    finding2_pretraining.plot_mixed_curves(pd.DataFrame(rows + loss), [tmp_path / "c.png"])
    axes = drawn[0].axes
    assert [ax.get_title() for ax in axes] == ["mixed training, single", "mixed training, multi5_permute"]
    data_lines = [line for line in axes[0].lines if list(line.get_xdata()) == [100, 200]]
    assert len(data_lines) == 4 and all(list(line.get_ydata()) == [0.25, 0.75] for line in data_lines)
    # the paper's held-out QA after mixed training on each variant is drawn in its own panel only
    assert any(list(line.get_ydata()) == [0.866, 0.866] for line in axes[0].lines)
    assert not any(list(line.get_ydata()) == [0.866, 0.866] for line in axes[1].lines)
    assert any(list(line.get_ydata()) == [0.955, 0.955] for line in axes[1].lines)
    assert [ax.get_legend() for ax in axes] == [None, None] and len(drawn[0].legends) == 1
