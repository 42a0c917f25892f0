# Findings 4 and 3 (Parts 2.1, 2.2): models plan before speaking, and know when they are wrong. iGSM
# problems; a model trained on them through a curriculum of stages (each continuing the last), on
# clean data and on retry data at equal tokens; held-out accuracy judged by the checker; V-probes of
# what the clean model knows before it writes; a probe that flags its mistakes; and decoders that
# use that probe or the model's uncertainty, against best of k.
# Layout: <results>/math/data/seed{seed}/ holds the held-out problem sets ({set}.parquet, its labels
# {set}.params.parquet; training problems are drawn while training, none repeated);
# <results>/math/seed{seed}/{data}/stage{stage}/ a model, its training log and its learning curves,
# {data} = clean | retry<q>; the last stage's model is evaluated in <results>/math/seed{seed}/{data}/;
# the clean one is probed and decoded in <results>/math/seed{seed}/.


include: "helpers/math.smk"


# One decoding job per decoder (physlm.reasoning.decoding.DECODERS; best_of runs every k of the config).
DECODERS = ["greedy", "best_of", "probe_retry", "entropy_retry"]


wildcard_constraints:
    stage=r"[1-9][0-9]*",
    set=r"test|probe",
    data=r"clean|retry[0-9.]+",
    decoder="|".join(DECODERS),


rule math_tokenizer:
    output:
        directory("<results>/math/tokenizer"),
    log:
        "<results>/math/logs/tokenizer.log",
    # The math chain starts first: training then V-probing a math model is the DAG's longest
    # chain (docs/performance.md), ahead of the knowledge chain's pretraining (priority 10).
    priority: 20
    conda:
        "../envs/physlm.yaml"
    threads: threads("data")
    resources:
        **cluster_resources("data"),
    params:
        code=code("physlm.reasoning.igsm_sets"),
    shell:
        "physlm igsm-tokenizer --out-dir {output} > {log} 2>&1"


rule math_problems:
    output:
        problems=f"{MATH_DATA}/{{set}}.parquet",
        params=f"{MATH_DATA}/{{set}}.params.parquet",
    log:
        f"{MATH_DATA}/logs/{{set}}.log",
    priority: 20
    conda:
        "../envs/physlm.yaml"
    threads: threads("data")
    resources:
        **cluster_resources("data"),
    params:
        knobs=lambda wildcards: as_json(math_set(wildcards.set)[0]),
        problems=lambda wildcards: as_json(math_set(wildcards.set)[1]),
        code=code("physlm.reasoning.igsm_sets"),
    shell:
        "physlm problems --knobs-config {params.knobs:q} --problems-config {params.problems:q} "
        "--seed {wildcards.seed} --threads {threads} --out {output.problems} "
        "--params-out {output.params} > {log} 2>&1"


rule math_train:
    input:
        unpack(math_start),
        curves=f"{MATH_DATA}/test.parquet",
    output:
        model=directory(f"{MATH_MODEL}/stage{{stage}}/model"),
        log=f"{MATH_MODEL}/stage{{stage}}/train_log.parquet",
        curves=f"{MATH_MODEL}/stage{{stage}}/curves.parquet",
    log:
        f"{MATH_MODEL}/stage{{stage}}/train.log",
    priority: 20
    retries: config["resources"]["train"]["retries"]
    conda:
        "../envs/physlm.yaml"
    threads: threads("train")
    resources:
        **cluster_resources("train"),
    params:
        start=lambda wildcards, input: (
            f"--tokenizer-dir {input.tokenizer}"
            if "tokenizer" in input.keys()
            else f"--init-dir {input.init}"
        ),
        model=lambda wildcards: (
            model_option(config["math"]["model"])(wildcards)
            if wildcards.stage == "1"
            else ""
        ),
        lora="",
        training=lambda wildcards: as_json(
            {
                **config["math"]["training"],
                "steps": STAGES[int(wildcards.stage) - 1]["steps"],
            }
        ),
        data=math_stage_data,
        options=lambda wildcards, input, output: (
            ("" if config["math"]["solution_only"] else "--loss-on-all ")
            + f"--curve-problems {input.curves} "
            + f"--curves-per-op {config['math']['curves']['problems_per_op']} "
            + f"--curves-out {output.curves} --curves-identity {shlex.quote(identity(wildcards))}"
        ),
        checkpoint=in_results(f"{MATH_MODEL}/stage{{stage}}/checkpoint.pt"),
        code=code("physlm.reasoning.train"),
    shell:
        TRAIN


rule math_evaluate:
    input:
        model=LAST_STAGE,
        problems=f"{MATH_DATA}/test.parquet",
    output:
        accuracy=f"{MATH_MODEL}/accuracy.parquet",
        solutions=f"{MATH_MODEL}/solutions.parquet",
    log:
        f"{MATH_MODEL}/evaluate.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("evaluate")
    resources:
        **cluster_resources("evaluate"),
    params:
        train_max_op=STAGES[-1]["max_op"],
        batch_size=config["math"]["evaluate"]["batch_size"],
        identity=identity,
        code=code("physlm.reasoning.solutions"),
    shell:
        "physlm evaluate-math --model-dir {input.model} --problems {input.problems} "
        "--train-max-op {params.train_max_op} --batch-size {params.batch_size} "
        "--threads {threads} --identity {params.identity:q} --out {output.accuracy} "
        "--solutions-out {output.solutions} > {log} 2>&1"


rule math_vprobe:
    input:
        model=CLEAN_MODEL,
        problems=f"{MATH_DATA}/probe.parquet",
        params=f"{MATH_DATA}/probe.params.parquet",
    output:
        f"{MATH_RUN}/vprobes.parquet",
    log:
        f"{MATH_RUN}/vprobe.log",
    priority: 20
    conda:
        "../envs/physlm.yaml"
    threads: threads("evaluate")
    resources:
        **cluster_resources("evaluate"),
    params:
        model=as_json(config["math"]["model"]),
        vprobe=as_json(config["math"]["vprobe"]),
        identity=identity,
        code=code("physlm.reasoning.vprobe"),
    shell:
        "physlm vprobe --model-dir {input.model} --model-config {params.model:q} "
        "--vprobe-config {params.vprobe:q} --problems {input.problems} --params {input.params} "
        "--seed {wildcards.seed} --threads {threads} --identity {params.identity:q} "
        "--out {output} > {log} 2>&1"


rule math_attention:
    input:
        model=CLEAN_MODEL,
        problems=f"{MATH_DATA}/probe.parquet",
        params=f"{MATH_DATA}/probe.params.parquet",
    output:
        f"{MATH_RUN}/attention.parquet",
    log:
        f"{MATH_RUN}/attention.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("evaluate")
    resources:
        **cluster_resources("evaluate"),
    params:
        model=as_json(config["math"]["model"]),
        problems=config["math"]["attention_problems"],
        identity=identity,
        code=code("physlm.reasoning.attention"),
    shell:
        "physlm math-attention --model-dir {input.model} --model-config {params.model:q} "
        "--problems {input.problems} --params {input.params} --count {params.problems} "
        "--seed {wildcards.seed} --threads {threads} --identity {params.identity:q} "
        "--out {output} > {log} 2>&1"


rule math_decision:
    input:
        model=CLEAN_MODEL,
        problems=f"{MATH_DATA}/test.parquet",
        params=f"{MATH_DATA}/test.params.parquet",
    output:
        f"{MATH_RUN}/decision.parquet",
    log:
        f"{MATH_RUN}/decision.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("evaluate")
    resources:
        **cluster_resources("evaluate"),
    params:
        model=as_json(config["math"]["model"]),
        identity=identity,
        code=code("physlm.reasoning.decision"),
    shell:
        "physlm math-decision --model-dir {input.model} --model-config {params.model:q} "
        "--problems {input.problems} --params {input.params} "
        "--seed {wildcards.seed} --threads {threads} --identity {params.identity:q} "
        "--out {output} > {log} 2>&1"


rule math_mistakes:
    input:
        model=CLEAN_MODEL,
        problems=f"{MATH_DATA}/probe.parquet",
        params=f"{MATH_DATA}/probe.params.parquet",
        test=f"{MATH_DATA}/test.parquet",
        test_params=f"{MATH_DATA}/test.params.parquet",
        solutions=f"{MATH_RUN}/clean/solutions.parquet",
    output:
        table=f"{MATH_RUN}/mistakes.parquet",
        scores=f"{MATH_RUN}/mistake_scores.parquet",
        probe=f"{MATH_RUN}/mistake_probe.pt",
    log:
        f"{MATH_RUN}/mistakes.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("evaluate")
    resources:
        **cluster_resources("evaluate"),
    params:
        model=as_json(config["math"]["model"]),
        probe=as_json(config["math"]["mistakes"]),
        identity=identity,
        code=code("physlm.reasoning.mistakes"),
    shell:
        "physlm mistake-probe --model-dir {input.model} --model-config {params.model:q} "
        "--probe-config {params.probe:q} --probe-problems {input.problems} "
        "--probe-params {input.params} --test-problems {input.test} --test-params {input.test_params} "
        "--solutions {input.solutions} "
        "--seed {wildcards.seed} --threads {threads} --identity {params.identity:q} "
        "--out {output.table} --scores-out {output.scores} --probe-out {output.probe} > {log} 2>&1"


rule math_decode:
    input:
        model=CLEAN_MODEL,
        problems=f"{MATH_DATA}/test.parquet",
        # only probe retry reads the mistake probe; the other decoders start once the model is trained
        probe=lambda wildcards: (
            f"{MATH_RUN}/mistake_probe.pt".format(**wildcards)
            if wildcards.decoder == "probe_retry"
            else []
        ),
        # greedy decoding is what math_evaluate did: its judged solutions are read, not written again
        greedy=lambda wildcards: (
            f"{MATH_RUN}/clean/solutions.parquet".format(**wildcards)
            if wildcards.decoder == "greedy"
            else []
        ),
    output:
        table=f"{MATH_RUN}/decoding/{{decoder}}.parquet",
        solutions=f"{MATH_RUN}/decoding/{{decoder}}_solutions.parquet",
    log:
        f"{MATH_RUN}/decoding/{{decoder}}.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("evaluate")
    resources:
        **cluster_resources("evaluate"),
    params:
        decoding=as_json(config["math"]["decoding"]),
        probe=lambda wildcards, input: (
            f"--probe {input.probe} --probe-config {shlex.quote(as_json(config['math']['mistakes']))}"
            if input.probe
            else ""
        ),
        greedy=lambda wildcards, input: (
            f"--greedy-solutions {input.greedy}" if input.greedy else ""
        ),
        identity=identity,
        code=code("physlm.reasoning.decoding"),
    shell:
        "physlm decode --decoder {wildcards.decoder} --model-dir {input.model} "
        "--decoding-config {params.decoding:q} {params.probe} {params.greedy} "
        "--problems {input.problems} "
        "--seed {wildcards.seed} --threads {threads} --identity {params.identity:q} "
        "--out {output.table} --solutions-out {output.solutions} > {log} 2>&1"


MATH_CURVES = "<results>/math/curves.parquet"
MATH_ATTENTION = "<results>/math/attention.parquet"
MATH_DECISION = "<results>/math/decision.parquet"
MATH_ACCURACY = "<results>/math/accuracy.parquet"
VPROBES = "<results>/math/vprobes.parquet"
MISTAKES = "<results>/math/mistakes.parquet"
MISTAKE_SCORES = "<results>/math/mistake_scores.parquet"
DECODING = "<results>/math/decoding.parquet"
TABLES[MATH_ACCURACY] = [
    f"<results>/math/seed{seed}/{data}/accuracy.parquet"
    for seed in SEEDS
    for data in MATH_VARIANTS
]
TABLES[MATH_CURVES] = [
    f"<results>/math/seed{seed}/{data}/stage{stage}/curves.parquet"
    for seed in SEEDS
    for data in MATH_VARIANTS
    for stage in range(1, len(STAGES) + 1)
]
TABLES[MATH_ATTENTION] = [
    f"<results>/math/seed{seed}/attention.parquet" for seed in SEEDS
]
TABLES[MATH_DECISION] = [
    f"<results>/math/seed{seed}/decision.parquet" for seed in SEEDS
]
TABLES[VPROBES] = [f"<results>/math/seed{seed}/vprobes.parquet" for seed in SEEDS]
TABLES[MISTAKES] = [f"<results>/math/seed{seed}/mistakes.parquet" for seed in SEEDS]
TABLES[MISTAKE_SCORES] = [
    f"<results>/math/seed{seed}/mistake_scores.parquet" for seed in SEEDS
]
TABLES[DECODING] = [
    f"<results>/math/seed{seed}/decoding/{decoder}.parquet"
    for seed in SEEDS
    for decoder in DECODERS
]
TRAINING["math"] = [
    (
        f"<results>/math/seed{seed}/{data}/stage{stage}/train_log.parquet",
        {"data": data, "stage": stage, "seed": seed},
    )
    for seed in SEEDS
    for data in MATH_VARIANTS
    for stage in range(1, len(STAGES) + 1)
]
MATH_FOOTER = (
    f"iGSM, {config['math']['test']['problems_per_op']} test problems per op, "
    f"{config['math']['probe_problems']} probe problems, "
    f"{sum(stage['steps'] for stage in STAGES)} training steps"
)
FIGURES["math_curves"] = figure(
    plot="physlm.reasoning.plots:plot_math_curves",
    tables={"curves": MATH_CURVES},
    caption="math_curves.rst",
    category="Findings 3 and 4",
    data=MATH_FOOTER,
)
FIGURES["math_accuracy"] = figure(
    plot="physlm.reasoning.plots:plot_accuracy_by_op",
    tables={"accuracy": MATH_ACCURACY},
    caption="math_accuracy.rst",
    category="Findings 3 and 4",
    data=MATH_FOOTER,
)
FIGURES["vprobing"] = figure(
    plot="physlm.reasoning.finding4_planning:plot_vprobes",
    tables={"vprobes": VPROBES},
    caption="vprobing.rst",
    category="Findings 3 and 4",
    data=MATH_FOOTER,
)
FIGURES["math_attention"] = figure(
    plot="physlm.reasoning.finding4_planning:plot_attention",
    tables={"attention": MATH_ATTENTION},
    caption="math_attention.rst",
    category="Findings 3 and 4",
    data=MATH_FOOTER,
)
FIGURES["math_decision"] = figure(
    plot="physlm.reasoning.plots:plot_decision",
    tables={"decision": MATH_DECISION},
    caption="math_decision.rst",
    category="Findings 3 and 4",
    data=MATH_FOOTER,
)
FIGURES["mistake_roc"] = figure(
    plot="physlm.reasoning.finding3_mistakes:plot_mistake_roc",
    tables={"scores": MISTAKE_SCORES, "mistakes": MISTAKES},
    caption="mistake_roc.rst",
    category="Findings 3 and 4",
    data=MATH_FOOTER,
)
FIGURES["decoding"] = figure(
    plot="physlm.reasoning.finding3_mistakes:plot_decoding",
    tables={"decoding": DECODING},
    caption="decoding.rst",
    category="Findings 3 and 4",
    data=MATH_FOOTER,
)
CLAIMS["math"] = claim(
    function="physlm.reasoning.finding4_planning:planning_claim",
    tables={"vprobes": VPROBES, "accuracy": MATH_ACCURACY},
    thresholds="math",
)
CLAIMS["mistakes"] = claim(
    function="physlm.reasoning.finding3_mistakes:mistake_claims",
    tables={"mistakes": MISTAKES, "accuracy": MATH_ACCURACY, "decoding": DECODING},
    thresholds="mistakes",
)
