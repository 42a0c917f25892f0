# Finding 4 (Part 2.1): models plan before speaking. iGSM problems, a model trained on them through a
# curriculum of stages (each continuing the last), its held-out accuracy judged by the checker, and
# V-probes of what it knows before it writes.
# Layout: results/math/data/seed{seed}/ holds each problem set ({set}.parquet, its labels
# {set}.params.parquet); results/math/seed{seed}/stage{stage}/ a model and its training log; the last
# stage's model is evaluated and probed in results/math/seed{seed}/.


wildcard_constraints:
    stage=r"[1-9][0-9]*",
    set=r"stage[1-9][0-9]*|test|probe",


rule math_tokenizer:
    output:
        directory("results/math/tokenizer"),
    log:
        "results/math/logs/tokenizer.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("data")
    resources:
        **cluster_resources("data"),
    params:
        code=code("physlm.data.igsm"),
    shell:
        "physlm igsm-tokenizer --out-dir {output} > {log} 2>&1"


rule math_problems:
    output:
        problems=f"{MATH_DATA}/{{set}}.parquet",
        params=f"{MATH_DATA}/{{set}}.params.parquet",
    log:
        f"{MATH_DATA}/logs/{{set}}.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("data")
    resources:
        **cluster_resources("data"),
    params:
        knobs=lambda wildcards: as_json(math_set(wildcards.set)[0]),
        problems=lambda wildcards: as_json(math_set(wildcards.set)[1]),
        code=code("physlm.data.igsm"),
    shell:
        "physlm problems --knobs-config {params.knobs:q} --problems-config {params.problems:q} "
        "--seed {wildcards.seed} --threads {threads} --out {output.problems} "
        "--params-out {output.params} > {log} 2>&1"


rule math_train:
    input:
        unpack(math_start),
        problems=f"{MATH_DATA}/stage{{stage}}.parquet",
    output:
        model=directory(f"{MATH_RUN}/stage{{stage}}/model"),
        log=f"{MATH_RUN}/stage{{stage}}/train_log.parquet",
    log:
        f"{MATH_RUN}/stage{{stage}}/train.log",
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
        data=lambda wildcards, input: f"--problems {input.problems}",
        options="" if config["math"]["solution_only"] else "--loss-on-all",
        checkpoint=f"{MATH_RUN}/stage{{stage}}/checkpoint.pt",
        code=code("physlm.fit"),
    shell:
        TRAIN


rule math_evaluate:
    input:
        model=LAST_STAGE,
        problems=f"{MATH_DATA}/test.parquet",
    output:
        accuracy=f"{MATH_RUN}/accuracy.parquet",
        solutions=f"{MATH_RUN}/solutions.parquet",
    log:
        f"{MATH_RUN}/evaluate.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("evaluate")
    resources:
        **cluster_resources("evaluate"),
    params:
        train_max_op=STAGES[-1]["max_op"],
        batch_size=config["math"]["evaluate"]["batch_size"],
        identity=identity,
        code=code("physlm.solve"),
    shell:
        "physlm evaluate-math --model-dir {input.model} --problems {input.problems} "
        "--train-max-op {params.train_max_op} --batch-size {params.batch_size} "
        "--threads {threads} --identity {params.identity:q} --out {output.accuracy} "
        "--solutions-out {output.solutions} > {log} 2>&1"


rule math_vprobe:
    input:
        model=LAST_STAGE,
        problems=f"{MATH_DATA}/probe.parquet",
        params=f"{MATH_DATA}/probe.params.parquet",
    output:
        f"{MATH_RUN}/vprobes.parquet",
    log:
        f"{MATH_RUN}/vprobe.log",
    conda:
        "../envs/physlm.yaml"
    threads: threads("evaluate")
    resources:
        **cluster_resources("evaluate"),
    params:
        model=as_json(config["math"]["model"]),
        vprobe=as_json(config["math"]["vprobe"]),
        identity=identity,
        code=code("physlm.vprobe"),
    shell:
        "physlm vprobe --model-dir {input.model} --model-config {params.model:q} "
        "--vprobe-config {params.vprobe:q} --problems {input.problems} --params {input.params} "
        "--seed {wildcards.seed} --threads {threads} --identity {params.identity:q} "
        "--out {output} > {log} 2>&1"


MATH_ACCURACY = "results/math/accuracy.parquet"
VPROBES = "results/math/vprobes.parquet"
TABLES[MATH_ACCURACY] = [f"results/math/seed{seed}/accuracy.parquet" for seed in SEEDS]
TABLES[VPROBES] = [f"results/math/seed{seed}/vprobes.parquet" for seed in SEEDS]
FIGURES["math_accuracy"] = figure(
    plot="physlm.plots.math:plot_accuracy_by_op",
    tables={"accuracy": MATH_ACCURACY},
    caption="math_accuracy.rst",
    category="Finding 4",
)
FIGURES["vprobing"] = figure(
    plot="physlm.plots.math:plot_vprobes",
    tables={"vprobes": VPROBES},
    caption="vprobing.rst",
    category="Finding 4",
)
CLAIMS["math"] = claim(
    function="physlm.claims:planning_claim",
    tables={"vprobes": VPROBES, "accuracy": MATH_ACCURACY},
    thresholds="math",
)
